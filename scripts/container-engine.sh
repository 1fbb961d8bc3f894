#!/usr/bin/env bash
# The one place that finds (and on Debian, sets up) a container engine for `make image` and friends.
# Prints the engine command (docker or podman) on stdout; everything else goes to stderr.
#
#   scripts/container-engine.sh            docker if its daemon answers, else podman (installed and
#                                           configured from Debian's packages when missing)
#   scripts/container-engine.sh --check    the same, but never installs: exit 1 when no engine answers
#
# Podman on these machines (no systemd, a sandbox that cannot raise rlimits past nofile 20000, crun
# failing on hybrid cgroups) needs runc, cgroupfs, file events and explicit ulimits; vfs storage is
# unusably slow, so overlay. FRAMECAST_ENGINE=docker|podman forces a choice.
set -euo pipefail

log() { printf '[container-engine] %s\n' "$*" >&2; }
die() { printf '[container-engine] ERROR: %s\n' "$*" >&2; exit 1; }

answers() { "$1" info >/dev/null 2>&1; }

configure_podman() {
  mkdir -p /etc/containers
  if ! grep -qs 'framecast' /etc/containers/containers.conf; then
    cat > /etc/containers/containers.conf <<'EOF'
# written by framecast scripts/container-engine.sh
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
  fi
  if ! grep -qs 'framecast' /etc/containers/storage.conf; then
    cat > /etc/containers/storage.conf <<'EOF'
# written by framecast scripts/container-engine.sh
[storage]
driver = "overlay"
runroot = "/run/containers/storage"
graphroot = "/var/lib/containers/storage"
EOF
  fi
}

install_podman() {
  [ "$(id -u)" = 0 ] || die "no container engine answers and installing podman needs root"
  command -v apt-get >/dev/null 2>&1 || die "no container engine answers; install docker or podman"
  log "installing podman, buildah, runc and debootstrap from Debian's packages"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    podman buildah runc debootstrap fuse-overlayfs uidmap >/dev/null
}

main() {
  local want="${FRAMECAST_ENGINE:-}"
  if [ -z "$want" ] || [ "$want" = docker ]; then
    if command -v docker >/dev/null 2>&1 && answers docker; then echo docker; return; fi
    [ "$want" = docker ] && die "FRAMECAST_ENGINE=docker but no Docker daemon answers"
  fi
  if ! command -v podman >/dev/null 2>&1 || ! command -v runc >/dev/null 2>&1; then
    [ "${1:-}" = --check ] && die "no container engine: neither a Docker daemon nor podman"
    install_podman
  fi
  [ "${1:-}" = --check ] || configure_podman
  answers podman || die "podman is installed but 'podman info' fails; see /etc/containers/*.conf"
  echo podman
}

main "$@"
