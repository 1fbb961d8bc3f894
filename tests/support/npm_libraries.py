"""Test-only page libraries (app/engine/js/package.json devDependencies), copied into test projects.

Renders are offline, so a composition loads its library from a file beside index.html. npm ci (run by
scripts/install-runtime.sh) installs them; the image prunes them, so a test that needs one skips there
with a reason instead of failing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.engine.runtime import JS_DIR

NODE_MODULES = JS_DIR / "node_modules"


def library_file(relative: str) -> Path:
    """``node_modules/<relative>``, or skip the test when the dev dependency is not installed."""
    path = NODE_MODULES / relative
    if not path.is_file():
        pytest.skip(f"test-only library {relative} is not installed (run scripts/install-runtime.sh outside an image)")
    return path


def copy_library(relative: str, project: Path, name: str | None = None) -> Path:
    """Copy ``node_modules/<relative>`` into ``project`` (as ``name``, default its file name)."""
    source = library_file(relative)
    target = project / (name or source.name)
    shutil.copyfile(source, target)
    return target
