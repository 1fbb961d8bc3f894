"""Shader transitions render as HyperFrames renders them: blended by the page-side WebGL compositor.

The composition uses @hyperframes/shader-transitions (pinned as a test-only npm package, copied beside
index.html) on three solid scenes, red → blue → green: a whip-pan, which on solid scenes is an exact
crossfade (every pixel is ``mix(from, to, progress)``), then an iris, which shows the new scene inside a
growing circle and the old one outside. Mid-transition pixels must be that blend, never the library's
preview fallback ("preparing scene transitions") nor a hard cut, in both capture modes (BeginFrame, and
the screenshots HyperFrames uses and framecast falls back to), and two BeginFrame renders (the default)
must be identical. A second composition whip-pans from a ``<video>`` scene, which must show in the blend.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from app.engine.ffmpeg import run_ffmpeg
from app.engine.render import RenderOptions, render
from tests.support.compositions import ProjectFactory, write_composition
from tests.support.media_checks import Image, decode_frames
from tests.support.media_fixtures import BITEXACT
from tests.support.npm_libraries import copy_library

pytestmark = pytest.mark.chrome

FPS, WIDTH, HEIGHT = 30, 320, 180
Colour = npt.NDArray[np.float64]
RED, BLUE, GREEN, YELLOW = (
    np.array(c, dtype=np.float64) for c in ((255, 0, 0), (0, 0, 255), (0, 255, 0), (255, 255, 0))
)
WHIP_STARTS, IRIS_STARTS, TRANSITION_SECONDS = 0.2, 0.6, 0.3
COLOUR_TOLERANCE = 10  # JPEG capture and 4:2:0 video on a flat colour
CENTRE, CORNER = (160, 90), (8, 8)

SCENES_HTML = """
<section id="s1" class="scene" style="background:#ff0000"></section>
<section id="s2" class="scene" style="background:#0000ff"></section>
<section id="s3" class="scene" style="background:#00ff00"></section>
<script src="hyper-shader.js"></script>
"""
SCENE_CSS = ".scene { position: absolute; left: 0; top: 0; width: 320px; height: 180px; }"
INIT_SCRIPT = f"""
HyperShader.init({{
  bgColor: "#000000",
  scenes: ["s1", "s2", "s3"],
  transitions: [
    {{ time: {WHIP_STARTS}, shader: "whip-pan", duration: {TRANSITION_SECONDS} }},
    {{ time: {IRIS_STARTS}, shader: "sdf-iris", duration: {TRANSITION_SECONDS} }},
  ],
  timeline: tl,
}});
"""


# A <video> scene whip-panning to blue: framecast lays the video's extracted frames over it as an <img>
# before the compositor clones the scene, so the clone, and the transition, show the video.
VIDEO_HTML = """
<section id="v1" class="scene"><video id="clip" src="yellow.mp4" muted playsinline data-start="0"
  data-duration="1" style="position:absolute;left:0;top:0;width:320px;height:180px"></video></section>
<section id="v2" class="scene" style="background:#0000ff"></section>
<script src="hyper-shader.js"></script>
"""
VIDEO_INIT_SCRIPT = f"""
HyperShader.init({{
  bgColor: "#000000",
  scenes: ["v1", "v2"],
  transitions: [{{ time: {WHIP_STARTS}, shader: "whip-pan", duration: {TRANSITION_SECONDS} }}],
  timeline: tl,
}});
"""


def write_video_page(directory: Path) -> Path:
    write_composition(directory, id="video", body_html=VIDEO_HTML, css=SCENE_CSS, script=VIDEO_INIT_SCRIPT)
    source = f"color=c=yellow:s={WIDTH}x{HEIGHT}:r={FPS}:d=1"
    video = ["-f", "lavfi", "-i", source, "-c:v", "libx264", "-pix_fmt", "yuv420p", *BITEXACT]
    run_ffmpeg([*video, directory / "yellow.mp4"], what="generating a yellow test video")
    copy_library("@hyperframes/shader-transitions/dist/index.global.js", directory, "hyper-shader.js")
    return directory


def write_shader_page(directory: Path) -> Path:
    write_composition(directory, id="shader", body_html=SCENES_HTML, css=SCENE_CSS, script=INIT_SCRIPT)
    copy_library("@hyperframes/shader-transitions/dist/index.global.js", directory, "hyper-shader.js")
    return directory


def at(frame: Image, xy: tuple[int, int]) -> Colour:
    colour: Colour = frame[xy[1], xy[0]].astype(np.float64)
    return colour


def assert_colour(got: Colour, want: Colour, what: str) -> None:
    assert np.abs(got - want).max() <= COLOUR_TOLERANCE, f"{what}: got {got.round()}, expected {want.round()}"


def progress(t: float, starts: float) -> float:
    return min(1.0, max(0.0, (t - starts) / TRANSITION_SECONDS))


@pytest.fixture(scope="module")
def project(make_project: ProjectFactory) -> Path:
    return make_project("shader", writer=write_shader_page)


def render_frames(project: Path, out: Path, mode: str) -> list[Image]:
    return decode_frames(render(project, out, RenderOptions(capture_mode=mode)).output)


@pytest.fixture(scope="module")
def beginframe_renders(project: Path, tmp_path_factory: pytest.TempPathFactory) -> list[list[Image]]:
    out = tmp_path_factory.mktemp("shader-beginframe")
    return [render_frames(project, out / f"{run}.mp4", "beginframe") for run in range(2)]


@pytest.fixture(scope="module")
def screenshot_frames(project: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Image]:
    return render_frames(project, tmp_path_factory.mktemp("shader-screenshot") / "out.mp4", "screenshot")


@pytest.fixture(params=["beginframe", "screenshot"])
def frames(request: pytest.FixtureRequest) -> list[Image]:
    if request.param == "beginframe":
        renders: list[list[Image]] = request.getfixturevalue("beginframe_renders")
        return renders[0]
    screenshot: list[Image] = request.getfixturevalue("screenshot_frames")
    return screenshot


def test_a_whip_pan_between_solid_scenes_blends_them_by_its_progress(frames: list[Image]) -> None:
    for index in (3, 8, 10, 12, 16):  # before, inside (progress 0.22, 0.44, 0.67) and after the whip-pan
        t = index / FPS
        p = progress(t, WHIP_STARTS)
        want = RED * (1 - p) + BLUE * p
        for xy in (CENTRE, CORNER):
            assert_colour(at(frames[index], xy), want, f"frame {index} (t={t:.3f} s, progress {p:.2f}) at {xy}")


def test_an_iris_shows_the_next_scene_inside_its_circle_and_the_last_outside(frames: list[Image]) -> None:
    index = 22  # t = 0.733 s: progress 0.44, radius 0.53 of the frame height
    assert_colour(at(frames[index], CENTRE), GREEN, f"frame {index} centre")
    assert_colour(at(frames[index], CORNER), BLUE, f"frame {index} corner")
    assert_colour(at(frames[29], CORNER), GREEN, "frame 29 (after the iris) corner")


def test_shader_transitions_render_identically_twice(beginframe_renders: list[list[Image]]) -> None:
    first, second = beginframe_renders
    assert len(first) == len(second) == FPS
    for index, (a, b) in enumerate(zip(first, second, strict=True)):
        assert np.array_equal(a, b), f"frame {index} differs between two renders"


def test_a_video_scene_takes_part_in_the_transition(make_project: ProjectFactory, tmp_path: Path) -> None:
    frames = render_frames(make_project("video", writer=write_video_page), tmp_path / "out.mp4", "beginframe")
    for index in (3, 10, 16):  # before (the video alone), inside (progress 0.44) and after the whip-pan
        p = progress(index / FPS, WHIP_STARTS)
        want = YELLOW * (1 - p) + BLUE * p
        # The video's own lossy encode adds to the capture's: a little more room than for CSS colours.
        assert np.abs(at(frames[index], CENTRE) - want).max() <= 2 * COLOUR_TOLERANCE, (
            f"frame {index} (progress {p:.2f}): got {at(frames[index], CENTRE).round()}, expected {want.round()}"
        )
