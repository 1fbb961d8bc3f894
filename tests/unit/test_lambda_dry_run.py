"""``render --backend lambda --dry-run``: the estimate is printed, nothing reaches AWS, bad input exits 2."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import pytest

from app.cli.main import main
from app.cloud import cost
from app.cloud.stack import save_stack
from tests.support.compositions import write_composition
from tests.support.stacks import sample_stack


@pytest.fixture(autouse=True)
def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("FRAMECAST_STATE_DIR", str(tmp_path / "stacks"))

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a dry run must not talk to AWS")

    with mock.patch.object(boto3.session.Session, "client", refuse):
        yield


def record_stack(memory_mb: int, architecture: str) -> None:
    save_stack(sample_stack(memory_mb=memory_mb, architecture=architecture))


def dry_run(project: Path, *extra: str) -> list[str]:
    return ["render", str(project), "--backend", "lambda", "--dry-run", *extra]


def test_dry_run_prints_the_itemised_estimate_of_the_composition(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = write_composition(tmp_path / "p", id="p", width=640, height=360, duration=2, fps=30)
    assert main(dry_run(project, "--chunks", "3", "--json")) == 0
    printed = json.loads(capsys.readouterr().out)
    expected = cost.estimate_render_cost(60, 640, 360, 10240, 3)
    assert (printed["frames"], printed["chunks"], printed["memoryMb"]) == (60, 3, 10240)
    assert printed["estimate"] == expected.model_dump(mode="json")
    assert not (tmp_path / "out").exists()


def test_dry_run_uses_the_recorded_stack_memory_and_architecture(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record_stack(4096, "arm64")
    project = write_composition(tmp_path / "p", id="p", duration=1, fps=30)
    assert main(dry_run(project, "--stack", "prod")) == 0
    err = capsys.readouterr().err
    expected = cost.estimate_render_cost(30, 320, 180, 4096, 3, "arm64")
    assert "4096 MB arm64 (stack prod)" in err
    assert f"total (estimated, arm64): ${expected.total_usd:.4f}" in err
    assert "nothing was uploaded or started" in err


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--stack", "unknown"], "STACK_NOT_FOUND"),
        (["--format", "gif"], "INVALID_CONFIG"),
        (["--variables", "{bad"], "VARIABLES_INVALID"),
    ],
)
def test_dry_run_bad_input_exits_2_with_its_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], code: str
) -> None:
    project = write_composition(tmp_path / "p", id="p", duration=1)
    assert main(dry_run(project, *args)) == 2
    captured = capsys.readouterr()
    assert f"{code}:" in captured.out + captured.err
    assert "Traceback" not in captured.out + captured.err


def test_dry_run_without_a_duration_says_how_to_estimate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = write_composition(tmp_path / "p", id="p", duration=None)
    assert main(dry_run(project)) == 2
    assert "add data-duration" in "".join(capsys.readouterr())


def test_dry_run_is_only_for_the_lambda_backend(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = write_composition(tmp_path / "p", id="p", duration=1)
    assert main(["render", str(project), "--dry-run"]) == 2
    assert "--backend lambda" in "".join(capsys.readouterr())
