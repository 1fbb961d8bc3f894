"""scripts/lambda-entrypoint.sh: which runtime the image starts, run with stub binaries.

A stub ``python`` on PATH and a stub emulator (FRAMECAST_RIE_BIN) record how they were started, so
each branch of the script is observed from the outside, the way the container runs it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "lambda-entrypoint.sh"
HANDLER = "app.aws.handler.handler"
BASH = shutil.which("bash") or "/bin/bash"

# Prints one JSON line: which stub ran, its PID and its arguments.
STUB = """#!/bin/sh
printf '{"stub": "%s", "pid": %s, "args": [' "{name}" "$$"
sep=""
for arg in "$@"; do printf '%s"%s"' "$sep" "$arg"; sep=", "; done
printf ']}\\n'
"""


def _stub(path: Path, name: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(STUB.replace("{name}", name))
    path.chmod(0o755)
    return path


@pytest.fixture
def stubs(tmp_path: Path) -> dict[str, Path]:
    return {
        "python": _stub(tmp_path / "bin" / "python", "python"),
        "rie": _stub(tmp_path / "opt" / "aws-lambda-rie", "rie"),
    }


def _run(env_extra: dict[str, str], stubs: dict[str, Path], *args: str) -> tuple[int, dict[str, object], str]:
    env = {
        "PATH": f"{stubs['python'].parent}:/usr/bin:/bin",
        "FRAMECAST_RIE_BIN": str(stubs["rie"]),
        **env_extra,
    }
    # Started by path, as Docker starts an ENTRYPOINT: the shebang picks the shell.
    proc = subprocess.Popen(
        [str(SCRIPT), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = proc.communicate(timeout=10)
    record = json.loads(out) if out.strip() else {}
    record["_launcher_pid"] = proc.pid
    return proc.returncode, record, err


def test_script_parses_with_bash_n() -> None:
    result = subprocess.run([BASH, "-n", str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_script_is_executable() -> None:
    assert os.access(SCRIPT, os.X_OK)


def test_inside_lambda_execs_awslambdaric_directly(stubs: dict[str, Path]) -> None:
    code, record, err = _run({"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001"}, stubs, HANDLER)

    assert code == 0, err
    assert record["stub"] == "python"
    assert record["args"] == ["-m", "awslambdaric", HANDLER]
    # exec: the runtime replaced the script's process instead of running as its child.
    assert record["pid"] == record["_launcher_pid"]


def test_without_runtime_api_execs_the_emulator_around_awslambdaric(stubs: dict[str, Path]) -> None:
    code, record, err = _run({}, stubs, HANDLER)

    assert code == 0, err
    assert record["stub"] == "rie"
    # The emulator gets python as an absolute path: it does not search PATH for its bootstrap.
    assert record["args"] == [str(stubs["python"]), "-m", "awslambdaric", HANDLER]
    assert record["pid"] == record["_launcher_pid"]


def test_an_empty_runtime_api_counts_as_unset(stubs: dict[str, Path]) -> None:
    code, record, _ = _run({"AWS_LAMBDA_RUNTIME_API": ""}, stubs, HANDLER)
    assert code == 0
    assert record["stub"] == "rie"


def test_extra_arguments_are_passed_through(stubs: dict[str, Path]) -> None:
    _, record, _ = _run({"AWS_LAMBDA_RUNTIME_API": "x:1"}, stubs, HANDLER, "--extra")
    assert record["args"] == ["-m", "awslambdaric", HANDLER, "--extra"]


def test_without_runtime_api_or_emulator_it_explains_and_exits_1(stubs: dict[str, Path], tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "aws-lambda-rie"
    code, record, err = _run({"FRAMECAST_RIE_BIN": str(missing)}, stubs, HANDLER)

    assert code == 1
    assert "stub" not in record
    assert "AWS_LAMBDA_RUNTIME_API is not set" in err
    assert str(missing) in err


def test_a_non_executable_emulator_is_treated_as_missing(stubs: dict[str, Path]) -> None:
    stubs["rie"].chmod(0o644)
    code, _, err = _run({}, stubs, HANDLER)
    assert code == 1
    assert "Runtime Interface Emulator" in err


def test_without_a_handler_it_exits_2_with_usage(stubs: dict[str, Path]) -> None:
    code, record, err = _run({"AWS_LAMBDA_RUNTIME_API": "x:1"}, stubs)
    assert code == 2
    assert "stub" not in record
    assert "no handler given" in err


def test_default_emulator_path_is_the_one_the_dockerfile_installs() -> None:
    assert "/usr/local/bin/aws-lambda-rie" in SCRIPT.read_text()
    assert "/usr/local/bin/aws-lambda-rie" in (REPO_ROOT / "Dockerfile").read_text()
