#!/usr/bin/env bash
# The ONE place that installs framecast's runtime: Chrome (headless shell), fonts, the static ffmpeg and
# the HyperFrames page runtime. Used by the Makefile, both Dockerfiles and CI, so what CI tests is what
# ships. Idempotent: a second run changes nothing and takes a few seconds.
#
#   scripts/install-runtime.sh            install everything
#   scripts/install-runtime.sh --check    only report what is installed (exit 1 if something is missing)
#   scripts/install-runtime.sh --image [EXTRA...]
#                                         inside an image build: also install Debian's python3 in a venv
#                                         (FRAMECAST_VENV, default /opt/venv) and pyproject.toml's
#                                         dependencies (plus the named extras, e.g. dev) into it, then
#                                         remove what only installing needed (Node/npm, apt lists,
#                                         caches, debug symbols). One step, because removing packages
#                                         with dpkg --force-depends leaves apt unable to install more.
#
# FRAMECAST_FFMPEG_PACKED (set by the Dockerfiles): with --image, ffmpeg is stored zstd-packed at that
# path instead (app/engine/ffmpeg.py unpacks it into TMPDIR once per container).
set -euo pipefail

# Pins: the exact versions framecast is tested with. Plans record the versions they were made with and
# chunk workers refuse a mismatch, so change these together with a full test run.
CHROME_PACKAGE=chromium-headless-shell
CHROME_VERSION="156.0.8078.114-1~deb12u1"
CHROME_MAJOR_GLOB="15[0-9].*"          # accepted fallback when the pinned build has left the archive
IMAGEIO_FFMPEG_VERSION="0.8.1"         # ships a static ffmpeg 9.x (libx264, libx265, vp9, prores, opus)
FONT_PACKAGES=(fonts-dejavu-core fonts-liberation2 fonts-noto-color-emoji fontconfig)
NODE_PACKAGES=(nodejs npm)
# Playwright drives Chrome through its bundled Node driver, which links libatomic.so.1 (absent from slim
# Debian bases; present on full installs as a dependency of other packages).
DRIVER_PACKAGES=(libatomic1)
# Image builds only: zstd unpacks the packed ffmpeg at run time; binutils' strip is used and removed.
IMAGE_PACKAGES=(zstd)
BUILD_ONLY_PACKAGES=(binutils)
# What the page loads from node_modules (app/engine/runtime.py); the rest of @hyperframes/core's
# dependency tree is its compiler's, which framecast never runs.
SERVED_NODE_PACKAGES=("@hyperframes/core" gsap)

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JS_DIR="$ROOT_DIR/app/engine/js"
RUNTIME_FILE="$JS_DIR/node_modules/@hyperframes/core/dist/hyperframe.runtime.iife.js"
GSAP_FILE="$JS_DIR/node_modules/gsap/dist/gsap.min.js"
PYTHON="${PYTHON:-python3}"
CHECK_ONLY=0
IMAGE_MODE=0
EXTRAS=()
case "${1:-}" in
  --check) CHECK_ONLY=1 ;;
  --image) IMAGE_MODE=1; EXTRAS=("${@:2}") ;;
  "") ;;
  *) echo "usage: install-runtime.sh [--check | --image [EXTRA...]]" >&2; exit 2 ;;
esac
VENV="${FRAMECAST_VENV:-/opt/venv}"
NODE_INSTALLED_HERE=0

log() { printf '[install-runtime] %s\n' "$*"; }
warn() { printf '\n[install-runtime] WARNING: %s\n\n' "$*" >&2; }
die() { printf '[install-runtime] ERROR: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root to run: $* (run this script as root or install sudo)"
  fi
}

APT_UPDATED=0
apt_install() {
  if [ $APT_UPDATED = 0 ]; then
    as_root apt-get update -qq
    APT_UPDATED=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

installed_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || true; }

missing_debs() {
  local pkg
  for pkg in "$@"; do
    [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" = "install ok installed" ] || echo "$pkg"
  done
}

install_chrome() {
  local have
  have="$(installed_version "$CHROME_PACKAGE")"
  if [ "$have" = "$CHROME_VERSION" ]; then
    log "chrome: $CHROME_PACKAGE $have (pinned) already installed"
    return
  fi
  if [ $CHECK_ONLY = 1 ]; then
    echo "chrome: want $CHROME_PACKAGE $CHROME_VERSION, have '${have:-none}'"
    return 1
  fi
  if apt_install "$CHROME_PACKAGE=$CHROME_VERSION" ca-certificates 2>/dev/null; then
    log "chrome: installed $CHROME_PACKAGE $CHROME_VERSION"
    return
  fi
  # Debian's security archive keeps only the newest build: fall back loudly; the BeginFrame probe is
  # the guard and every plan records the Chrome version it was made with.
  local candidate
  candidate="$(apt-cache madison "$CHROME_PACKAGE" | awk '{print $3}' | grep -E "^${CHROME_MAJOR_GLOB}" | head -n1 || true)"
  [ -n "$candidate" ] || die "no $CHROME_PACKAGE 15x build in the apt archive (wanted $CHROME_VERSION)"
  warn "pinned $CHROME_PACKAGE $CHROME_VERSION is no longer in the archive; installing $candidate instead. Re-run the suite and update CHROME_VERSION in scripts/install-runtime.sh."
  apt_install "$CHROME_PACKAGE=$candidate" ca-certificates
}

install_debs() {
  local what="$1"; shift
  local missing
  missing="$(missing_debs "$@")"
  if [ -z "$missing" ]; then
    log "$what: already installed"
    return
  fi
  if [ $CHECK_ONLY = 1 ]; then
    echo "$what: missing $(echo "$missing" | tr '\n' ' ')"
    return 1
  fi
  # shellcheck disable=SC2086
  apt_install $missing
  log "$what: installed $(echo "$missing" | tr '\n' ' ')"
}

install_ffmpeg() {
  local have
  have="$("$PYTHON" -c 'import importlib.metadata as m; print(m.version("imageio-ffmpeg"))' 2>/dev/null || true)"
  if [ "$have" != "$IMAGEIO_FFMPEG_VERSION" ]; then
    if [ $CHECK_ONLY = 1 ]; then
      echo "ffmpeg: want imageio-ffmpeg $IMAGEIO_FFMPEG_VERSION, have '${have:-none}'"
      return 1
    fi
    "$PYTHON" -m pip install --quiet --disable-pip-version-check "imageio-ffmpeg==$IMAGEIO_FFMPEG_VERSION"
  fi
  local exe
  exe="$("$PYTHON" -c 'import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())')"
  chmod a+rx "$exe" 2>/dev/null || true
  log "ffmpeg: $("$exe" -hide_banner -version | head -n1) ($exe)"
}

install_page_runtime() {
  if [ -f "$RUNTIME_FILE" ] && [ -f "$GSAP_FILE" ] && \
     cmp -s "$JS_DIR/package-lock.json" "$JS_DIR/node_modules/.package-lock.json" 2>/dev/null; then
    log "page runtime: $(basename "$RUNTIME_FILE") already installed"
    return
  fi
  if [ $CHECK_ONLY = 1 ]; then
    echo "page runtime: missing $RUNTIME_FILE"
    return 1
  fi
  if ! command -v npm >/dev/null 2>&1; then
    install_debs "node" "${NODE_PACKAGES[@]}"
    NODE_INSTALLED_HERE=1
  fi
  # npm ci installs exactly the committed lockfile; --ignore-scripts: we only need the shipped files.
  (cd "$JS_DIR" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  # npm ci leaves node_modules/.package-lock.json as its own record; compare with the committed lock.
  cp "$JS_DIR/package-lock.json" "$JS_DIR/node_modules/.package-lock.json"
  [ -f "$RUNTIME_FILE" ] || die "npm ci finished but $RUNTIME_FILE is missing"
  log "page runtime: installed $(cd "$JS_DIR" && node -p 'require("./node_modules/@hyperframes/core/package.json").version' 2>/dev/null || echo '?')"
}

# The image's Python is Debian's own (bookworm: 3.11.2), so the base can be rebuilt from Debian's
# packages alone; a venv keeps pip away from the system's packages.
install_python_venv() {
  install_debs "python" python3 python3-venv
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  PYTHON="$VENV/bin/python"
  log "python: $("$PYTHON" --version) in $VENV"
}

# The static ffmpeg is 165 MB of the image; zstd packs it to a third and unpacks it in 0.3 s.
pack_ffmpeg() {
  local packed="${FRAMECAST_FFMPEG_PACKED:-}"
  [ -n "$packed" ] || return 0
  local exe
  exe="$("$PYTHON" -c 'import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())')"
  mkdir -p "$(dirname "$packed")"
  zstd -q -19 -T0 -f "$exe" -o "$packed"
  rm -f "$exe"
  chmod a+r "$packed"
  log "ffmpeg: packed into $packed ($(du -m "$packed" | cut -f1) MB)"
}

# Wheels ship their native code with debug symbols (PyAV's modules: 32 MB, 7 stripped; Playwright's
# Node: 150 MB, 117 stripped); nothing reads them at run time.
strip_venv() {
  install_debs "strip" "${BUILD_ONLY_PACKAGES[@]}"
  # Only files that carry debug sections, and never the auditwheel-vendored libraries in *.libs/:
  # strip rewrites the layout of a file patchelf has edited, and some then fail to load.
  local file count=0
  while IFS= read -r -d '' file; do
    if readelf -S "$file" 2>/dev/null | grep -q '\.debug_info'; then
      strip --strip-unneeded "$file"
      count=$((count + 1))
    fi
  done < <(find "$VENV" -type f -not -path '*.libs/*' \
             \( -name '*.so' -o -name '*.so.*' -o -path '*/playwright/driver/node' \) -print0)
  as_root env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq --auto-remove "${BUILD_ONLY_PACKAGES[@]}" >/dev/null
  log "python: debug symbols stripped from $count files ($(du -sm "$VENV" | cut -f1) MB in $VENV)"
}

# framecast's own dependencies, read from pyproject.toml (the package itself is installed later, so
# code edits do not rebuild this layer).
install_python_deps() {
  local requirements=/tmp/framecast-requirements.txt
  "$PYTHON" - "$ROOT_DIR/pyproject.toml" "${EXTRAS[@]}" > "$requirements" <<'PY'
import sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
print("\n".join(project["dependencies"] + [d for extra in sys.argv[2:] for d in project["optional-dependencies"][extra]]))
PY
  "$PYTHON" -m pip install --no-cache-dir -r "$requirements"
  rm -f "$requirements"
  log "python: installed pyproject.toml's dependencies${EXTRAS[*]:+ and extras: ${EXTRAS[*]}}"
}

# Only the files the page loads stay in node_modules.
prune_node_modules() {
  local keep=" ${SERVED_NODE_PACKAGES[*]} " entry name
  for entry in "$JS_DIR"/node_modules/* "$JS_DIR"/node_modules/@*/*; do
    [ -e "$entry" ] || continue
    name="${entry#"$JS_DIR"/node_modules/}"
    case "$name" in @*/*) ;; @*) continue ;; esac
    [[ "$keep" == *" $name "* ]] || rm -rf "$entry"
  done
  find "$JS_DIR/node_modules" -mindepth 1 -maxdepth 1 -name '@*' -empty -delete
  find "$JS_DIR/node_modules" -name '*.map' -delete
  rm -rf "$JS_DIR/node_modules/.bin"
  log "image: node_modules pruned to ${SERVED_NODE_PACKAGES[*]} ($(du -sm "$JS_DIR/node_modules" | cut -f1) MB)"
}

# Node and npm only unpack the page runtime (npm ci); nothing runs them at render time.
prune_for_image() {
  strip_venv
  pack_ffmpeg
  prune_node_modules
  if [ $NODE_INSTALLED_HERE = 1 ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq --auto-remove "${NODE_PACKAGES[@]}" >/dev/null
    log "image: removed ${NODE_PACKAGES[*]} (install-time only)"
  fi
  # Chrome renders with its own SwiftShader (--use-angle=swiftshader); Mesa's DRI drivers and the LLVM
  # they pull in (through libgl1 -> libglx-mesa0) are never loaded, and the Vulkan validation layer is
  # for debugging Chrome itself. They are most of the image's fat; the BeginFrame gate that runs after
  # this proves Chrome still captures without them.
  as_root dpkg --purge --force-depends libgl1-mesa-dri libllvm15 libz3-4 >/dev/null 2>&1 || true
  rm -f /usr/lib/chromium/libVkLayer_khronos_validation.so
  # Left behind by the Node purge with nothing depending on them (ICU alone is 36 MB); dpkg without
  # --force refuses if something does, and then they stay. xkb-data is keyboard layouts, which a
  # headless shell driven over CDP never loads.
  as_root dpkg --purge libxml2 libicu72 >/dev/null 2>&1 || true
  as_root dpkg --purge --force-depends xkb-data >/dev/null 2>&1 || true
  as_root apt-get clean
  rm -rf /var/lib/apt/lists/* /root/.npm /root/.cache "$JS_DIR/node_modules/.cache" \
    /usr/share/doc/* /usr/share/man/* /usr/share/info/* /usr/share/locale/*
}

main() {
  local failed=0
  if [ $IMAGE_MODE = 1 ]; then
    install_python_venv
    install_debs "image tools" "${IMAGE_PACKAGES[@]}"
  fi
  install_chrome || failed=1
  install_debs "fonts" "${FONT_PACKAGES[@]}" || failed=1
  install_debs "playwright driver" "${DRIVER_PACKAGES[@]}" || failed=1
  install_ffmpeg || failed=1
  install_page_runtime || failed=1
  if [ $IMAGE_MODE = 1 ] && [ $failed = 0 ]; then
    install_python_deps
  fi
  if [ $CHECK_ONLY = 1 ] && [ $failed = 1 ]; then
    exit 1
  fi
  if [ $IMAGE_MODE = 1 ]; then
    [ $failed = 0 ] || die "install failed"
    prune_for_image
  fi
  log "done"
}

main
