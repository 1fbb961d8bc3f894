"""render-batch on Lambda, against moto with the REAL template and state machine (tests.support.moto_stack).

Most tests swap the Lambda invocation for a fast fake (plan → one chunk → assemble, a few hundred ms,
with a gate a test can close) so 20 executions finish in seconds and a test can hold renders RUNNING;
everything between the client and the invocation — StartExecution, the state machine, history,
DescribeExecution, StopExecution — is moto running the real definition. One test runs real renders
through the real handler end to end.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.batch.manifest import read_manifest
from app.cli.main import main
from app.cloud.stack import StackState, save_stack
from tests.functional.test_batch_local import small_variables_project, write_batch
from tests.support.media_checks import close_to, decode_frame, pixel, probe_video
from tests.support.moto_stack import ACCOUNT_ID, IMAGE_URI, REGION, TEMPLATE, MotoStack, moto_stack_server

STACK = "batchtest"


class FakeRenders:
    """Answers plan/renderChunk/assemble like the handler would, quickly, and tracks running renders."""

    def __init__(self, stack: MotoStack) -> None:
        self.stack = stack
        self.gate = threading.Event()
        self.gate.set()
        self.lock = threading.Lock()
        self.running: set[str] = set()
        self.peak = 0
        self.plans: list[str] = []
        self.seconds = 0.15

    def invoke(self, backend: Any, function_name: str, qualifier: Any, body: Any, headers: dict[str, str]) -> bytes:
        event = json.loads(body.decode() if isinstance(body, bytes) else body)
        action = event["Action"]
        if action == "plan":
            render_id = event["PlanOutputS3Prefix"].split("/renders/")[1].split("/")[0]
            with self.lock:
                self.plans.append(render_id)
                self.running.add(render_id)
                self.peak = max(self.peak, len(self.running))
            self.gate.wait(120)
            prefix = event["PlanOutputS3Prefix"]
            result: dict[str, Any] = {
                "PlanHash": "0" * 64,
                "ChunkCount": 1,
                "ChunkIndexes": [0],
                "TotalFrames": 6,
                "Format": "mp4",
                "PlanManifestS3Uri": f"{prefix}plan-manifest.json",
                "RenderId": render_id,
            }
        elif action == "renderChunk":
            result = {"ChunkIndex": 0, "ChunkS3Uri": f"{event['ChunkOutputS3Prefix']}chunk-00000.mp4"}
        else:
            render_id = event["PlanManifestS3Uri"].split("/renders/")[1].split("/")[0]
            with self.lock:
                self.running.discard(render_id)
            result = {"OutputS3Uri": event["OutputS3Uri"], "FramesEncoded": 6, "FileSize": 1, "DurationMs": 200}
        time.sleep(self.seconds)
        payload = json.dumps(result).encode()
        headers["Content-Length"] = str(len(payload))
        return payload


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoStack]:
    with moto_stack_server() as stack:
        yield stack


@pytest.fixture(scope="module")
def state_dir(moto: MotoStack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Deploy the real template into moto and record the stack the way `framecast lambda deploy` does."""
    cfn = moto.client("cloudformation")
    with warnings.catch_warnings():
        # moto warns (pytest: errors) about the resource types it skips: alarms, bucket policy, secret.
        warnings.simplefilter("ignore", UserWarning)
        cfn.create_change_set(
            StackName=STACK,
            ChangeSetName="deploy",
            ChangeSetType="CREATE",
            TemplateBody=TEMPLATE.read_text(encoding="utf-8"),
            Parameters=[{"ParameterKey": "ImageUri", "ParameterValue": IMAGE_URI}],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
        )
        cfn.execute_change_set(ChangeSetName="deploy", StackName=STACK)
    described = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
    folder = tmp_path_factory.mktemp("stacks")
    state = StackState(
        stack=STACK,
        region=REGION,
        account_id=ACCOUNT_ID,
        stack_id=described["StackId"],
        bucket=outputs["BucketName"],
        state_machine_arn=outputs["StateMachineArn"],
        function_name=outputs["FunctionName"],
        function_arn=outputs["FunctionArn"],
        memory_mb=3008,
        timeout_seconds=900,
        architecture="x86_64",
        image_uri=IMAGE_URI,
        image_digest=None,
        deployed_at=datetime.now(UTC),
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FRAMECAST_STATE_DIR", str(folder))
        save_stack(state)
    return folder


@pytest.fixture
def aws_env(moto: MotoStack, state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {**moto.env(), "FRAMECAST_STATE_DIR": str(state_dir), "FRAMECAST_BATCH_POLL_SECONDS": "0.2"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def fake(moto: MotoStack, aws_env: dict[str, str]) -> Iterator[FakeRenders]:
    fake = FakeRenders(moto)
    moto.invoke = fake.invoke  # type: ignore[method-assign]
    try:
        yield fake
    finally:
        fake.gate.set()
        del moto.invoke


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_variables_project(tmp_path_factory.mktemp("lambda-batch") / "project")


def rows(count: int, prefix: str) -> list[dict[str, Any]]:
    return [{"outputKey": f"{prefix}/{i:02d}.mp4", "variables": {"name": f"Person {i}"}} for i in range(count)]


def executions(moto: MotoStack) -> list[dict[str, Any]]:
    sfn = moto.client("stepfunctions")
    arn = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    found: list[dict[str, Any]] = []
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn):
        found.extend(page["executions"])
    return found


def batch_argv(project: Path, batch: Path, manifest: Path, *extra: str) -> list[str]:
    return [
        "render-batch",
        str(project),
        "--batch",
        str(batch),
        "--backend",
        "lambda",
        "--stack",
        STACK,
        "--manifest",
        str(manifest),
        "--yes",
        *extra,
    ]


def test_twenty_rows_with_a_cap_of_three_and_one_row_that_cannot_start(
    moto: MotoStack, fake: FakeRenders, project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sfn = moto.client("stepfunctions")
    machine = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    sfn.start_execution(stateMachineArn=machine, name="taken-name", input=json.dumps({"Other": "input"}))
    batch_rows = rows(20, "cap")
    batch_rows[6]["executionName"] = "taken-name"  # exists with another input: that start must fail
    batch = write_batch(tmp_path / "people.jsonl", batch_rows)
    manifest = tmp_path / "m.jsonl"
    before = {e["name"] for e in executions(moto)}
    code = main(batch_argv(project, batch, manifest, "--max-concurrent", "3", "--wait", "--json"))
    captured = capsys.readouterr()
    assert code == 1, captured.err
    document = json.loads(captured.out)
    statuses = [row["status"] for row in document["rows"]]
    assert statuses[6] == "failed-to-start"
    assert "RENDER_ALREADY_EXISTS" in document["rows"][6]["error"]
    assert statuses[:6] + statuses[7:] == ["succeeded"] * 19, document["rows"][0]["error"]
    assert [row["line"] for row in document["rows"]] == list(range(1, 21))  # input order
    assert 1 <= fake.peak <= 3, fake.peak
    assert "peak in flight 3" in captured.err
    started = [e for e in executions(moto) if e["name"] not in before]
    assert len(started) == 19 and len({e["name"] for e in started}) == 19
    assert {row["executionArn"] for row in document["rows"] if row["status"] == "succeeded"} == {
        e["executionArn"] for e in started
    }
    assert all(row["cost"] is not None and row["cost"] > 0 for row in document["rows"] if row["status"] == "succeeded")
    assert document["rows"][0]["outputUri"].endswith("/outputs/cap/00.mp4")
    assert "total cost: $" in captured.err
    assert "20 renders, 600 frames, estimated $" in captured.err  # the gate's line, before the first start


def test_dry_run_validates_estimates_and_starts_nothing(
    moto: MotoStack, fake: FakeRenders, project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = write_batch(tmp_path / "people.jsonl", rows(12, "dry"))
    before = len(executions(moto))
    code = main(batch_argv(project, batch, tmp_path / "m.jsonl", "--dry-run", "--json"))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert [row["status"] for row in json.loads(captured.out)["rows"]] == ["would-start"] * 12
    assert "12 renders, 360 frames, estimated $" in captured.err
    _, written = read_manifest(tmp_path / "m.jsonl")
    assert {row.status for row in written.values()} == {"would-start"}
    assert len(executions(moto)) == before and fake.plans == []


def test_without_a_terminal_or_yes_a_batch_over_max_cost_is_refused_before_any_start(
    moto: MotoStack, fake: FakeRenders, project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = write_batch(tmp_path / "people.jsonl", rows(5, "gate"))
    before = len(executions(moto))
    argv = batch_argv(project, batch, tmp_path / "m.jsonl", "--max-cost", "0.0000001")
    code = main([arg for arg in argv if arg != "--yes"])
    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert "COST_LIMIT_EXCEEDED: 5 renders, 150 frames, estimated $" in captured.err
    assert len(executions(moto)) == before and fake.plans == []
    assert not (tmp_path / "m.jsonl").exists()


def cli() -> list[str]:
    found = shutil.which("framecast")
    return [found] if found else [sys.executable, "-m", "app.cli.main"]


def wait_for_started(manifest: Path, count: int, process: subprocess.Popen[Any], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        if manifest.exists():
            _, found = read_manifest(manifest)
            if sum(row.status == "started" for row in found.values()) >= count:
                return
        time.sleep(0.05)
    raise AssertionError(f"{count} row(s) were not started within {timeout} s")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_interrupt_then_resume_never_starts_a_row_twice(
    moto: MotoStack,
    fake: FakeRenders,
    project: Path,
    tmp_path: Path,
    aws_env: dict[str, str],
    sig: signal.Signals,
) -> None:
    prefix = f"sig{int(sig)}"
    batch = write_batch(tmp_path / "people.jsonl", rows(8, prefix))
    manifest = tmp_path / "m.jsonl"
    before = {e["name"] for e in executions(moto)}
    fake.gate.clear()  # renders stay RUNNING: three in flight, the cap holds the rest back
    env = {**os.environ, **aws_env}
    process = subprocess.Popen(
        [*cli(), *batch_argv(project, batch, manifest, "--max-concurrent", "3", "--wait")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    wait_for_started(manifest, 3, process)
    time.sleep(0.3)
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=60)
    _, interrupted = read_manifest(manifest)
    started_arns = {row.line: row.execution_arn for row in interrupted.values() if row.status == "started"}
    running = {e["executionArn"] for e in executions(moto) if e["name"] not in before}
    if sig == signal.SIGINT:
        assert process.returncode == 130, stderr
        assert "--resume" in stderr and "framecast lambda cancel" in stderr
        assert set(started_arns.values()) == running  # every started execution is in the manifest
        assert len(manifest.read_text().splitlines()) == 1 + 8  # compacted
    else:
        assert process.returncode == -signal.SIGKILL
        assert set(started_arns.values()) <= running
        # The worst moment for a kill: after StartExecution returned, before its record was written.
        # Drop the last "started" record to prove a re-dispatch finds the execution instead of a twin.
        lines = manifest.read_text().splitlines()
        last = max(i for i, line in enumerate(lines) if '"status":"started"' in line)
        manifest.write_text("\n".join(lines[:last] + lines[last + 1 :]) + "\n")
    assert len(running) == 3
    fake.gate.set()
    resumed = subprocess.run(
        [*cli(), *batch_argv(project, batch, manifest, "--max-concurrent", "3", "--wait", "--resume", str(manifest))],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stderr
    _, final = read_manifest(manifest)
    assert [final[i].status for i in range(1, 9)] == ["succeeded"] * 8
    for line, arn in started_arns.items():
        assert final[line].execution_arn == arn  # followed, not started again
    mine = [e for e in executions(moto) if e["name"] not in before]
    assert len(mine) == 8, sorted(e["name"] for e in mine)  # one execution per row, none twice
    assert {final[i].execution_arn for i in range(1, 9)} == {e["executionArn"] for e in mine}


@pytest.mark.chrome
def test_real_renders_through_the_real_handler_end_to_end(
    moto: MotoStack, aws_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = small_variables_project(tmp_path / "project")
    index = project / "index.html"
    index.write_text(index.read_text().replace('data-duration="1"', 'data-duration="0.5"'), encoding="utf-8")
    batch_rows = [
        {"outputKey": "real/red.mp4", "variables": {"name": "Red", "accent": "#ff0000"}},
        {"outputKey": "real/blue.mp4", "variables": {"name": "Blue", "accent": "#0000ff"}},
    ]
    batch = write_batch(tmp_path / "people.jsonl", batch_rows)
    code = main(batch_argv(project, batch, tmp_path / "m.jsonl", "--max-concurrent", "2", "--wait", "--json"))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    document = json.loads(captured.out)
    assert [row["status"] for row in document["rows"]] == ["succeeded", "succeeded"]
    assert len({document["batch"]["siteId"]}) == 1  # one upload for the whole batch
    s3 = moto.client("s3")
    for row, expected in zip(document["rows"], [(255, 0, 0), (0, 0, 255)], strict=True):
        bucket, key = row["outputUri"][len("s3://") :].split("/", 1)
        assert key == "outputs/" + row["outputKey"]
        local = tmp_path / Path(key).name
        s3.download_file(bucket, key, str(local))
        assert probe_video(local).frames == 15
        assert close_to(pixel(decode_frame(local, 14), (10, 120)), expected, 40)
        assert row["cost"] > 0
    sites = s3.list_objects_v2(Bucket=bucket, Prefix="sites/")["Contents"]
    assert len([o for o in sites if o["Key"].endswith("project.tar.gz")]) >= 1
