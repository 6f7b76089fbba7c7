# syntax=docker/dockerfile:1
# immutability-operator image: compiled JavaScript, production dependencies and the CRD, run by `node` as a
# numeric non-root user on a read-only root filesystem. Build with `make docker-build`.

ARG NODE_IMAGE=node:20-bookworm-slim

# --- build: compile TypeScript with the full (dev) dependency set --------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json ./
COPY src/ src/
RUN npm run build

# --- deps: production dependencies only --------------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts \
    && npm cache clean --force

# --- runtime -----------------------------------------------------------------------------------------
FROM ${NODE_IMAGE}
# The operator needs node and nothing else: package managers are removed so that a compromised process
# finds no tool to fetch and install code with.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
        /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /usr/local/bin/yarn /usr/local/bin/yarnpkg \
        /opt/yarn-*
WORKDIR /app
# Layout mirrors the repository (dist/src next to crds/): the CLI finds the CRD schema relative to itself.
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY package.json ./
COPY crds/ ./crds/
# HOME=/tmp: anything that insists on a home directory writes to the /tmp emptyDir, the only writable path.
ENV NODE_ENV=production \
    HOME=/tmp
# Numeric, so that Kubernetes can verify runAsNonRoot without an /etc/passwd entry.
USER 65532:65532
# A small young generation (4 MiB semi-spaces, V8's default is 16) lets V8 hand memory back after bursts such
# as the initial sync of 10k pods: settled RSS ~120 MiB instead of 280 MiB. 2 MiB saved ~3 MiB more but, with
# 64 label writes in flight, promoted their short-lived state to the old generation: garbage collection took
# 23 % of the operator's CPU during a backlog, 14 % with 4 MiB (docs/benchmarks.md, issue 15).
ENTRYPOINT ["node", "--max-semi-space-size=4", "dist/src/cli/main.js"]
CMD ["run"]
