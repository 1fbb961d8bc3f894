"""scripts/deploy.sh is a thin caller of ``framecast lambda deploy``: arguments through, exit code back.

A fake ``framecast`` on PATH records its argv and exits with a chosen code; without one on PATH the
script runs this checkout's CLI (``python -m app.cli.main``), whose own answers prove the wiring.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "deploy.sh"
BASH = shutil.which("bash") or "/bin/bash"

FAKE_FRAMECAST = """#!{bash}
printf '%s\\n' "$@" >"$FAKE_LOG"
exit "${{FAKE_EXIT:-0}}"
"""


def _run(args: list[str], path: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {
        "PATH": path,
        "HOME": str(tmp_path),
        "PYTHON": sys.executable,
        "FRAMECAST_STATE_DIR": str(tmp_path / "stacks"),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
        **env,
    }
    return subprocess.run(
        [BASH, str(SCRIPT), *args], cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def fake_bin(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "framecast"
    fake.write_text(FAKE_FRAMECAST.format(bash=BASH))
    fake.chmod(0o755)
    return bin_dir


@pytest.mark.parametrize("exit_code", [0, 1, 2])
def test_every_argument_goes_to_framecast_lambda_deploy_and_its_exit_code_comes_back(
    fake_bin: Path, tmp_path: Path, exit_code: int
) -> None:
    args = ["--stack", "Demo", "--region", "eu-west-1", "--alarm-email", "ops@example.com", "--tag", "v 1"]

    run = _run(args, str(fake_bin), tmp_path, FAKE_LOG=str(tmp_path / "argv"), FAKE_EXIT=str(exit_code))

    assert run.returncode == exit_code, run.stderr
    assert (tmp_path / "argv").read_text().splitlines() == ["lambda", "deploy", *args]


def test_without_framecast_on_path_the_checkout_cli_runs_and_refuses_a_missing_stack(tmp_path: Path) -> None:
    run = _run([], os.defpath, tmp_path)

    assert run.returncode == 2
    assert "--stack" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "stacks").exists()


def test_without_credentials_the_checkout_cli_says_how_to_set_them_and_changes_nothing(tmp_path: Path) -> None:
    run = _run(["--stack", "demo", "--region", "eu-west-1"], os.defpath, tmp_path)

    assert run.returncode == 2, run.stderr
    assert "AWS_CREDENTIALS_MISSING" in run.stderr and "AWS_ACCESS_KEY_ID" in run.stderr
    assert not (tmp_path / "stacks").exists()


def test_script_is_strict_bash_and_has_one_implementation() -> None:
    text = SCRIPT.read_text()
    assert text.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in text
    assert "lambda deploy" in text and "aws cloudformation" not in text and "docker build" not in text
