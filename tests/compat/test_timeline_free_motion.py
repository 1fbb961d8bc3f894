"""Timeline-free pages render frame-exactly: frame i shows the page's own motion at t = i / fps.

One composition per kind of motion a HyperFrames page may use without a GSAP timeline (CSS keyframes,
CSS transitions, WAAPI, requestAnimationFrame on canvas 2D and WebGL, SVG, a same-origin iframe),
each moving a box at 200 px/s (or fading a canvas to red), rendered at 320x180 and decoded with PyAV.
The green boxes follow the clocks a page reads directly (document.timeline, Date, performance.now
inside an iframe): all of them must be the virtual frame time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.engine.render import RenderOptions, render
from tests.support import compat_pages as pages
from tests.support.compat_pages import FPS, GREEN_ROW, RED_ROW, SPEED, box_left
from tests.support.compositions import ProjectFactory
from tests.support.media_checks import decode_frames, pixel

pytestmark = pytest.mark.chrome

FRAMES = (0, 9, 15, 24)  # t = 0, 0.3, 0.5, 0.8 s
EDGE_TOLERANCE_PX = 2  # chroma subsampling blurs an edge by a pixel or two


def linear(t: float) -> int:
    return round(SPEED * t)


def transition(t: float) -> int:
    progress = min(1.0, max(0.0, (t - pages.TRANSITION_STARTS) / pages.TRANSITION_SECONDS))
    return round(SPEED * progress)


# name → (page, {row colour: expected left edge as a function of t})
CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "css-keyframes": (pages.CSS_KEYFRAMES, {"red": linear}),
    "css-transition": (pages.CSS_TRANSITION, {"red": transition}),
    "waapi": (pages.WAAPI, {"red": linear, "green": linear}),
    "raf-canvas-2d": (pages.RAF_CANVAS, {"red": linear, "green": linear}),
    "svg": (pages.SVG, {"red": linear, "green": linear}),
    "iframe": (pages.IFRAME, {"red": linear, "green": linear}),
}


def render_frames(make_project: ProjectFactory, tmp_path: Path, name: str, page: dict[str, Any]) -> list[Any]:
    project = make_project(name, writer=pages.write_page, id=name, **page)
    result = render(project, tmp_path / "out.mp4", RenderOptions())
    frames = decode_frames(result.output)
    assert len(frames) == FPS * pages.DURATION
    return frames


@pytest.mark.parametrize(("page", "expected"), CASES.values(), ids=CASES.keys())
def test_the_box_is_where_its_animation_puts_it_at_each_frame_time(
    make_project: ProjectFactory, tmp_path: Path, page: dict[str, Any], expected: dict[str, Any]
) -> None:
    frames = render_frames(make_project, tmp_path, "motion", page)
    for index in FRAMES:
        t = index / FPS
        for colour, position in expected.items():
            got = box_left(frames[index], RED_ROW if colour == "red" else GREEN_ROW, colour)
            want = position(t)
            assert got is not None and abs(got - want) <= EDGE_TOLERANCE_PX, (
                f"frame {index} (t={t:.3f} s): the {colour} box's left edge is at {got}, expected {want}"
            )


def test_a_webgl_canvas_drawn_from_raf_shows_the_frame_time(make_project: ProjectFactory, tmp_path: Path) -> None:
    frames = render_frames(make_project, tmp_path, "webgl", pages.WEBGL)
    for index in FRAMES:
        red = pixel(frames[index], (160, 90))[0]
        want = 255 * index / FPS
        assert abs(red - want) <= 6, f"frame {index}: red is {red}, expected {want:.0f}"
