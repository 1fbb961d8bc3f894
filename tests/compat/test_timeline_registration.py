"""Readiness for pages that register their timeline late, never, or opt out with data-no-timeline.

A timeline registered after a slow local fetch or from a timer is waited for (its motion is in the
frames, no warning); a host that never registers one renders timeline-free after a short idle grace
with one warning; ``data-no-timeline`` skips the wait; a script that failed to load ends the wait at
once with an error naming it and what is pending. Readiness of a ready composition costs at most
0.5 s after the load event (issue 13).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from app.engine.capture import CaptureSession
from app.engine.readiness import TIMELINE_GRACE_SECONDS
from app.engine.render import RenderOptions, open_session, prepare, render
from app.engine.server import ProjectServer
from app.errors import PageError
from tests.support import compat_pages as pages
from tests.support.compat_pages import FPS, RED_ROW, SPEED, box_left
from tests.support.compositions import ProjectFactory, write_colour_switch
from tests.support.media_checks import decode_frames

pytestmark = pytest.mark.chrome

READY_OVERHEAD_SECONDS = 0.5  # issue 13: readiness adds at most this after page load
LATE_SECONDS = 1.0  # twice the idle grace, so cutting the wait short would lose the timeline
NO_TIMELINE_WARNING = "registered no timeline"


@dataclass(frozen=True)
class Opened:
    ready_seconds: float
    warnings: list[str]


@pytest.fixture
def sessions(monkeypatch: pytest.MonkeyPatch) -> list[Opened]:
    """What each capture session of the test measured, recorded as it closes."""
    seen: list[Opened] = []
    close = CaptureSession.close

    def recording_close(self: CaptureSession) -> None:
        if self.page is not None:
            seen.append(Opened(self.ready_seconds, list(self.warnings)))
        close(self)

    monkeypatch.setattr(CaptureSession, "close", recording_close)
    return seen


@contextmanager
def opened(project: Path) -> Iterator[CaptureSession]:
    prepared = prepare(project, RenderOptions())
    with ProjectServer(prepared.composition.project_dir) as server:
        session = open_session(prepared, server, None)
        try:
            yield session
        finally:
            session.close()


def assert_box_follows_the_timeline(output: Path) -> None:
    frames = decode_frames(output)
    for index in (0, 15, 24):
        got, want = box_left(frames[index], RED_ROW, "red"), round(SPEED * index / FPS)
        assert got is not None and abs(got - want) <= 2, f"frame {index}: box at {got}, expected {want}"


@pytest.fixture
def slow_json(monkeypatch: pytest.MonkeyPatch) -> None:
    """The project server answers ``slow.json`` only after LATE_SECONDS (the request stays in flight)."""
    resolve = ProjectServer.resolve

    def slow_resolve(self: ProjectServer, url_path: str) -> tuple[Path | None, bool]:
        if url_path.endswith("/slow.json"):
            time.sleep(LATE_SECONDS)
        return resolve(self, url_path)

    monkeypatch.setattr(ProjectServer, "resolve", slow_resolve)


LATE = {
    "after-a-slow-fetch": 'fetch("slow.json").then((r) => r.json()).then(register);',
    "from-a-timer": f"setTimeout(register, {LATE_SECONDS * 1000:.0f});",
}


@pytest.mark.parametrize("when", LATE.values(), ids=LATE.keys())
def test_a_timeline_registered_late_is_waited_for(
    make_project: ProjectFactory,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    sessions: list[Opened],
    slow_json: None,
    when: str,
) -> None:
    page: dict[str, Any] = pages.late_timeline("late", when)
    project = make_project("late", writer=pages.write_page, id="late", extra_files={"slow.json": "{}"}, **page)

    result = render(project, tmp_path / "out.mp4", RenderOptions())

    assert_box_follows_the_timeline(result.output)
    assert NO_TIMELINE_WARNING not in caplog.text
    assert sessions[0].ready_seconds > TIMELINE_GRACE_SECONDS  # it was late: waited for past the idle grace


def test_a_host_that_never_registers_a_timeline_renders_after_a_short_idle_grace_with_one_warning(
    make_project: ProjectFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture, sessions: list[Opened]
) -> None:
    project = make_project("unregistered", writer=pages.write_page, id="css", no_timeline=False, **pages.CSS_KEYFRAMES)

    result = render(project, tmp_path / "out.mp4", RenderOptions())

    assert_box_follows_the_timeline(result.output)  # the CSS animation moves it along the same path
    [session] = sessions
    assert session.ready_seconds < TIMELINE_GRACE_SECONDS + 1.0, f"readiness took {session.ready_seconds:.2f} s"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and NO_TIMELINE_WARNING in r.getMessage()]
    assert len(warnings) == 1 and session.warnings == [warnings[0].getMessage()]
    assert warnings[0].getMessage().startswith("composition css ") and "\n" not in warnings[0].getMessage()


def test_data_no_timeline_skips_the_wait_and_warns_nothing(make_project: ProjectFactory) -> None:
    project = make_project("opt-out", writer=pages.write_page, id="css", **pages.CSS_KEYFRAMES)
    with opened(project) as session:
        assert session.ready_seconds <= READY_OVERHEAD_SECONDS, f"readiness took {session.ready_seconds:.2f} s"
        assert session.warnings == []


def test_readiness_of_a_ready_timeline_composition_adds_at_most_half_a_second(make_project: ProjectFactory) -> None:
    project = make_project("ready", writer=write_colour_switch)
    with opened(project) as session:
        assert session.ready_seconds <= READY_OVERHEAD_SECONDS, f"readiness took {session.ready_seconds:.2f} s"
        assert session.warnings == []


def test_a_script_that_failed_to_load_ends_the_wait_at_once_naming_it(make_project: ProjectFactory) -> None:
    page: dict[str, Any] = pages.late_timeline("broken", "register();")
    page["head"] += '<script src="missing-library.js"></script>'
    project = make_project("broken", writer=pages.write_page, id="broken", **{**page, "script": ""})
    started = time.monotonic()

    with pytest.raises(PageError) as raised, opened(project):
        pass

    message = str(raised.value)
    assert "missing-library.js (HTTP 404)" in message and "timeline broken" in message, message
    assert time.monotonic() - started < 5, "the wait was not cut short"
