"""Where a render may write: the one check every writer runs before it starts, and the mark of its folders.

The rule (issue 12), checked on real paths (symlinks resolved) before any browser or ffmpeg starts:

* an output never replaces an input the writer reads (the project folder, a plan folder, a chunk),
  anything inside one, or a folder that holds one;
* an output never replaces something that is not a regular file or a folder (a device such as
  ``/dev/null``, a FIFO, a socket; also when reached through a symlink);
* a file output never lands on an existing folder, a folder output never on an existing file;
* an existing folder is replaced only when it is a previous framecast png-sequence output (it carries
  ``MARKER_NAME``, or holds nothing but frame files and the audio track), or when the caller forces it;
* the nearest existing parent must be a writable folder; missing folders below it are created here.

A refusal is an ``OutputPathUnsafeError`` (exit 2) and nothing has been touched. Pure function over
local paths; no network.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

from app.errors import OutputPathUnsafeError

OutputKind = Literal["file", "folder"]

MARKER_NAME = ".framecast-output.json"
"""Written into every png-sequence output folder, so a later render knows it may replace that folder."""

# What a png-sequence output holds besides the marker (a folder of only these is an older output).
_SEQUENCE_ENTRY = re.compile(r"frame_\d{6}\.png|audio\.m4a")
_KINDS = {
    stat.S_IFCHR: "character device",
    stat.S_IFBLK: "block device",
    stat.S_IFIFO: "FIFO (named pipe)",
    stat.S_IFSOCK: "socket",
}


def check_output(
    path: Path,
    *,
    kind: OutputKind,
    inputs: Sequence[Path] = (),
    force: bool = False,
    replaceable: Callable[[Path], bool] | None = None,
) -> Path:
    """The real path to write ``path`` at; raise OutputPathUnsafeError when the rule above forbids it.

    ``replaceable`` decides which existing folders a folder output may replace without ``force``
    (default: previous png-sequence outputs).
    """
    real = Path(os.path.realpath(path))
    _check_inputs(path, real, inputs)
    try:
        info = os.stat(real)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise OutputPathUnsafeError(f"cannot inspect output {path}: {exc.strerror}; choose another output") from exc
    if info is not None:
        _check_existing(path, real, info, kind, force, replaceable or is_framecast_output)
    _check_parent(path, real)
    return real


def is_framecast_output(folder: Path) -> bool:
    """True for a folder a png-sequence render wrote (marked, or only frames and audio), or an empty one."""
    if (folder / MARKER_NAME).is_file():
        return True
    try:
        return all(_SEQUENCE_ENTRY.fullmatch(name) for name in os.listdir(folder))
    except OSError:
        return False


def mark_output_folder(folder: Path) -> None:
    """Write the marker that lets a later render replace ``folder`` (call on the staging folder)."""
    marker = {"writer": "framecast", "kind": "png-sequence"}
    (folder / MARKER_NAME).write_text(json.dumps(marker) + "\n", encoding="utf-8")


def _check_inputs(path: Path, real: Path, inputs: Sequence[Path]) -> None:
    for item in inputs:
        source = Path(os.path.realpath(item))
        if real == source or source in real.parents:
            raise OutputPathUnsafeError(
                f"output {path} is the input {item} or inside it; framecast never writes over its input, "
                "choose an output outside it"
            )
        if real in source.parents:
            raise OutputPathUnsafeError(
                f"output {path} is a folder that holds the input {item}; replacing it would delete the input, "
                "choose another output"
            )


def _check_existing(
    path: Path, real: Path, info: os.stat_result, kind: OutputKind, force: bool, replaceable: Callable[[Path], bool]
) -> None:
    mode = info.st_mode
    if stat.S_ISDIR(mode):
        if kind == "file":
            raise OutputPathUnsafeError(
                f"output {path} is an existing folder; this format writes one file, give a file path such as "
                f"{Path(path) / 'video.mp4'}"
            )
        if not force and not replaceable(real):
            raise OutputPathUnsafeError(
                f"output folder {path} already exists and was not written by framecast (it holds "
                f"{_some_names(real)}); choose a new or empty folder, or pass --force to replace it"
            )
    elif not stat.S_ISREG(mode):
        what = _KINDS.get(stat.S_IFMT(mode), "special file")
        raise OutputPathUnsafeError(
            f"output {path} is a {what}, not a regular file; framecast never replaces one, choose a normal file path"
        )
    elif kind == "folder":
        raise OutputPathUnsafeError(
            f"output {path} is an existing file; a png-sequence output is a folder, choose a folder path"
        )


def _check_parent(path: Path, real: Path) -> None:
    parent = real.parent
    existing = parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputPathUnsafeError(f"output {path} cannot be created: {existing} is a file, not a folder")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        # Permission bits do not tell (root, read-only mounts, /sys): create and remove a probe file.
        handle, probe = tempfile.mkstemp(prefix=f".framecast-probe-{os.getpid()}-", dir=parent)
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        raise OutputPathUnsafeError(
            f"output {path} cannot be written: folder {parent} is not writable ({exc.strerror}); "
            "choose another output or fix its permissions"
        ) from exc


def _some_names(folder: Path, limit: int = 3) -> str:
    try:
        names = sorted(os.listdir(folder))
    except OSError as exc:
        return f"entries that cannot be listed: {exc.strerror}"
    shown = ", ".join(repr(name) for name in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
