"""The worker processes of a local chunked render start before plan and never outlive the render.

They launch Python and Chrome on the other cores while this process plans; a plan that fails, or that
leaves a single chunk, stops them at once, and nothing of theirs is left behind.
"""

from __future__ import annotations

import multiprocessing
import signal
import tempfile
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from pathlib import Path

import pytest

from app.distributed import RenderConfig, plan
from app.errors import InvalidConfigError
from app.local import pool
from tests.support.compositions import ProjectFactory, write_motion

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
