"""``framecast render`` on bad input: exit code 2, one ``CODE: message`` line naming the problem, no output file.

Most cases call ``app.cli.main.main`` in-process (fast); one runs the installed ``framecast`` command to
prove the real entry point maps errors to the same exit code. A good render exits 0 with its summary.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from app.cli.main import main
from tests.support.compositions import ProjectFactory, write_composition, write_motion

ERROR_LINE = re.compile(r"^([A-Z][A-Z_]+): (.+)$", re.MULTILINE)


@pytest.fixture(scope="module")
def good_project(make_project: ProjectFactory) -> Path:
    return make_project("cli-good", writer=write_motion, duration=1, fps=30)


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def assert_input_error(code: int, output: str, expected_codes: set[str], *fragments: str) -> str:
    assert code == 2, output
    found = ERROR_LINE.search(output)
    assert found, f"no 'CODE: message' line in {output!r}"
    assert found.group(1) in expected_codes, found.group(0)
    for fragment in fragments:
        assert fragment in found.group(2), f"{fragment!r} not in {found.group(0)!r}"
    assert "Traceback" not in output
    return found.group(2)


def no_index_html(folder: Path) -> None:
    folder.mkdir()


def no_composition_root(folder: Path) -> None:
    folder.mkdir()
    (folder / "index.html").write_text("<html><body><p>hello</p></body></html>", encoding="utf-8")


def duration(value: str) -> Callable[[Path], object]:
    return lambda folder: write_composition(folder, id="c", duration=value, script='tl.to("#x", {x: 1});')


@pytest.mark.parametrize(
    ("setup", "expected", "fragment"),
    [
        (lambda folder: None, "COMPOSITION_INVALID", "does not exist"),
        (no_index_html, "COMPOSITION_INVALID", "has no index.html"),
        (no_composition_root, "COMPOSITION_INVALID", "no composition root"),
        (duration("0"), "DURATION_OUT_OF_RANGE", "data-duration='0'"),
        (duration("Infinity"), "DURATION_OUT_OF_RANGE", "data-duration='Infinity'"),
    ],
    ids=["missing-folder", "no-index-html", "no-composition-root", "duration-zero", "duration-infinity"],
)
def test_unusable_project_exits_2_naming_the_problem_and_writes_nothing(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    setup: Callable[[Path], object],
    expected: str,
    fragment: str,
) -> None:
    project = tmp_path / "project"
    setup(project)
    out = tmp_path / "out" / "video.mp4"
    code, output = run_cli(["render", str(project), "-o", str(out)], capsys)
    assert_input_error(code, output, {expected}, fragment)
    assert not out.exists()
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


@pytest.mark.parametrize(
    ("extra", "expected", "fragments"),
    [
        (["--variables", "{not json"], {"VARIABLES_INVALID"}, ("--variables", "not valid JSON")),
        (["--variables", "[1, 2]"], {"VARIABLES_INVALID"}, ("JSON object",)),
        (["--format", "avi"], {"FORMAT_NOT_SUPPORTED", "INVALID_CONFIG"}, ("'avi'", "mp4", "png-sequence")),
        (["--format", "webm", "--codec", "h264"], {"FORMAT_NOT_SUPPORTED"}, ("'h264'", "webm")),
        (["--quality", "ultra"], {"INVALID_CONFIG"}, ("'ultra'",)),
        (["--fps", "121"], {"INVALID_CONFIG"}, ("121", "29.97")),
        (["--crf", "99"], {"INVALID_CONFIG"}, ("99", "0-51")),
        (["--variables", '{"nope": 1}', "--strict-variables"], {"VARIABLES_INVALID"}, ("'nope'",)),
    ],
    ids=["variables-bad-json", "variables-not-object", "unknown-format", "codec-mismatch", "quality", "fps", "crf",
         "strict-undeclared"],
)  # fmt: skip
def test_bad_option_exits_2_naming_the_problem_and_writes_nothing(
    good_project: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    expected: set[str],
    fragments: tuple[str, ...],
) -> None:
    out = tmp_path / "video.mp4"
    code, output = run_cli(["render", str(good_project), "-o", str(out), *extra], capsys)
    assert_input_error(code, output, expected, *fragments)
    assert list(tmp_path.iterdir()) == []


def test_missing_variables_file_exits_2_naming_it(
    good_project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "video.mp4"
    argv = ["render", str(good_project), "-o", str(out), "--variables-file", str(tmp_path / "vars.json")]
    code, output = run_cli(argv, capsys)
    assert_input_error(code, output, {"VARIABLES_INVALID"}, "vars.json")
    assert not out.exists()


def test_installed_command_exits_2_with_the_code_on_stderr(tmp_path: Path) -> None:
    executable = shutil.which("framecast")
    command = [executable] if executable else [sys.executable, "-m", "app.cli.main"]
    out = tmp_path / "video.mp4"
    proc = subprocess.run(
        [*command, "render", str(tmp_path / "missing"), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert_input_error(proc.returncode, proc.stderr, {"COMPOSITION_INVALID"}, "does not exist")
    assert not out.exists()


@pytest.mark.chrome
def test_successful_render_exits_0_and_prints_the_summary(
    good_project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "video.mp4"
    code, output = run_cli(["render", str(good_project), "-o", str(out), "--quality", "draft"], capsys)
    assert code == 0, output
    assert out.is_file() and out.stat().st_size > 0
    summary = " ".join(output.split())  # the console may wrap long lines
    assert summary.startswith("✓"), summary
    assert str(out) in "".join(output.split())
    assert "30 frames" in summary and "1.00 s" in summary and "320x180" in summary
    assert ERROR_LINE.search(output) is None
