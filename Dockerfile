# syntax=docker/dockerfile:1.7
#
# framecast's production image: ONE container-image Lambda function serving the three actions
# (plan, renderChunk, assemble) through app.aws.handler.handler.
#
#   make image                                  # picks docker or podman, builds the base if needed
#   docker build -t framecast:local .           # the same, by hand (stage "lambda", the last one)
#   docker build --target rie -t framecast:rie . # + the Runtime Interface Emulator, for docker compose
#
# The base is plain Debian bookworm; the image installs Debian's own python3 into a venv itself. So
# `debian:bookworm-slim` and the base scripts/build-base-image.sh makes with debootstrap where no
# registry answers (BASE_IMAGE=framecast-base:bookworm) give the same image.
#
# Lambda runs the image as an arbitrary non-root user on a read-only filesystem where only /tmp is
# writable. So: everything the function reads is world-readable, Python bytecode is compiled at build
# time, and every directory a library writes to at run time (HOME, XDG dirs, TMPDIR) is under /tmp.
#
# Package traffic behind a TLS-inspecting proxy: pass its CA bundle as the build secret `hostca`
# (`--secret id=hostca,src=/etc/ssl/certs/ca-certificates.crt`, which `make image` does). It is mounted
# for the install steps only and never stored in a layer.
ARG BASE_IMAGE=debian:bookworm-slim

# Shared with Dockerfile.test (tests/unit/test_container_files.py keeps them in step): what CI tests is
# what ships.
FROM ${BASE_IMAGE} AS runtime
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

ENV LAMBDA_TASK_ROOT=/var/task \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PIP_NO_CACHE_DIR=1 \
    VIRTUAL_ENV=/opt/venv \
    FRAMECAST_FFMPEG_PACKED=/opt/framecast/ffmpeg.zst \
    PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
WORKDIR /var/task

# 1. Python (Debian's, in /opt/venv) with pyproject.toml's dependencies, Chrome (headless shell),
#    fonts, the static ffmpeg (zstd-packed, see FRAMECAST_FFMPEG_PACKED) and the HyperFrames page
#    runtime, installed by the one script that installs them everywhere. --image removes what only
#    installing needs (Node/npm, binutils, apt lists, caches, debug symbols) in the same layer. Only
#    the script, the JS lockfile and pyproject.toml are copied first, so this slow layer is rebuilt
#    only when one of them changes. fc-cache builds fontconfig's system cache now, so nothing writes
#    one at run time.
COPY scripts/install-runtime.sh scripts/
COPY app/engine/js/package.json app/engine/js/package-lock.json app/engine/js/
COPY pyproject.toml ./
RUN --mount=type=secret,id=hostca \
    if [ -s /run/secrets/hostca ]; then \
      export SSL_CERT_FILE=/run/secrets/hostca PIP_CERT=/run/secrets/hostca NODE_EXTRA_CA_CERTS=/run/secrets/hostca; \
    fi; \
    bash scripts/install-runtime.sh --image \
 && fc-cache --force

# 2. framecast itself. Installed editable on purpose: the page runtime lives in
#    app/engine/js/node_modules (step 1), which is not package data, and app.engine.runtime finds it
#    next to its own source file; an editable install makes /var/task/app the only copy of the code.
#    The check runs with python -P (no working directory on sys.path), so it proves the installed
#    package, not the current directory, resolves to /var/task/app.
COPY app ./app
COPY scripts ./scripts
COPY --chmod=0755 scripts/lambda-entrypoint.sh /usr/local/bin/lambda-entrypoint.sh
RUN --mount=type=secret,id=hostca \
    if [ -s /run/secrets/hostca ]; then export PIP_CERT=/run/secrets/hostca; fi; \
    pip install --no-cache-dir --no-deps --editable . \
 && rm -rf build framecast.egg-info /root/.cache \
 && find /var/task -path /var/task/app/engine/js/node_modules -prune -o -exec chmod a+rX {} + \
 && python -m compileall -q app \
 && python -P -c "import app, sys; sys.exit(0 if app.__file__.startswith('/var/task/app/') else 'app resolves to ' + app.__file__)"

# Run-time environment: every writable location under /tmp, no bytecode writes (step 2 compiled it).
# fontconfig has no cache-location variable: its system cache was built in step 1 and its per-user
# cache follows XDG_CACHE_HOME. Playwright's driver, Chrome's profile (a temp dir under TMPDIR) and
# anything else that uses HOME land in /tmp too.
ENV HOME=/tmp \
    TMPDIR=/tmp \
    XDG_CACHE_HOME=/tmp/.cache \
    XDG_CONFIG_HOME=/tmp/.config \
    XDG_DATA_HOME=/tmp/.local/share \
    PYTHONDONTWRITEBYTECODE=1

RUN groupadd --gid 10001 framecast \
 && useradd --uid 10001 --gid framecast --home-dir /tmp --no-create-home --shell /usr/sbin/nologin framecast
USER 10001:10001

# 3. Build-time gate: Chrome must support BeginFrame capture with this image's exact binaries, run as
#    the non-root user. The probe exits 0 pass, 1 fail, 2 harness error; anything but 0 fails the
#    build. What it leaves in /tmp is removed so the image ships an empty /tmp.
RUN python scripts/probe_beginframe.py; status=$?; \
    find /tmp -mindepth 1 -user framecast -delete 2>/dev/null; \
    exit $status

EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/lambda-entrypoint.sh"]
CMD ["app.aws.handler.handler"]

# The Lambda Runtime Interface Emulator, for local runs only (docker-compose.yml's workers). No package
# registry ships it, so it comes from its GitHub release; the production stage below never contains it,
# and `make image` never builds this stage. Set RIE_SHA256 to have the download verified; for arm64
# pass --build-arg RIE_URL=<same release>/aws-lambda-rie-arm64.
FROM runtime AS rie
ARG RIE_URL=https://github.com/aws/aws-lambda-runtime-interface-emulator/releases/download/v1.27/aws-lambda-rie
ARG RIE_SHA256=""
# RIE_URL is a URL, which only ADD fetches (hadolint cannot see through the variable).
# hadolint ignore=DL3020
ADD --chmod=0755 ${RIE_URL} /usr/local/bin/aws-lambda-rie
RUN if [ -n "$RIE_SHA256" ]; then \
      echo "$RIE_SHA256  /usr/local/bin/aws-lambda-rie" | sha256sum --check --strict -; \
    else \
      echo "WARNING: RIE_SHA256 is empty; $RIE_URL was not verified" >&2; \
    fi

# The production image: the last stage, so a plain `docker build .` builds it (without the emulator).
FROM runtime AS lambda
