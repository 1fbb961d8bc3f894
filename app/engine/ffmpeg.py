"""The ffmpeg adapter: which binary, its version, and running it with failures translated.

The binary is the static build shipped in the pinned ``imageio-ffmpeg`` wheel (installed by
scripts/install-runtime.sh) unless ``FRAMECAST_FFMPEG`` names another one. In the Lambda image that
binary ships zstd-packed (``FRAMECAST_FFMPEG_PACKED``, a third of its 165 MB) and is unpacked once per
container into TMPDIR, the one writable place there. Every ffmpeg exit is translated here into an
:class:`~app.errors.EncodeError` carrying the tail of stderr.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

from app.errors import EncodeError, RuntimeMissingError

STDERR_TAIL_LINES = 12
PACKED_ENV = "FRAMECAST_FFMPEG_PACKED"
# Where the Dockerfiles pack it (their FRAMECAST_FFMPEG_PACKED): found even by a process whose
# environment was trimmed, e.g. a test harness that drops FRAMECAST_* variables.
IMAGE_PACKED_FFMPEG = Path("/opt/framecast/ffmpeg.zst")
UNPACK_TIMEOUT_S = 60
_unpack_lock = threading.Lock()


def ffmpeg_exe() -> str:
    """The ffmpeg to run: FRAMECAST_FFMPEG, else the packed one (unpacked on demand), else the wheel's.

    Not cached for the packed binary: its unpacked copy lives in a temp folder that a run's cleanup may
    remove, so each call checks it is still there (a stat) and unpacks it again if not.
    """
    override = os.environ.get("FRAMECAST_FFMPEG")
    if override:
        if not Path(override).is_file():
            raise RuntimeMissingError(f"FRAMECAST_FFMPEG={override} does not exist; unset it or fix the path")
        return override
    packed = packed_ffmpeg()
    if packed is not None:
        return str(unpacked_ffmpeg(packed))
    return _wheel_ffmpeg()


@functools.cache
def _wheel_ffmpeg() -> str:
    try:
        import imageio_ffmpeg
    except ImportError as exc:
        raise RuntimeMissingError(
            "imageio-ffmpeg is not installed; run scripts/install-runtime.sh (or `make install`)"
        ) from exc
    return str(imageio_ffmpeg.get_ffmpeg_exe())


def packed_ffmpeg() -> Path | None:
    """The zstd-packed ffmpeg to use, if any: FRAMECAST_FFMPEG_PACKED, else the image's."""
    named = os.environ.get(PACKED_ENV)
    if named:
        return Path(named)
    return IMAGE_PACKED_FFMPEG if IMAGE_PACKED_FFMPEG.is_file() else None


def unpacked_ffmpeg(packed: Path, into: Path | None = None) -> Path:
    """The executable unpacked from ``packed`` (a .zst file), unpacking it on the first call.

    The target's name carries the packed file's size and mtime, so a new image never runs an old
    binary left in a reused /tmp; it has no ``-<pid>-`` part, so the stale-temp sweep
    (app.engine.scratch) never takes it for a dead run's folder. It is written beside its final name
    and renamed into place, so a crash or a full disk leaves no half-written ffmpeg behind, and
    concurrent unpackers (threads or processes) at worst both write identical files.
    """
    try:
        stat = packed.stat()
    except OSError as exc:
        raise RuntimeMissingError(
            f"{PACKED_ENV}={packed} cannot be read ({exc.strerror}); unset it or fix the path"
        ) from exc
    target = (into or Path(tempfile.gettempdir())) / f"framecast-ffmpeg.{stat.st_size}.{stat.st_mtime_ns}" / "ffmpeg"
    with _unpack_lock:
        if target.is_file():
            return target
        zstd = shutil.which("zstd")
        if zstd is None:
            raise RuntimeMissingError(f"{packed} needs the zstd command to unpack; install Debian's zstd package")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".ffmpeg-{os.getpid()}-{threading.get_ident()}")
        try:
            proc = subprocess.run(
                [zstd, "-q", "-d", "-f", str(packed), "-o", str(partial)],
                capture_output=True,
                timeout=UNPACK_TIMEOUT_S,
                check=False,
            )
            if proc.returncode != 0:
                raise RuntimeMissingError(
                    f"could not unpack ffmpeg from {packed} into {target.parent} (zstd exit {proc.returncode}: "
                    f"{stderr_tail(proc.stderr, 2)}); check the free space in TMPDIR and rebuild the image if "
                    "the file is damaged"
                )
            partial.chmod(0o755)
            os.replace(partial, target)
        except subprocess.TimeoutExpired as exc:
            raise RuntimeMissingError(f"unpacking ffmpeg from {packed} took over {UNPACK_TIMEOUT_S} s") from exc
        finally:
            partial.unlink(missing_ok=True)
    return target


def prepare_ffmpeg_in_background() -> None:
    """Start unpacking a packed ffmpeg now (a Lambda container's init), off the first render's path.

    Failures are not reported here: the first real use calls ``ffmpeg_exe()`` again and raises them.
    """
    if packed_ffmpeg() is not None and not os.environ.get("FRAMECAST_FFMPEG"):
        threading.Thread(target=_prepare_quietly, name="unpack-ffmpeg", daemon=True).start()


def _prepare_quietly() -> None:
    with contextlib.suppress(Exception):
        ffmpeg_exe()


@functools.cache
def ffmpeg_version() -> str:
    """The version token of the ffmpeg binary, e.g. ``n9.0.2-17-g2a571b6068-20260930``."""
    out = subprocess.run([ffmpeg_exe(), "-hide_banner", "-version"], capture_output=True, text=True, check=False)
    match = re.search(r"ffmpeg version (\S+)", out.stdout)
    if out.returncode != 0 or not match:
        raise RuntimeMissingError(f"{ffmpeg_exe()} -version failed: {out.stderr.strip()[-400:]}")
    return match.group(1)


def stderr_tail(stderr: str | bytes, lines: int = STDERR_TAIL_LINES) -> str:
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    return "\n".join(text.strip().splitlines()[-lines:])


def run_ffmpeg(args: Sequence[str | Path], *, what: str, timeout: float | None = 600) -> None:
    """Run ``ffmpeg <args>``; raise EncodeError naming ``what`` with stderr's tail on failure."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *map(str, args)]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise EncodeError(f"ffmpeg timed out after {timeout:.0f} s while {what}") from exc
    if proc.returncode != 0:
        raise EncodeError(f"ffmpeg failed while {what} (exit {proc.returncode}):\n{stderr_tail(proc.stderr)}")
