#!/usr/bin/env bash
# Builds the local control plane's binaries (kube-apiserver, kube-controller-manager, kube-scheduler,
# kubectl, etcd, kwok) and the tools tests and users drive it with (helm; kstatus, hack/controlplane/kstatus;
# promql, hack/controlplane/promql)
# from Go modules into a cache outside the work tree, keyed by their versions, so later runs and CI on the
# same machine skip the build. Prints the directory that holds the binaries.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KUBE_VERSION="$(awk '$1=="require" && $2=="k8s.io/kubernetes" {print $3}' "$here/kubernetes/go.mod")"
ETCD_VERSION="$(awk '$1=="require" && $2=="go.etcd.io/etcd/server/v3" {print $3}' "$here/etcd/go.mod")"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
cache_root="${IMMUTABILITY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/immutability-operator}"
bin_dir="$cache_root/controlplane-k8s-${KUBE_VERSION}-etcd-${ETCD_VERSION}-kwok-${KWOK_VERSION}"

log() { printf '[controlplane-build] %s\n' "$*" >&2; }

# kstatus is the project's own wrapper: its sources are its version.
KSTATUS_VERSION="$(cat "$here"/kstatus/{go.mod,go.sum,main.go} | sha256sum | cut -c1-12)"
PROMQL_VERSION="$(cat "$here"/promql/{go.mod,go.sum,main.go} | sha256sum | cut -c1-12)"

need=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok)
missing=()
for b in "${need[@]}"; do [ -x "$bin_dir/$b" ] || missing+=("$b"); done
# Tools outside the control plane carry their version in the file name (hack/lib/versioned-bin.sh).
# shellcheck source=../lib/versioned-bin.sh
source "$here/../lib/versioned-bin.sh"
versioned helm "$HELM_VERSION"
versioned kstatus "$KSTATUS_VERSION"
versioned promql "$PROMQL_VERSION"
exit_if_cached "the control plane"

build_kube() {
  local name="$1" major minor
  major="${KUBE_VERSION#v}"; major="${major%%.*}"
  minor="$(echo "$KUBE_VERSION" | cut -d. -f2)"
  local vpkgs=(k8s.io/component-base/version k8s.io/client-go/pkg/version)
  local ldflags="-s -w"
  for p in "${vpkgs[@]}"; do
    ldflags+=" -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=$major -X $p.gitMinor=$minor"
    ldflags+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  log "building $name $KUBE_VERSION"
  (cd "$here/kubernetes" && go build -trimpath -ldflags "$ldflags" -o "$tmp/$name" "k8s.io/kubernetes/cmd/$name")
  mv "$tmp/$name" "$bin_dir/$name"
}

start=$(date +%s)
for b in "${missing[@]}"; do
  case "$b" in
    etcd)
      log "building etcd $ETCD_VERSION"
      (cd "$here/etcd" && go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" .)
      mv "$tmp/etcd" "$bin_dir/etcd" ;;
    kwok)
      log "building kwok $KWOK_VERSION"
      GOBIN="$tmp" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
      mv "$tmp/kwok" "$bin_dir/kwok" ;;
    kstatus)
      log "building kstatus (sigs.k8s.io/cli-utils $(awk '$1=="sigs.k8s.io/cli-utils" {print $2}' "$here/kstatus/go.mod"))"
      (cd "$here/kstatus" && go build -trimpath -ldflags "-s -w" -o "$tmp/kstatus" .)
      install_versioned kstatus "$KSTATUS_VERSION" ;;
    promql)
      log "building promql (github.com/prometheus/prometheus $(awk '$1=="require" && $2=="github.com/prometheus/prometheus" {print $3}' "$here/promql/go.mod"))"
      (cd "$here/promql" && go build -trimpath -ldflags "-s -w" -o "$tmp/promql" .)
      install_versioned promql "$PROMQL_VERSION" ;;
    helm)
      # helm's go.mod has no replace lines, so `go install` builds it; without the ldflag it reports v3.22.
      log "building helm $HELM_VERSION"
      GOBIN="$tmp" go install -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
        "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
      install_versioned helm "$HELM_VERSION" ;;
    *) build_kube "$b" ;;
  esac
done
rmdir "$tmp" 2>/dev/null || true
log "built ${missing[*]} in $(( $(date +%s) - start ))s into $bin_dir"
echo "$bin_dir"
