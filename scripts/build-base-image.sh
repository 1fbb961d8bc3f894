#!/usr/bin/env bash
# Builds the image's base, Debian bookworm (minbase), from Debian's packages alone, for machines where
# no registry can be reached: the same bits `debian:bookworm-slim` is made of. The Dockerfile installs
# Python and everything else on top of it itself, so the image is the same whichever base it starts from.
#
#   scripts/build-base-image.sh ENGINE [TAG]     default TAG framecast-base:bookworm
#
# Skips the work when TAG exists already. Needs root and debootstrap (scripts/container-engine.sh
# installs it with podman).
set -euo pipefail

engine="${1:?usage: build-base-image.sh ENGINE [TAG]}"
tag="${2:-framecast-base:bookworm}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
security="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"

log() { printf '[build-base-image] %s\n' "$*" >&2; }

if "$engine" image exists "$tag" 2>/dev/null || "$engine" image inspect "$tag" >/dev/null 2>&1; then
  log "$tag already exists"
  exit 0
fi
command -v debootstrap >/dev/null 2>&1 || { log "ERROR: debootstrap is missing (apt-get install debootstrap)"; exit 1; }

rootfs="$(mktemp -d /var/tmp/framecast-base-XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT
log "debootstrap bookworm into $rootfs"
debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >/dev/null
cat > "$rootfs/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security bookworm-security main
EOF
# What debian:bookworm-slim also drops: apt lists and caches.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
log "importing as $tag"
tar -C "$rootfs" -c . | "$engine" import --change 'CMD ["bash"]' - "$tag" >/dev/null
log "done: $tag"
