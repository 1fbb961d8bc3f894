#!/usr/bin/env bash
# Builds and checks framecast's container images with whichever engine answers (docker, else podman,
# set up from Debian's packages by scripts/container-engine.sh). What `make image`, `make test-image`
# and `make test-shard` run.
#
#   scripts/image.sh build          the production Lambda image (Dockerfile, last stage) as $IMAGE
#   scripts/image.sh test           build, the BeginFrame gate in the container, the size budget, then
#                                   tests/integration/test_lambda_image.py against the container
#   scripts/image.sh shard N        build Dockerfile.test and run test shard N of $SHARDS in it
#
# NO_CACHE=1 builds without the layer cache (scripts/bench_image.py --cold times that).
# BASE_IMAGE: with docker, debian:bookworm-slim from the registry (the Dockerfile's default); with
# podman, where no registry may answer, the same Debian bookworm made locally with debootstrap
# (scripts/build-base-image.sh). HOST_CA: the CA bundle handed to the build as the `hostca` secret
# (package traffic through a TLS-inspecting proxy); it is never stored in a layer.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE="${IMAGE:-framecast:local}"
TEST_IMAGE="${TEST_IMAGE:-framecast-test:local}"
SHARDS="${SHARDS:-4}"
MAX_IMAGE_MB="${MAX_IMAGE_MB:-900}"
HOST_CA="${HOST_CA:-/etc/ssl/certs/ca-certificates.crt}"
PYTHON="${PYTHON:-python3}"

log() { printf '[image] %s\n' "$*" >&2; }

engine="$(bash scripts/container-engine.sh)"
build_args=()
if [ "$engine" = podman ]; then
  # --format docker keeps SHELL; host networking lets apt, pip and npm inside the build reach the registries.
  build_args+=(--format docker --network host)
  if [ -z "${BASE_IMAGE:-}" ]; then
    bash scripts/build-base-image.sh podman framecast-base:bookworm
    BASE_IMAGE=localhost/framecast-base:bookworm
  fi
fi
[ -n "${BASE_IMAGE:-}" ] && build_args+=(--build-arg "BASE_IMAGE=$BASE_IMAGE")
[ -s "$HOST_CA" ] && build_args+=(--secret "id=hostca,src=$HOST_CA")

build() {  # build FILE TAG
  local started=$SECONDS
  log "$engine build -f $1 -t $2 (base ${BASE_IMAGE:-default})"
  "$engine" build "${build_args[@]}" ${NO_CACHE:+--no-cache} -f "$1" -t "$2" .
  log "built $2 in $((SECONDS - started)) s"
}

size_mb() { "$engine" image inspect --format '{{.Size}}' "$1" | awk '{printf "%d", $1 / 1000000}'; }

case "${1:-}" in
  build)
    build Dockerfile "$IMAGE"
    log "$IMAGE: $(size_mb "$IMAGE") MB"
    ;;
  test)
    build Dockerfile "$IMAGE"
    size="$(size_mb "$IMAGE")"
    log "layers of $IMAGE (non-empty, newest first):"
    "$engine" history --format '{{.Size}}\t{{.CreatedBy}}' "$IMAGE" | grep -v '^0 B' | cut -c1-160 >&2
    [ "$size" -le "$MAX_IMAGE_MB" ] || { log "ERROR: $IMAGE is $size MB, over the $MAX_IMAGE_MB MB budget"; exit 1; }
    log "$IMAGE: $size MB (budget $MAX_IMAGE_MB MB)"
    log "BeginFrame gate inside the container (read-only, non-root)"
    "$engine" run --rm --read-only --tmpfs /tmp:exec,mode=1777 --entrypoint python "$IMAGE" scripts/probe_beginframe.py
    FRAMECAST_TEST_ENGINE="$engine" FRAMECAST_TEST_IMAGE="$IMAGE" \
      "$PYTHON" -m pytest -q -s -rs -p no:cacheprovider -n 0 tests/integration/test_lambda_image.py
    ;;
  shard)
    shard="${2:?usage: image.sh shard N}"
    build Dockerfile.test "$TEST_IMAGE"
    "$engine" run --rm --network host -e "SHARD=$shard" -e "SHARDS=$SHARDS" "$TEST_IMAGE"
    ;;
  *)
    echo "usage: scripts/image.sh build | test | shard N" >&2
    exit 2
    ;;
esac
