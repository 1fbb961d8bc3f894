"""Render-time variables reach the page as ``window.__hfVariables`` before any page script, and are checked.

The composition paints its box with the ``accent`` variable, read by a page script at load time (no
waiting, no polling): if the engine set the variables late, the box would keep its default colour.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.engine.render import RenderOptions, render
from app.errors import VariablesInvalidError
from tests.support.compositions import BOX_CENTRE, BOX_CSS, BOX_HTML, ProjectFactory, write_composition
from tests.support.media_checks import close_to, decode_frame, pixel

pytestmark = pytest.mark.chrome

DECLARATION: list[dict[str, Any]] = [
    {"id": "accent", "type": "color", "default": "#0000ff"},
    {"id": "size", "type": "number", "default": 100, "min": 10, "max": 150},
]
# Runs when the page's inline script runs, before the runtime boots and long before the first frame.
SCRIPT = """
const vars = window.__hfVariables || {};
document.getElementById("box").style.backgroundColor = vars.accent || "#0000ff";
"""


@pytest.fixture(scope="module")
def project(make_project: ProjectFactory) -> Path:
    return make_project(
        "variables",
        writer=write_composition,
        id="vars",
        duration=1,
        fps=30,
        body_html=BOX_HTML,
        css=BOX_CSS,
        script=SCRIPT,
        variables_decl=DECLARATION,
    )


def box_colour(project: Path, out: Path, variables: dict[str, Any] | None, **options: Any) -> tuple[int, ...]:
    result = render(project, out, RenderOptions(variables=variables, **options))
    return pixel(decode_frame(result.output, 0), BOX_CENTRE)


def test_different_variables_give_different_pixels_at_the_same_spot(project: Path, tmp_path: Path) -> None:
    green = box_colour(project, tmp_path / "green.mp4", {"accent": "#00ff00"})
    magenta = box_colour(project, tmp_path / "magenta.mp4", {"accent": "#ff00ff"})
    assert close_to(green, (0, 255, 0)), green
    assert close_to(magenta, (255, 0, 255)), magenta


def test_without_variables_the_page_uses_its_default(project: Path, tmp_path: Path) -> None:
    assert close_to(box_colour(project, tmp_path / "default.mp4", None), (0, 0, 255))


def test_strict_mode_refuses_two_bad_variables_listing_both_before_rendering(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "strict.mp4"
    options = RenderOptions(variables={"accent": 42, "size": 999, "nickname": "x"}, strict_variables=True)
    with pytest.raises(VariablesInvalidError) as caught:
        render(project, out, options)
    message = caught.value.message
    assert message.startswith("3 variable problem(s)")
    assert "'accent'" in message and "'size'" in message and "'nickname'" in message
    assert not out.exists()


def test_strict_mode_with_exactly_two_bad_variables_names_both(project: Path, tmp_path: Path) -> None:
    options = RenderOptions(variables={"accent": "not a colour!", "size": 5}, strict_variables=True)
    with pytest.raises(VariablesInvalidError, match=r"^2 variable problem\(s\).*'accent'.*'size'"):
        render(project, tmp_path / "strict.mp4", options)


def test_non_strict_mode_renders_and_returns_the_problems_as_warnings(project: Path, tmp_path: Path) -> None:
    result = render(
        project, tmp_path / "lenient.mp4", RenderOptions(variables={"accent": "#00ff00", "size": 999, "mood": "x"})
    )
    assert result.output.is_file()
    assert len(result.warnings) == 2
    assert any("'size'" in w and "maximum" in w for w in result.warnings)
    assert any("'mood'" in w and "not declared" in w for w in result.warnings)
    assert close_to(pixel(decode_frame(result.output, 0), BOX_CENTRE), (0, 255, 0))
