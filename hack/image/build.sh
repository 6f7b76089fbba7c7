#!/usr/bin/env bash
# Builds the operator image for the e2e tier WITHOUT pulling anything: where no registry is reachable, the
# Dockerfile's `FROM node:...` cannot be resolved, so this script assembles the same runtime layout from
# this machine instead: its `node` binary and exactly the shared libraries that binary links, the compiled
# app (dist/src, crds/, package.json) and the production dependencies only, and imports that root
# filesystem as an image. The Dockerfile stays the production recipe; see docs/e2e.md.
#
#   bash hack/image/build.sh            # IMAGE=immutability-operator:e2e, CONTAINER_CLI=podman (else docker)
#
# Requires a current `dist/` (npm run build). Idempotent: the image carries a hash of its inputs as a label,
# and a rerun with unchanged inputs returns at once.
set -euo pipefail
SELF=$(readlink -f "${BASH_SOURCE[0]}")
cd "$(dirname "$SELF")/../.."

IMAGE=${IMAGE:-immutability-operator:e2e}
CLI=${CONTAINER_CLI:-$(command -v podman || command -v docker || true)}
HASH_LABEL=dev.immutability.e2e.inputs
UID_GID=65532:65532

log() { printf '[image] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[ -n "$CLI" ] || die "neither podman nor docker found (bash hack/image/podman-setup.sh installs podman)"
[ -f dist/src/cli/main.js ] || die "dist/src/cli/main.js missing: run 'npm run build' first"
NODE_BIN=$(readlink -f "$(command -v node)")

# The runtime's shared libraries, as ldd resolves them: "libx.so => /path (0x..)" and the loader "/path (0x..)".
shared_libs() {
  ldd "$NODE_BIN" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u
}

# Production dependencies as npm resolves them in the installed tree (the root package itself excluded).
prod_packages() {
  npm ls --omit=dev --all --parseable 2>/dev/null | sort -u | grep -F "$PWD/node_modules/" || true
}

# --- input hash: everything that ends up in the image, plus this recipe ----------------------------------
start=$(date +%s%N)
inputs_hash=$(
  {
    sha256sum "$NODE_BIN" "$SELF" package.json package-lock.json
    shared_libs | xargs -r readlink -f | xargs -r sha256sum
    find dist/src crds -type f -print0 | sort -z | xargs -0 sha256sum
  } | sha256sum | cut -c1-16
)
current=$("$CLI" image inspect --format "{{ index .Config.Labels \"$HASH_LABEL\" }}" "$IMAGE" 2>/dev/null || true)
if [ "$current" = "$inputs_hash" ]; then
  log "$IMAGE is up to date (inputs $inputs_hash)"
  exit 0
fi

# --- root filesystem -------------------------------------------------------------------------------------
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs
mkdir -p "$rootfs"/{usr/local/bin,app/node_modules,etc,proc,sys,dev}
install -d -m 1777 "$rootfs/tmp"

cp -L "$NODE_BIN" "$rootfs/usr/local/bin/node"
while read -r lib; do
  # Each library (and the loader) at the path the binary asks for, dereferenced: no dangling symlinks.
  mkdir -p "$rootfs$(dirname "$lib")"
  cp -L "$lib" "$rootfs$lib"
done < <(shared_libs)
# No /etc/passwd on purpose: the operator runs as a bare numeric uid. The runtime bind-mounts hosts and
# resolv.conf onto these when the container starts.
: >"$rootfs/etc/hosts"
: >"$rootfs/etc/resolv.conf"

# The app, laid out like the repository (dist/src next to crds/): the CLI finds the CRD schema relative
# to itself, as in the Dockerfile's image.
mkdir -p "$rootfs/app/dist"
cp -a dist/src "$rootfs/app/dist/src"
cp -a crds package.json "$rootfs/app/"
packages=0
while read -r pkg; do
  rel=${pkg#"$PWD/"}
  mkdir -p "$rootfs/app/$rel"
  # The package without its nested node_modules: nested production dependencies are listed on their own,
  # so nothing that only development needs comes along.
  find "$pkg" -mindepth 1 -maxdepth 1 ! -name node_modules -exec cp -a -t "$rootfs/app/$rel/" {} +
  packages=$((packages + 1))
done < <(prod_packages)
[ "$packages" -gt 0 ] || die "npm ls found no production dependencies: is node_modules installed?"
# Source maps and TypeScript declarations are not needed to run.
find "$rootfs/app/node_modules" -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \) -delete
chmod -R a+rX,go-w "$rootfs"
chmod 1777 "$rootfs/tmp"

# --- import ----------------------------------------------------------------------------------------------
previous_id=$("$CLI" image inspect --format '{{ .Id }}' "$IMAGE" 2>/dev/null || true)
# Output captured: the CLI's progress chatter is noise on success and the explanation on failure.
import_log=$work/import.log
tar -C "$rootfs" --numeric-owner --owner=0 --group=0 -c . |
  "$CLI" import \
    --change "USER $UID_GID" \
    --change 'WORKDIR /app' \
    --change 'ENV NODE_ENV=production' \
    --change 'ENV HOME=/tmp' \
    --change "LABEL $HASH_LABEL=$inputs_hash" \
    --change 'ENTRYPOINT ["/usr/local/bin/node","--max-semi-space-size=4","/app/dist/src/cli/main.js"]' \
    --change 'CMD ["run"]' \
    - "$IMAGE" >"$import_log" 2>&1 || die "$CLI import failed: $(cat "$import_log")"
# The replaced image would linger untagged after every change of inputs; one in use stays, harmlessly.
[ -z "$previous_id" ] || "$CLI" rmi "$previous_id" >/dev/null 2>&1 || true
size=$(du -sh "$rootfs" | cut -f1)
log "built $IMAGE ($size, node $("$NODE_BIN" --version), $packages packages, inputs $inputs_hash) in $(( ($(date +%s%N) - start) / 1000000 )) ms"
