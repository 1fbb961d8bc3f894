"""Contract: rendering the same chunk of the same plan twice gives byte-identical output, so retries are safe.

The second attempt runs in a freshly launched browser (a retried Lambda task may land on a new container)
and overwrites the first attempt's file, as a retried task writing to the same key would.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.distributed import RenderConfig, plan, render_chunk
from app.distributed.render_chunk import chunk_extension
from app.engine.chrome import shutdown_browser
from tests.support.compositions import ProjectFactory, write_random
from tests.support.media_checks import sha256_of

pytestmark = pytest.mark.chrome


@pytest.fixture(scope="module")
def project(make_project: ProjectFactory) -> Path:
    # Math.random, Date.now and performance.now on every frame: the hardest case for repeatability.
    return make_project("retry", writer=write_random, duration=1, fps=30)


@pytest.mark.parametrize("fmt", ["mp4", "png-sequence"])
def test_same_plan_and_index_give_the_same_sha256(project: Path, tmp_path: Path, fmt: str) -> None:
    config = RenderConfig(format=fmt, max_parallel_chunks=3, min_chunk_frames=1)  # type: ignore[arg-type]
    planned = plan(project, config, tmp_path / "plan")
    index = 1  # a middle chunk: starts mid-timeline, after a seek from nowhere
    out = tmp_path / f"chunk{chunk_extension(fmt)}"
    first = render_chunk(tmp_path / "plan", index, out, plan_hash=planned.plan_hash)
    first_bytes = out.read_bytes()
    shutdown_browser()
    second = render_chunk(tmp_path / "plan", index, out, plan_hash=planned.plan_hash)
    assert first.sha256 == second.sha256 == sha256_of(out)
    assert out.read_bytes() == first_bytes
    assert (second.start_frame, second.end_frame, second.frames) == (10, 20, 10)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == [], "no temporary files left"


def test_a_chunk_rendered_to_another_path_has_the_same_bytes(project: Path, tmp_path: Path) -> None:
    planned = plan(project, RenderConfig(max_parallel_chunks=2, min_chunk_frames=1), tmp_path / "plan")
    first = render_chunk(tmp_path / "plan", 0, tmp_path / "a" / "chunk.mp4", plan_hash=planned.plan_hash)
    second = render_chunk(tmp_path / "plan", 0, tmp_path / "b" / "other-name.mp4", plan_hash=planned.plan_hash)
    assert first.sha256 == second.sha256
