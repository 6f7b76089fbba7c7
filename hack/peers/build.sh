#!/usr/bin/env bash
# Builds the peers the `check` benchmark (bench/check-peers.ts) compares against — kube-score and the Kyverno
# CLI — from their Go modules into the same cache as the control plane (hack/controlplane/build.sh), keyed by
# version, so that later runs skip the build. Not part of CI: only `make bench` calls it. Prints the directory
# that holds the binaries. The Kyverno build compiles a large module graph: minutes on two cores, cold.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KUBE_SCORE_VERSION="${KUBE_SCORE_VERSION:-v1.20.0}"
KYVERNO_VERSION="$(awk '$1=="require" && $2=="github.com/kyverno/kyverno" {print $3}' "$here/kyverno/go.mod")"
# The wrapper's sources are part of its version: a changed replace line or main.go rebuilds it.
KYVERNO_KEY="${KYVERNO_VERSION}-$(cat "$here"/kyverno/{go.mod,go.sum,main.go} | sha256sum | cut -c1-12)"
cache_root="${IMMUTABILITY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/immutability-operator}"
bin_dir="$cache_root/peers"

log() { printf '[peers-build] %s\n' "$*" >&2; }

missing=()
# shellcheck source=../lib/versioned-bin.sh
source "$here/../lib/versioned-bin.sh"
versioned kube-score "$KUBE_SCORE_VERSION"
versioned kyverno "$KYVERNO_KEY"
exit_if_cached "the benchmark's peers"

start=$(date +%s)
for b in "${missing[@]}"; do
  case "$b" in
    kube-score)
      # kube-score's go.mod has no replace lines, so `go install` builds it; the ldflag is what its release sets.
      log "building kube-score $KUBE_SCORE_VERSION"
      GOBIN="$tmp" go install -trimpath -ldflags "-s -w -X main.version=${KUBE_SCORE_VERSION#v}" \
        "github.com/zegl/kube-score/cmd/kube-score@$KUBE_SCORE_VERSION"
      install_versioned kube-score "$KUBE_SCORE_VERSION" ;;
    kyverno)
      # Kyverno's go.mod carries a replace line, which `go install pkg@version` refuses; the wrapper module
      # (hack/peers/kyverno) repeats it. The ldflag is what Kyverno's release build sets for `kyverno version`.
      log "building the Kyverno CLI $KYVERNO_VERSION"
      (cd "$here/kyverno" && go build -trimpath \
        -ldflags "-s -w -X github.com/kyverno/kyverno/pkg/version.BuildVersion=$KYVERNO_VERSION" -o "$tmp/kyverno" .)
      install_versioned kyverno "$KYVERNO_KEY" ;;
  esac
done
rmdir "$tmp" 2>/dev/null || true
log "built ${missing[*]} in $(( $(date +%s) - start ))s into $bin_dir"
echo "$bin_dir"
