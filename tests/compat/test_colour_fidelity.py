"""Colours survive the JPEG → BT.709 H.264 path: what a player shows is what the page painted.

Flat areas of saturated and dark colours, a saturated bar on the frame's edge and white text, rendered
at the default tier and decoded with PyAV (which honours the stream's BT.709 tags), are compared with
the CSS colours and with a lossless PNG capture of the same frame.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.engine.render import RenderOptions, render
from tests.support.compositions import ProjectFactory, write_composition
from tests.support.media_checks import decode_frame, over_black, pixel, psnr, read_png

pytestmark = pytest.mark.chrome

BACKGROUND = (11, 26, 58)  # a dark navy: small errors in its chroma used to darken it by 3 levels
PATCHES = {  # name → (CSS colour, a point inside it)
    "magenta edge bar": ((255, 0, 255), (8, 90)),
    "yellow": ((255, 209, 102), (150, 50)),
    "green": ((6, 214, 160), (250, 140)),
    "background": (BACKGROUND, (150, 150)),
}
BODY = """
<div style="position:absolute;left:0;top:0;width:24px;height:180px;background:rgb(255,0,255)"></div>
<div style="position:absolute;left:100px;top:20px;width:100px;height:60px;background:rgb(255,209,102)"></div>
<div style="position:absolute;left:210px;top:110px;width:100px;height:60px;background:rgb(6,214,160)"></div>
<div style="position:absolute;left:40px;top:100px;font:bold 36px sans-serif;color:white">Aa</div>
"""


def write_palette(directory: Path, **_: object) -> Path:
    return write_composition(
        directory,
        id="palette",
        duration=0.2,
        body_html=BODY,
        css=f"#root{{background:rgb{BACKGROUND}}}",
    )


@pytest.fixture(scope="module")
def palette(make_project: ProjectFactory) -> Path:
    return make_project("palette", writer=write_palette)


def test_flat_colours_come_out_as_painted(palette: Path, tmp_path: Path) -> None:
    frame = decode_frame(render(palette, tmp_path / "out.mp4", RenderOptions()).output, 0)
    for name, (colour, point) in PATCHES.items():
        got = pixel(frame, point)
        assert all(abs(g - c) <= 2 for g, c in zip(got, colour, strict=True)), f"{name}: {got} != {colour}"


def test_the_video_is_close_to_a_lossless_capture_of_the_same_frame(palette: Path, tmp_path: Path) -> None:
    video = decode_frame(render(palette, tmp_path / "out.mp4", RenderOptions()).output, 0)
    frames = render(palette, tmp_path / "png", RenderOptions(format="png-sequence")).output
    lossless = over_black(read_png(sorted(frames.glob("frame_*.png"))[0]))
    lossless[np.all(lossless == 0, axis=-1)] = BACKGROUND  # png-sequence makes the root background transparent
    assert psnr(video, lossless) >= 40.0
