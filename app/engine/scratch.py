"""Temporary folders and hidden staging names that carry the owning process id, and the sweep of stale ones;
and framecast's folder in the user's cache, for what is kept between runs.

Every temporary folder a local render makes is ``framecast-<purpose>-<pid>-<random>`` in the system temp
folder, and every hidden file or folder it stages beside an output is ``.<name>.<partial|old|tmp>-<pid>…``.
The CLI also runs each command inside ``private_temp_root`` so that what ffmpeg, Chrome and Playwright
put in the temp folder goes with it. A render cleans these up itself (``finally``, and on SIGINT/SIGTERM);
when a process was killed outright,
the next run removes the ones whose process is gone (``sweep_stale``). Only entries owned by this user
and naming a dead process are removed. Pure function over local paths; no network.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

_TEMP_DIR = re.compile(r"framecast-[a-z-]+?-(?P<pid>\d+)-[A-Za-z0-9_]+")
_BESIDE = re.compile(r"\.(?P<name>.+)\.(?:partial|old|tmp)-(?P<pid>\d+)(?:-[0-9a-f]+)?(?:\.[A-Za-z0-9]+)?")


def user_cache_dir(purpose: str) -> Path:
    """``$XDG_CACHE_HOME/framecast/<purpose>`` (else ``~/.cache/framecast/<purpose>``): kept between runs."""
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(base) / "framecast" / purpose


def make_temp_dir(purpose: str, parent: Path | None = None) -> Path:
    """A new private folder ``framecast-<purpose>-<pid>-…`` (in the system temp folder unless ``parent``)."""
    return Path(tempfile.mkdtemp(prefix=f"framecast-{purpose}-{os.getpid()}-", dir=parent))


@contextmanager
def private_temp_root() -> Iterator[Path]:
    """Point ``TMPDIR`` (this process and every child: ffmpeg, Chrome, pool workers) at a fresh
    ``framecast-run-<pid>-…`` folder for the block, then remove it with whatever was left inside."""
    root = make_temp_dir("run")
    saved_env, saved_tempdir = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"] = tempfile.tempdir = str(root)
    try:
        yield root
    finally:
        tempfile.tempdir = saved_tempdir
        if saved_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved_env
        shutil.rmtree(root, ignore_errors=True)


def staging_name(target: Path, role: str) -> Path:
    """The hidden sibling ``.<name>.<role>-<pid>`` used to build ``target`` before it is renamed into place."""
    return target.parent / f".{target.name}.{role}-{os.getpid()}"


def process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def sweep_stale(folder: Path | None = None, *, beside: Path | None = None) -> list[Path]:
    """Remove stale temp folders (in ``folder``, default the system temp folder) and stale hidden staging
    entries next to ``beside``; return what was removed."""
    removed = _sweep(Path(folder or tempfile.gettempdir()), _TEMP_DIR, None)
    if beside is not None:
        removed += _sweep(beside.parent, _BESIDE, beside.name)
    return removed


def _sweep(folder: Path, pattern: re.Pattern[str], name: str | None) -> list[Path]:
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None or (name is not None and not _names_target(match.group("name"), name)):
            continue
        if process_alive(int(match.group("pid"))) or not _owned_by_me(entry):
            continue
        path = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        log.info("removed a stale temporary entry of a dead framecast process", extra={"path": str(path)})
        removed.append(path)
    return removed


def _names_target(staged: str, target: str) -> bool:
    # ``.<name>.partial-<pid>`` keeps the whole name; ``.<stem>.tmp-<pid>-<hex><suffix>`` keeps the stem.
    return staged in (target, Path(target).stem)


def _owned_by_me(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.stat(follow_symlinks=False).st_uid == os.getuid()
    except OSError:
        return False
