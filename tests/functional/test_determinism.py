"""The same composition renders to the same pixels every time, even when the page uses Math.random and Date.now.

The page places a dot with Math.random and Date.now and prints ``new Date()`` and ``performance.now()``
on every animation frame; the engine's virtual clock and seeded random must make all of it a function
of the frame time alone, across browser launches.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.engine.chrome import shutdown_browser
from app.engine.render import RenderOptions, render
from tests.support.compositions import ProjectFactory, write_random
from tests.support.media_checks import Image, decode_frames, read_png, sequence_files, sha256_tree

pytestmark = pytest.mark.chrome


@pytest.fixture(scope="module")
def project(make_project: ProjectFactory) -> Path:
    return make_project("determinism", writer=write_random, duration=1, fps=30)


def dot_centre(rgba: Image) -> tuple[float, float]:
    """Centre of the yellow (#facc15) dot."""
    r, g, b = (rgba[..., i].astype(int) for i in range(3))
    ys, xs = np.nonzero((r > 200) & (g > 160) & (g < 230) & (b < 80))
    assert len(xs) > 100, "the dot is not on the frame"
    return float(xs.mean()), float(ys.mean())


def test_png_sequences_from_two_browser_launches_are_byte_identical(project: Path, tmp_path: Path) -> None:
    first = render(project, tmp_path / "first", RenderOptions(format="png-sequence"))
    shutdown_browser()  # the second render launches a new Chrome
    second = render(project, tmp_path / "second", RenderOptions(format="png-sequence"))
    first_hashes, second_hashes = sha256_tree(first.output), sha256_tree(second.output)
    assert sum(name.startswith("frame_") for name in first_hashes) == 30
    different = [name for name in first_hashes if first_hashes[name] != second_hashes.get(name)]
    assert different == [], f"frames differ between renders: {different[:5]}"
    # Not vacuous: the random placement really changes from frame to frame.
    positions = {dot_centre(read_png(f)) for f in sequence_files(first.output)}
    assert len(positions) > 20


def test_mp4_renders_decode_to_identical_frames(project: Path, tmp_path: Path) -> None:
    first = decode_frames(render(project, tmp_path / "first.mp4").output)
    second = decode_frames(render(project, tmp_path / "second.mp4").output)
    assert len(first) == len(second) == 30
    different = [i for i, (a, b) in enumerate(zip(first, second, strict=True)) if not np.array_equal(a, b)]
    assert different == [], f"decoded frames differ at {different}"
