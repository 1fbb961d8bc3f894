"""Inputs that can only fail are refused before anything starts (issue 12, class 8).

Odd sizes for codecs that need even ones, a zero frame rate (option or ``data-fps``), a fractional
``data-fps`` reported with its real value, two top-level composition roots: each exits 2 with its code
before a browser launches (launching one fails the test), leaves no output, touches nothing else.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from app.cli.main import main
from tests.support.compositions import ProjectFactory, write_motion
from tests.support.tree import tree_snapshot

ERROR_LINE = re.compile(r"^([A-Z][A-Z_]+): (.+)$", re.MULTILINE)


def _edit(project: Path, old: str, new: str) -> None:
    page = project / "index.html"
    html = page.read_text(encoding="utf-8")
    assert old in html
    page.write_text(html.replace(old, new, 1), encoding="utf-8")


def odd_size(project: Path) -> list[str]:
    _edit(project, 'data-width="320"', 'data-width="321"')
    _edit(project, 'data-height="180"', 'data-height="181"')
    return []


def fps_option_zero(project: Path) -> list[str]:
    return ["--fps", "0"]


def data_fps_zero(project: Path) -> list[str]:
    _edit(project, 'data-fps="30"', 'data-fps="0"')
    return []


def data_fps_between_ntsc_rates(project: Path) -> list[str]:
    _edit(project, 'data-fps="30"', 'data-fps="29.5"')  # 29.97 is exact 30000/1001; 29.5 is nothing
    return []


def two_top_level_roots(project: Path) -> list[str]:
    second = '<div data-composition-id="other" data-width="320" data-height="180" data-duration="1"></div>'
    _edit(project, "</body>", f"{second}</body>")
    return []


Case = Callable[[Path], list[str]]
CASES: dict[str, tuple[Case, str, str]] = {
    "odd size for h264": (odd_size, "FORMAT_NOT_SUPPORTED", "322x182"),
    "--fps 0": (fps_option_zero, "INVALID_CONFIG", "fps '0'"),
    'data-fps="0"': (data_fps_zero, "COMPOSITION_INVALID", "data-fps='0'"),
    'data-fps="29.5"': (data_fps_between_ntsc_rates, "COMPOSITION_INVALID", "29.5"),
    "two top-level roots": (two_top_level_roots, "COMPOSITION_INVALID", "2 top-level composition roots"),
}


@pytest.fixture
def no_browser(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a browser was launched for an input that could only fail")

    monkeypatch.setattr("app.engine.render.acquire_browser", refuse)


@pytest.mark.usefixtures("no_browser")
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_an_input_that_can_only_fail_is_refused_up_front(
    make_project: ProjectFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    case: tuple[Case, str, str],
) -> None:
    prepare, code, needle = case
    project = make_project("hostile-early", writer=write_motion, duration=1, fps=30)
    extra = prepare(project)
    private = tmp_path / "tmpdir"
    private.mkdir()
    monkeypatch.setenv("TMPDIR", str(private))
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    out = tmp_path / "out" / "video.mp4"
    before = tree_snapshot(project.parent)

    exit_code = main(["render", str(project), "-o", str(out), *extra])

    err = capsys.readouterr().err
    assert exit_code == 2, err
    found = ERROR_LINE.search(err)
    assert found and found.group(1) == code, err
    assert needle in err, err
    assert not out.exists()
    assert tree_snapshot(project.parent) == before
    assert list(private.iterdir()) == [], "a temporary folder was left"
