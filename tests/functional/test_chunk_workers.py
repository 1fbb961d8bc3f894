"""The worker processes of a local chunked render start before plan and never outlive the render.

They launch Chrome on the other cores while this process plans; a plan that fails, or that leaves a
single chunk, stops them at once, and nothing of theirs is left behind. They are forked from a
single-threaded process without a browser (and spawned otherwise), and die by signals like any process.
"""

from __future__ import annotations

import multiprocessing
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from pathlib import Path

import pytest

from app.distributed import RenderConfig, plan
from app.engine import chrome
from app.errors import InvalidConfigError
from app.local import pool
from tests.support.compositions import ProjectFactory, write_motion
from tests.support.media_checks import probe_video

pytestmark = pytest.mark.chrome


def leftovers() -> list[str]:
    return sorted(p.name for p in Path(tempfile.gettempdir()).glob("framecast-chunked-*"))


def helpers_seen_by_plan(monkeypatch: pytest.MonkeyPatch, then: Callable[..., object]) -> list[BaseProcess]:
    """The worker processes alive when plan starts (filled in then); plan itself is ``then``."""
    helpers: list[BaseProcess] = []

    def watched_plan(*args: object, **kwargs: object) -> object:
        helpers.extend(multiprocessing.active_children())
        return then(*args, **kwargs)

    monkeypatch.setattr(pool, "plan", watched_plan)
    return helpers


def test_a_failed_plan_stops_the_workers_it_started_and_leaves_nothing(
    make_project: ProjectFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project("workers-plan-fails", writer=write_motion, duration=1, fps=30)

    def failing_plan(*_args: object, **_kwargs: object) -> None:
        raise InvalidConfigError("the plan failed")

    helpers = helpers_seen_by_plan(monkeypatch, failing_plan)
    before = leftovers()
    with pytest.raises(InvalidConfigError, match="the plan failed"):
        pool.render_chunked(project, tmp_path / "out.mp4", RenderConfig(max_parallel_chunks=2), workers=3)
    assert len(helpers) == 2  # both helpers were already starting while plan ran
    assert [p.exitcode for p in helpers] == [-signal.SIGKILL] * 2  # stopped, not waited for
    assert multiprocessing.active_children() == []
    assert leftovers() == before
    assert list(tmp_path.iterdir()) == []


def test_a_plan_of_one_chunk_stops_the_helpers_and_renders_here(
    make_project: ProjectFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project("workers-one-chunk", writer=write_motion, duration=1, fps=30)
    helpers = helpers_seen_by_plan(monkeypatch, plan)
    config = RenderConfig(max_parallel_chunks=1)
    result = pool.render_chunked(project, tmp_path / "out.mp4", config, workers=2)
    assert result.plan.chunk_count == 1 and len(helpers) == 1
    assert helpers[0].exitcode == -signal.SIGKILL  # not left to finish launching a browser for nothing
    assert multiprocessing.active_children() == []
    assert (tmp_path / "out.mp4").stat().st_size > 0


@pytest.mark.parametrize("release", [True, False])
def test_release_browser_closes_the_browser_this_render_launched(
    make_project: ProjectFactory, tmp_path: Path, release: bool
) -> None:
    project = make_project("workers-release", writer=write_motion, duration=1, fps=30)
    chrome.shutdown_browser()  # one left warm by an earlier test in this process
    config = RenderConfig(max_parallel_chunks=2)
    result = pool.render_chunked(project, tmp_path / "out.mp4", config, workers=2, release_browser=release)
    assert result.plan.chunk_count == 2 and probe_video(tmp_path / "out.mp4").frames == 30
    assert chrome.warm_browser_running() is not release  # kept warm for a next render unless released
    chrome.acquire_browser()
    pool.render_chunked(project, tmp_path / "again.mp4", config, workers=2, release_browser=True)
    assert chrome.warm_browser_running()  # a browser it did not launch is never closed


def test_workers_are_forked_only_from_one_thread_without_a_browser(monkeypatch: pytest.MonkeyPatch) -> None:
    # A new interpreter has one thread and no browser: the CLI's case.
    fresh = subprocess.run(
        [sys.executable, "-c", "from app.local.pool import worker_start_method as m; print(m())"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert fresh.stdout.strip() == "fork"
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert pool.worker_start_method() == "spawn"  # a lock another thread holds would stay held in the child
    finally:
        stop.set()
        other.join()
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    monkeypatch.setattr(pool, "warm_browser_running", lambda: True)
    assert pool.worker_start_method() == "spawn"  # a Playwright connection cannot be shared with a child


# Inside the CLI's signal handling, start one forked worker and report the handlers it runs with.
_HANDLERS_IN_A_FORKED_WORKER = """
import signal
from app.cli import interrupts
from app.local import pool
with interrupts.handled():
    assert pool.worker_start_method() == "fork"
    workers = pool._start_workers(1)
    try:
        sigint = workers.submit(signal.getsignal, signal.SIGINT).result(timeout=60)
        sigterm = workers.submit(signal.getsignal, signal.SIGTERM).result(timeout=60)
        print(sigint is signal.default_int_handler, sigterm == signal.SIG_DFL)
    finally:
        workers.shutdown(wait=True)
"""


def test_a_forked_worker_dies_by_signals_like_a_spawned_one() -> None:
    done = subprocess.run([sys.executable, "-c", _HANDLERS_IN_A_FORKED_WORKER], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["True", "True"]  # not the CLI's handler, which would clean up the parent's work


def test_the_cli_forks_its_workers_and_they_render_their_chunks(make_project: ProjectFactory, tmp_path: Path) -> None:
    project = make_project("workers-forked", writer=write_motion, duration=1, fps=30)
    out = tmp_path / "out.mp4"
    argv = [sys.executable, "-m", "app.cli.main", "-v", "render", str(project), "-o", str(out), "--workers", "2"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "chunk worker(s) by fork" in " ".join(done.stderr.split())
    assert probe_video(out).frames == 30
