#!/usr/bin/env bash
# Gives the e2e tier a Docker-compatible container socket without a Docker engine: installs podman and runc
# from Debian when missing, configures them for this kind of host, and serves podman's Docker-compatible API
# in the background. Idempotent: a second run finds everything in place and only prints the environment.
#
#   eval "$(bash hack/image/podman-setup.sh)"     # exports DOCKER_HOST and TESTCONTAINERS_RYUK_DISABLED
#   bash hack/image/podman-setup.sh stop          # stops the API service this script started
#
# Needs root (CI runs as root): it installs packages, writes /etc/containers and listens on /run/podman.
# Everything the caller should eval goes to stdout; progress goes to stderr.
set -euo pipefail

SOCKET=${PODMAN_SOCKET:-/run/podman/podman.sock}
STATE_DIR=$(dirname "$SOCKET")
PID_FILE=$STATE_DIR/immutability-e2e-service.pid
LOG_FILE=$STATE_DIR/immutability-e2e-service.log
# A drop-in rather than an edit of containers.conf: it overrides the packaged defaults and any local file
# without having to parse or merge them, and removing it undoes this script.
DROP_IN=/etc/containers/containers.conf.d/50-immutability-e2e.conf

log() { printf '[podman-setup] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

service_pid() {
  local pid
  [ -f "$PID_FILE" ] || return 1
  pid=$(cat "$PID_FILE")
  # Only a pid that is still our `podman system service` counts: pids are reused after a reboot.
  [ -n "$pid" ] && grep -qa 'system' "/proc/$pid/cmdline" 2>/dev/null && printf '%s' "$pid"
}

if [ "${1:-}" = stop ]; then
  if pid=$(service_pid); then
    kill "$pid" && log "stopped podman API service (pid $pid)"
  else
    log "no podman API service started by this script is running"
  fi
  rm -f "$PID_FILE"
  exit 0
fi

[ "$(id -u)" -eq 0 ] || die "run as root: installs packages and serves $SOCKET"

# --- packages --------------------------------------------------------------------------------------------
if ! command -v podman >/dev/null || ! command -v runc >/dev/null; then
  start=$(date +%s)
  log "installing podman and runc (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq podman runc >&2
  log "installed $(podman --version) in $(( $(date +%s) - start ))s"
fi

# --- configuration ---------------------------------------------------------------------------------------
# runc, not crun: crun fails on hosts with a hybrid cgroup v1 layout like this one; cgroupfs because there
# is no systemd to delegate to. Explicit ulimits because the inherited ones are rejected by the runtime.
desired_conf='# Written by hack/image/podman-setup.sh for the e2e tier; delete to undo.
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"'
if [ "$(cat "$DROP_IN" 2>/dev/null)" != "$desired_conf" ]; then
  mkdir -p "$(dirname "$DROP_IN")"
  printf '%s\n' "$desired_conf" >"$DROP_IN"
  log "wrote $DROP_IN"
fi
runtime=$(podman info --format '{{.Host.OCIRuntime.Name}}/{{.Host.CgroupManager}}' 2>/dev/null) ||
  die "podman info failed: $(podman info 2>&1 | tail -3)"
[ "$runtime" = runc/cgroupfs ] ||
  die "podman uses $runtime instead of runc/cgroupfs: does this podman read $DROP_IN?"

# --- API service -----------------------------------------------------------------------------------------
api_up() { podman --remote --url "unix://$SOCKET" version >/dev/null 2>&1; }

if ! api_up; then
  mkdir -p "$STATE_DIR"
  log "starting podman system service on unix://$SOCKET (log: $LOG_FILE)"
  # setsid + nohup: the service must outlive this script and the shell that evals its output.
  setsid nohup podman system service --time=0 "unix://$SOCKET" >"$LOG_FILE" 2>&1 </dev/null &
  echo $! >"$PID_FILE"
  for _ in $(seq 1 100); do
    api_up && break
    sleep 0.1
  done
  api_up || die "podman API did not come up on $SOCKET: $(tail -5 "$LOG_FILE")"
fi
log "podman API ready on unix://$SOCKET"

echo "export DOCKER_HOST=unix://$SOCKET"
# Ryuk (testcontainers' reaper) is an image to pull, and nothing can be pulled here: specs clean up
# their own containers instead.
echo "export TESTCONTAINERS_RYUK_DISABLED=true"
