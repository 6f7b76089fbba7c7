# immutability-operator — `make help` lists the targets.
SHELL := /usr/bin/env bash
.DEFAULT_GOAL := help

IMG ?= immutability-operator:dev
CLUSTER_DIR ?= $(CURDIR)/.cluster
# Empty means "the local control plane" for run/install/deploy targets.
KUBECONFIG_FLAG = $(if $(KUBECONFIG),--kubeconfig $(KUBECONFIG),--kubeconfig $(CLUSTER_DIR)/kubeconfig)
KUBECTL ?= $(shell command -v kubectl 2>/dev/null || echo $(CLUSTER_DIR)/bin/kubectl)

##@ General
.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} \
		/^[a-zA-Z0-9_-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } \
		/^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development
# npm records the installed tree in node_modules/.package-lock.json: reinstall only when the lockfile changed.
node_modules: node_modules/.package-lock.json
node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund

.PHONY: build
build: node_modules ## Compile TypeScript into dist/.
	npm run -s build

.PHONY: typecheck
typecheck: node_modules ## Type-check without emitting.
	npm run -s typecheck

.PHONY: lint
lint: node_modules ## Lint with type-aware ESLint rules.
	npm run -s lint

.PHONY: generate
generate: node_modules ## Regenerate src/api/generated.ts from the CRD schema (after editing crds/).
	npm run -s generate

.PHONY: test
test: node_modules ## Run all tests: unit, then integration against the local control plane (builds it on first use).
	npm test

.PHONY: test-unit
test-unit: node_modules ## Run the unit tier only (no cluster).
	npm run -s test:unit

.PHONY: test-integration
test-integration: node_modules ## Run the integration tier against a fresh local control plane.
	npm run -s test:integration

.PHONY: test-e2e
test-e2e: node_modules ## Run the e2e tier: the operator image (hack/image/build.sh) in podman/docker against the local control plane.
	npm run -s test:e2e

.PHONY: test-faults
test-faults: node_modules ## Run the fault and bad-input tier: the operator as a process under crashes, stalls, throttling and hostile input (docs/reliability.md).
	npm run -s test:faults

.PHONY: bench
bench: build ## Run every benchmark scenario (bench/, docs/benchmarks.md), each on a fresh local control plane; ARGS=--quick for a laptop subset.
	node dist/bench/run.js $(ARGS)

##@ Local control plane
.PHONY: controlplane
controlplane: ## Build (or reuse cached) kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd, kwok.
	bash hack/controlplane/build.sh

.PHONY: cluster-up
cluster-up: build ## Start the local control plane in the background (reuses a running one); kubeconfig in .cluster/.
	node dist/test/support/controlplane/cli.js up

.PHONY: cluster-down
cluster-down: build ## Stop the local control plane and remove its state.
	node dist/test/support/controlplane/cli.js down

##@ Run
.PHONY: run
run: build ## Run the operator in the foreground (on the local control plane unless KUBECONFIG is set), with the demo policy and nginx examples.
	bash hack/run-local.sh

##@ Deployment
.PHONY: install
install: ## Install the CRD into the current cluster.
	$(KUBECTL) $(KUBECONFIG_FLAG) apply --server-side -k config/crd

.PHONY: uninstall
uninstall: ## Remove the CRD (and every ImmutabilityPolicy) from the current cluster.
	$(KUBECTL) $(KUBECONFIG_FLAG) delete --ignore-not-found -k config/crd

.PHONY: deploy
deploy: ## Deploy CRD, RBAC and the operator (config/default) into the current cluster.
	$(KUBECTL) $(KUBECONFIG_FLAG) apply --server-side -k config/default

.PHONY: undeploy
undeploy: ## Remove what `deploy` created.
	$(KUBECTL) $(KUBECONFIG_FLAG) delete --ignore-not-found -k config/default

.PHONY: docker-build
docker-build: ## Build the operator image with podman or docker (IMG=immutability-operator:dev).
	$$(command -v podman || command -v docker) build -t $(IMG) .
