"""A process keeps the last chunk's page for the next chunk of the same plan (warm Lambda containers, pool workers).

The contract: a chunk rendered on a kept page has the same bytes as on a newly loaded one, whatever the
page rendered before; only timeline-driven pages of the same plan in the same browser are reused; a
plan moved to another folder (each Lambda invocation downloads it anew) is served from the new one.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.distributed import RenderConfig, plan, render_chunk
from app.engine import warm_page
from app.engine.chrome import acquire_browser, shutdown_browser
from app.local.pool import render_chunked
from tests.support import compat_pages as pages
from tests.support.compositions import ProjectFactory, write_motion, write_random
from tests.support.media_fixtures import make_video

pytestmark = pytest.mark.chrome

CONFIG = RenderConfig(max_parallel_chunks=3, min_chunk_frames=1)


def contexts() -> int:
    return len(acquire_browser().browser.contexts)


def fresh(plan_dir: Path, index: int, out: Path) -> str:
    warm_page.discard()
    result = render_chunk(plan_dir, index, out)
    assert not result.page_reused
    return result.sha256


def test_later_chunks_reuse_the_page_and_give_the_bytes_of_a_new_page(
    make_project: ProjectFactory, tmp_path: Path
) -> None:
    # Math.random, Date.now and a rAF loop on every frame: reuse must not leak one chunk's state into the next.
    project = make_project("warm-random", writer=write_random, duration=1, fps=30)
    plan_dir = tmp_path / "plan"
    plan(project, CONFIG, plan_dir)
    expected = {i: fresh(plan_dir, i, tmp_path / f"fresh{i}.mp4") for i in (2, 1, 0)}
    order = [0, 1, 2, 1, 0]  # forwards, then back: a kept page seeks to wherever the next chunk starts
    results = [render_chunk(plan_dir, i, tmp_path / f"warm{n}.mp4") for n, i in enumerate(order)]
    assert [r.page_reused for r in results] == [True] * len(order)  # the last fresh chunk's page was kept
    assert [r.sha256 for r in results] == [expected[i] for i in order]
    assert all(r.boot_seconds < 0.05 for r in results)
    assert contexts() == 1


def test_a_plan_moved_to_another_folder_is_served_from_there(make_project: ProjectFactory, tmp_path: Path) -> None:
    clip = make_video(tmp_path / "media" / "clip.mp4", seconds=1, size="160x90", fps=30)
    video = '<video id="v" src="clip.mp4" data-start="0" muted></video>'
    project = make_project(
        "warm-video", writer=write_motion, duration=1, fps=30, extra_html=video, extra_files={"clip.mp4": clip}
    )
    first, second = tmp_path / "invocation-1", tmp_path / "invocation-2"
    plan(project, CONFIG, first / "plan")
    expected = fresh(first / "plan", 2, tmp_path / "fresh.mp4")
    render_chunk(first / "plan", 0, first / "chunk0.mp4")
    shutil.copytree(first / "plan", second / "plan")
    shutil.rmtree(first)  # as a Lambda invocation's work folder is, before the next one downloads the plan
    result = render_chunk(second / "plan", 2, second / "chunk2.mp4")
    assert result.page_reused
    assert result.sha256 == expected  # its video frames came from the new folder


def test_a_timeline_free_page_is_loaded_anew_for_each_chunk(make_project: ProjectFactory, tmp_path: Path) -> None:
    project = make_project("warm-raf", writer=pages.write_page, id="warm-raf", **pages.RAF_CANVAS)
    plan(project, CONFIG, tmp_path / "plan")
    results = [render_chunk(tmp_path / "plan", i, tmp_path / f"c{i}.mp4") for i in (0, 1)]
    assert [r.page_reused for r in results] == [False, False]  # a rAF loop may keep state between frames
    assert contexts() == 0


def test_another_plan_or_a_new_browser_closes_the_kept_page(make_project: ProjectFactory, tmp_path: Path) -> None:
    a = make_project("warm-a", writer=write_motion, duration=1, fps=30)
    b = make_project("warm-b", writer=write_random, duration=1, fps=30)
    plan(a, CONFIG, tmp_path / "a")
    plan(b, CONFIG, tmp_path / "b")
    render_chunk(tmp_path / "a", 0, tmp_path / "a0.mp4")
    assert not render_chunk(tmp_path / "b", 0, tmp_path / "b0.mp4").page_reused
    assert contexts() == 1  # plan a's page was closed, not left beside b's
    shutdown_browser()
    assert not render_chunk(tmp_path / "b", 1, tmp_path / "b1.mp4").page_reused


def test_a_local_chunked_render_reuses_its_page_and_closes_it_at_the_end(
    make_project: ProjectFactory, tmp_path: Path
) -> None:
    project = make_project("warm-pool", writer=write_motion, duration=1, fps=30)
    result = render_chunked(project, tmp_path / "out.mp4", CONFIG, workers=1)
    assert [c.page_reused for c in result.chunks] == [False, True, True]
    assert contexts() == 0
