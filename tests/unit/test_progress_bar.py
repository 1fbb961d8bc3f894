"""The progress display starts at the first update: until then this process keeps a single thread, so a
chunked render can fork its workers (app.local.pool)."""

from __future__ import annotations

import io
import threading

import pytest
from rich.console import Console

from app.cli import progress


def test_the_display_and_its_thread_start_at_the_first_update(monkeypatch: pytest.MonkeyPatch) -> None:
    screen = io.StringIO()
    monkeypatch.setattr(progress, "console", Console(file=screen, force_terminal=True, width=100))
    before = {t.ident for t in threading.enumerate()}
    with progress.progress_bar("rendering demo", unit="chunks") as update:
        assert {t.ident for t in threading.enumerate()} == before and screen.getvalue() == ""
        update(1, 2)
        refresh = [t for t in threading.enumerate() if t.ident not in before]
        assert len(refresh) == 1  # rich's refresh thread
    refresh[0].join(timeout=5)  # told to stop on the way out
    assert not refresh[0].is_alive()
    assert "rendering demo" in screen.getvalue() and "1/2" in screen.getvalue()


def test_a_bar_that_never_updated_leaves_nothing_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    screen = io.StringIO()
    monkeypatch.setattr(progress, "console", Console(file=screen, force_terminal=True, width=100))
    before = {t.ident for t in threading.enumerate()}
    with pytest.raises(RuntimeError), progress.progress_bar("rendering demo"):
        raise RuntimeError("failed before the first frame")
    assert {t.ident for t in threading.enumerate()} == before and screen.getvalue() == ""
