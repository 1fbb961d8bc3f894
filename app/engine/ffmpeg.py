"""The ffmpeg adapter: which binary, its version, and running it with failures translated.

The binary is the static build shipped in the pinned ``imageio-ffmpeg`` wheel (installed by
scripts/install-runtime.sh) unless ``FRAMECAST_FFMPEG`` names another one. Every ffmpeg exit is
translated here into an :class:`~app.errors.EncodeError` carrying the tail of stderr.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

from app.errors import EncodeError, RuntimeMissingError

STDERR_TAIL_LINES = 12


@functools.cache
def ffmpeg_exe() -> str:
    override = os.environ.get("FRAMECAST_FFMPEG")
    if override:
        if not Path(override).is_file():
            raise RuntimeMissingError(f"FRAMECAST_FFMPEG={override} does not exist; unset it or fix the path")
        return override
    try:
        import imageio_ffmpeg
    except ImportError as exc:
        raise RuntimeMissingError(
            "imageio-ffmpeg is not installed; run scripts/install-runtime.sh (or `make install`)"
        ) from exc
    return str(imageio_ffmpeg.get_ffmpeg_exe())


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
