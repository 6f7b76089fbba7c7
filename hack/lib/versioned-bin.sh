# Sourced by the scripts that build Go tools into a cache (hack/controlplane/build.sh, hack/peers/build.sh).
# Expects `bin_dir`, an array `missing` and a `log` function. Each tool carries its version in the file name
# and a symlink gives it its stable name, so that bumping one version rebuilds only that tool.

# versioned NAME VERSION: NAME is missing unless NAME-VERSION is built and NAME points at it.
versioned() { [ -x "$bin_dir/$1-$2" ] && [ "$(readlink "$bin_dir/$1")" = "$1-$2" ] || missing+=("$1"); }
# install_versioned NAME VERSION: moves the freshly built $tmp/NAME into place and points NAME at it.
install_versioned() { mv "$tmp/$1" "$bin_dir/$1-$2"; ln -sfn "$1-$2" "$bin_dir/$1"; }

# exit_if_cached WHAT: prints bin_dir and exits when nothing is missing; otherwise requires go and prepares
# the build (tmp, static binaries, go.mod updated as needed).
exit_if_cached() {
  if [ ${#missing[@]} -eq 0 ]; then
    log "cached: $bin_dir"
    echo "$bin_dir"
    exit 0
  fi
  command -v go >/dev/null || { log "go is required (Go 1.26+) to build $1"; exit 1; }
  mkdir -p "$bin_dir"
  tmp="$bin_dir/.partial"
  mkdir -p "$tmp"
  export CGO_ENABLED=0 GOFLAGS=-mod=mod
}
