"""Frame i shows the page at t = i / fps: a known colour at a known place at a known time, in both capture modes.

The composition is a blue box on black that a GSAP ``set`` turns red at exactly t = 0.5 s, so frame 15
(at 30 fps) is the first red one and frame 14 the last blue one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.engine.chrome import CaptureMode, acquire_browser, shutdown_browser
from app.engine.render import RenderOptions, render
from tests.support.compositions import (
    BACKGROUND_SPOT,
    BOX_CENTRE,
    BOX_TURNS_RED_AT,
    ProjectFactory,
    write_colour_switch,
)
from tests.support.media_checks import close_to, decode_frames, pixel, read_png, sequence_files

pytestmark = pytest.mark.chrome

FPS = 30
FIRST_RED = round(BOX_TURNS_RED_AT * FPS)  # frame 15
BLUE, RED, BLACK = (0, 0, 255), (255, 0, 0), (0, 0, 0)


@pytest.fixture(scope="module")
def project(make_project: ProjectFactory) -> Path:
    return make_project("pixels", writer=write_colour_switch, duration=1, fps=FPS)


@pytest.fixture
def fresh_browser_after() -> Iterator[None]:
    """Screenshot mode swaps this process's warm browser; put the default back for the next test."""
    yield
    shutdown_browser()


@pytest.mark.parametrize("mode", ["beginframe", "screenshot"])
def test_box_is_blue_before_half_a_second_and_red_from_it(
    project: Path, tmp_path: Path, mode: CaptureMode, fresh_browser_after: None
) -> None:
    result = render(project, tmp_path / "out.mp4", RenderOptions(capture_mode=mode))
    assert result.capture_mode == mode
    frames = decode_frames(result.output)
    assert len(frames) == 30
    expected = {0: BLUE, FIRST_RED - 1: BLUE, FIRST_RED: RED, 29: RED}
    for index, colour in expected.items():
        got = pixel(frames[index], BOX_CENTRE)
        assert close_to(got, colour), f"{mode}: frame {index} (t={index / FPS:.3f} s) box is {got}, expected {colour}"
        background = pixel(frames[index], BACKGROUND_SPOT)
        assert close_to(background, BLACK), f"{mode}: frame {index} background is {background}"


def test_png_frames_carry_the_exact_colours_and_a_transparent_background(project: Path, tmp_path: Path) -> None:
    result = render(project, tmp_path / "frames", RenderOptions(format="png-sequence"))
    files = sequence_files(result.output)
    last_blue, first_red = read_png(files[FIRST_RED - 1]), read_png(files[FIRST_RED])  # files are numbered from 1
    assert pixel(last_blue, BOX_CENTRE) == (*BLUE, 255)
    assert pixel(first_red, BOX_CENTRE) == (*RED, 255)
    assert pixel(first_red, BACKGROUND_SPOT)[3] == 0


def test_beginframe_is_used_again_after_a_screenshot_browser_was_warm(fresh_browser_after: None) -> None:
    # Choosing screenshot mode for one render must not switch later default renders to the slower path.
    assert acquire_browser("screenshot").mode == "screenshot"
    assert acquire_browser("beginframe").mode == "beginframe"
