"""Every usage mistake is one readable ``CODE: message`` line and exit 2, never a traceback (issue 12, class 2).

The installed typer bundles its own click, whose exceptions are not ``click.ClickException``; these
cases pin that the CLI recognises them all (bad values, unknown options and commands, missing
arguments) as well as invalid choices and config JSON. Most run in-process; a few run the installed
command to prove the real entry point behaves the same. No case may write anything.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.cli import usage
from app.cli.main import main
from app.engine.render import RenderOptions

ERROR_LINE = re.compile(r"^([A-Z][A-Z_]+): (.+)$")

CASES: dict[str, tuple[list[str], str, str]] = {
    # id: (argv after the program name, expected code, a fragment the message must hold)
    "crf-not-a-number": (["render", "proj", "--crf", "abc"], "INVALID_INPUT", "--crf"),
    "fps-not-a-number": (["render", "proj", "--fps", "abc"], "INVALID_CONFIG", "--fps"),
    "fps-out-of-range": (["render", "proj", "--fps", "121"], "INVALID_CONFIG", "1-120, 23.976, 29.97, 59.94"),
    "fps-not-ntsc": (["render-batch", "proj", "--batch", "b.jsonl", "--fps", "29.5"], "INVALID_CONFIG", "'29.5'"),
    "workers-zero": (["render", "proj", "--workers", "0"], "INVALID_INPUT", "--workers"),
    "chunks-zero": (["render", "proj", "--chunks", "0"], "INVALID_INPUT", "--chunks"),
    "unknown-option": (["render", "proj", "--bogus"], "INVALID_INPUT", "--bogus"),
    "option-without-value": (["render", "proj", "--quality"], "INVALID_INPUT", "--quality"),
    "missing-argument": (["render"], "INVALID_INPUT", "project"),
    "missing-required-option": (["chunk", "plan", "0"], "INVALID_INPUT", "--output"),
    "index-not-a-number": (["chunk", "plan", "first", "-o", "c.mp4"], "INVALID_INPUT", "first"),
    "misspelt-command": (["rendr", "proj"], "INVALID_INPUT", "Did you mean 'render'"),
    "unknown-codec": (["render", "proj", "--codec", "bogus"], "INVALID_CONFIG", "'bogus'"),
    "config-not-json": (["plan", "proj", "plan", "--config", "{bad"], "INVALID_CONFIG", "not valid JSON"),
    "config-not-an-object": (["plan", "proj", "plan", "--config", "[1]"], "INVALID_CONFIG", "JSON object"),
    "config-bad-field": (["plan", "proj", "plan", "--config", '{"fps": "fast"}'], "INVALID_CONFIG", "fps"),
}


def assert_one_usage_line(code: int, output: str, expected: str, fragment: str) -> None:
    assert code == 2, output
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got {lines!r}"
    found = ERROR_LINE.match(lines[0])
    assert found, f"not a 'CODE: message' line: {lines[0]!r}"
    assert found.group(1) == expected, lines[0]
    assert fragment in found.group(2), f"{fragment!r} not in {lines[0]!r}"


@pytest.mark.parametrize(("argv", "expected", "fragment"), CASES.values(), ids=CASES.keys())
def test_a_usage_mistake_is_one_line_and_exit_2_and_writes_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    expected: str,
    fragment: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    code = main(argv)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert_one_usage_line(code, captured.err, expected, fragment)
    assert list(tmp_path.iterdir()) == [], "a usage error wrote something"


@pytest.mark.parametrize("case", ["crf-not-a-number", "misspelt-command", "config-not-an-object"])
def test_the_installed_command_reports_usage_mistakes_the_same_way(tmp_path: Path, case: str) -> None:
    argv, expected, fragment = CASES[case]
    executable = shutil.which("framecast")
    command = [executable] if executable else [sys.executable, "-m", "app.cli.main"]
    proc = subprocess.run([*command, *argv], capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False)
    assert proc.stdout == ""
    assert_one_usage_line(proc.returncode, proc.stderr, expected, fragment)
    assert list(tmp_path.iterdir()) == []


def test_a_validation_error_from_user_input_names_the_field_and_value() -> None:
    with pytest.raises(ValidationError) as caught:
        RenderOptions.model_validate({"codec": "bogus", "workers": 0})
    error = usage.validation_error(caught.value)
    assert error.code == "INVALID_CONFIG"
    assert "codec" in error.message and "'bogus'" in error.message
    assert "workers" in error.message
    assert "\n" not in error.message
