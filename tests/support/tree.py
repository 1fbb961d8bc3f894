"""A snapshot of a folder tree, to prove a command touched nothing in it (compare before and after)."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path


def tree_snapshot(root: Path) -> dict[str, str]:
    """Every entry under ``root`` (symlinks not followed): its kind, and its bytes' hash or link target."""
    found: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            info = path.lstat()
            key = str(path.relative_to(root))
            if stat.S_ISLNK(info.st_mode):
                found[key] = f"link -> {os.readlink(path)}"
            elif stat.S_ISREG(info.st_mode):
                found[key] = "file " + hashlib.sha256(path.read_bytes()).hexdigest()
            elif stat.S_ISDIR(info.st_mode):
                found[key] = "dir"
            else:
                found[key] = f"special {stat.S_IFMT(info.st_mode):o}"
    return found
