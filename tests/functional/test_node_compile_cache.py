"""The Playwright driver keeps its compiled JavaScript in framecast's user cache between runs.

Node 22+ reads ``NODE_COMPILE_CACHE``; the driver inherits it from this process. A user's own setting
wins, and a cache folder that cannot be made leaves the variable unset instead of failing the launch.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.engine import chrome


def unset_node_compile_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset for the test, and unset again after it whatever the code under test set (setenv records that)."""
    monkeypatch.setenv("NODE_COMPILE_CACHE", "")
    monkeypatch.delenv("NODE_COMPILE_CACHE")


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    unset_node_compile_cache(monkeypatch)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.mark.chrome
def test_a_launched_driver_fills_the_cache_in_framecasts_folder(cache_home: Path) -> None:
    chrome.shutdown_browser()  # the driver writes its cache when it exits: launch one of our own
    chrome.acquire_browser()
    chrome.shutdown_browser()
    folder = cache_home / "framecast" / "node-compile-cache"
    assert os.environ["NODE_COMPILE_CACHE"] == str(folder)
    assert [p for p in folder.rglob("*") if p.is_file()], "the driver left no compiled code in the cache"


def test_a_users_own_node_compile_cache_is_kept(cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NODE_COMPILE_CACHE", "/elsewhere")
    chrome._use_node_compile_cache()
    assert os.environ["NODE_COMPILE_CACHE"] == "/elsewhere"
    assert not cache_home.exists()


def test_a_cache_folder_that_cannot_be_made_means_no_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    unset_node_compile_cache(monkeypatch)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache home should be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    chrome._use_node_compile_cache()
    assert "NODE_COMPILE_CACHE" not in os.environ
