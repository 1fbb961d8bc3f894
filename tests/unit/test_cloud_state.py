"""The client's local pieces without AWS: the stack state file, render ids, session errors, progress parsing."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from app.cloud import renders
from app.cloud.render_progress import build_progress
from app.cloud.session import AwsClients, AwsTarget
from app.cloud.stack import StackState, delete_stack_state, list_stacks, load_stack, save_stack
from app.errors import (
    AwsCredentialsMissingError,
    AwsRegionInvalidError,
    InputError,
    RegionMismatchError,
    RenderIdInvalidError,
    StackNotFoundError,
)
from tests.support.stacks import DEPLOYED_AT, sample_stack

T0 = DEPLOYED_AT


def _state(name: str = "prod", region: str = "eu-west-1") -> StackState:
    return sample_stack(name, region)


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "stacks"
    monkeypatch.setenv("FRAMECAST_STATE_DIR", str(folder))
    return folder


def test_state_file_round_trips_atomically_and_is_removed(state_dir: Path) -> None:
    path = save_stack(_state())

    assert path == state_dir / "prod.json" and [p.name for p in state_dir.iterdir()] == ["prod.json"]
    assert load_stack("prod") == _state() and load_stack("prod", "eu-west-1") == _state()
    assert [s.stack for s in list_stacks()] == ["prod"]
    assert delete_stack_state("prod") is True and delete_stack_state("prod") is False


def test_unknown_stack_lists_the_known_ones() -> None:
    save_stack(_state("prod"))
    save_stack(_state("staging", "us-east-1"))

    with pytest.raises(StackNotFoundError, match=r"known stacks: prod \(eu-west-1\), staging \(us-east-1\)") as err:
        load_stack("nope")
    assert err.value.exit_code == 2 and "framecast lambda deploy --stack nope" in err.value.message


def test_region_mismatch_names_both_regions() -> None:
    save_stack(_state())

    with pytest.raises(RegionMismatchError, match="deployed in eu-west-1, not us-west-2; pass --region eu-west-1"):
        load_stack("prod", "us-west-2")


@pytest.mark.parametrize("name", ["", "9lives", "a" * 49, "../etc", "a b"])
def test_bad_stack_names_are_input_errors_and_touch_no_file(name: str, state_dir: Path) -> None:
    with pytest.raises(InputError, match="1-48 letters"):
        load_stack(name)
    assert not state_dir.exists()


def test_a_corrupt_state_file_says_how_to_rewrite_it(state_dir: Path) -> None:
    state_dir.mkdir()
    (state_dir / "prod.json").write_text('{"stack": "prod"}')

    with pytest.raises(StackNotFoundError, match="re-run 'framecast lambda deploy --stack prod'"):
        load_stack("prod")
    assert list_stacks() == []


def test_render_ids_are_readable_and_name_the_execution() -> None:
    render_id = renders.new_render_id(T0)

    assert render_id.startswith("r-20261202-153012-") and len(render_id) == len("r-20261202-153012-ab12cd")
    assert renders.execution_arn(_state(), render_id) == (
        f"arn:aws:states:eu-west-1:123456789012:execution:prod-render:{render_id}"
    )
    assert renders.new_render_id(T0) != render_id


@pytest.mark.parametrize("bad", ["", "bad id", "r-1;rm -rf /", "-leading", "x" * 81, "r/1"])
def test_bad_render_ids_are_refused(bad: str) -> None:
    with pytest.raises(RenderIdInvalidError) as err:
        renders.check_render_id(bad)
    assert err.value.exit_code == 2


def test_execution_input_is_canonical_and_validates_the_config() -> None:
    site = "s-" + "0" * 20
    one = renders.execution_input(
        _state(), site_id=site, config={"maxParallelChunks": 3}, output_key="outputs/r/x.mp4", render_id="r"
    )
    two = renders.execution_input(
        _state(), site_id=site, config={"max_parallel_chunks": 3}, output_key="outputs/r/x.mp4", render_id="r"
    )
    assert one == two
    assert json.loads(one)["ProjectS3Uri"] == f"s3://prod-renderbucket-1/sites/{site}/project.tar.gz"
    with pytest.raises(InputError, match="fps"):
        renders.execution_input(_state(), site_id=site, config={"fps": 121}, output_key="o", render_id="r")


def test_session_errors_say_how_to_fix_them(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_ACCESS_KEY_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    with pytest.raises(AwsRegionInvalidError, match="pass --region"):
        AwsClients(AwsTarget(stack="prod"))
    with pytest.raises(AwsRegionInvalidError, match="'mars-central-1'"):
        AwsClients(AwsTarget(stack="prod", region="mars-central-1"))
    with pytest.raises(AwsCredentialsMissingError, match="aws configure --profile nobody"):
        AwsClients(AwsTarget(stack="prod", region="eu-west-1", profile="nobody"))
    with pytest.raises(AwsCredentialsMissingError, match="AWS_ACCESS_KEY_ID") as err:
        AwsClients(AwsTarget(stack="prod", region="eu-west-1")).require_credentials()
    assert err.value.exit_code == 2


def _task(events: list[dict[str, Any]], action: str, start: float, end: float, result: Any, index: int | None = None):
    payload: dict[str, Any] = {"Action": action} | ({"ChunkIndex": index} if index is not None else {})
    first = len(events) + 1
    events.append({"id": first, "previousEventId": 0, "type": "TaskStateEntered", "timestamp": T0})
    events.append(
        {
            "id": first + 1,
            "previousEventId": first,
            "type": "TaskScheduled",
            "timestamp": T0 + timedelta(seconds=start),
            "taskScheduledEventDetails": {"resourceType": "lambda", "parameters": json.dumps({"Payload": payload})},
        }
    )
    events.append(
        {
            "id": first + 2,
            "previousEventId": first + 1,
            "type": "TaskStarted",
            "timestamp": T0 + timedelta(seconds=start),
        }
    )
    end_event: dict[str, Any] = {
        "id": first + 3,
        "previousEventId": first + 2,
        "timestamp": T0 + timedelta(seconds=end),
    }
    if isinstance(result, str):
        end_event |= {"type": "TaskFailed", "taskFailedEventDetails": {"error": result}}
    else:
        end_event |= {"type": "TaskSucceeded", "taskSucceededEventDetails": {"output": json.dumps({"Payload": result})}}
    events.append(end_event)


def test_progress_combines_history_and_chunk_markers() -> None:
    events: list[dict[str, Any]] = []
    _task(events, "plan", 0, 2.0001, {"ChunkCount": 4, "TotalFrames": 100, "Fps": 25, "Width": 320, "Height": 180})
    _task(events, "renderChunk", 2, 5, {"ChunkIndex": 0, "FramesEncoded": 25}, index=0)
    _task(events, "renderChunk", 2, 3, "STORAGE_ERROR", index=1)
    described = {
        "executionArn": "arn:x",
        "status": "RUNNING",
        "startDate": T0,
        "input": json.dumps({"OutputS3Uri": "s3://b/outputs/r/x.mp4"}),
    }
    # Chunk 2's output is in S3 (a Distributed Map child ran it); the stray key is ignored.
    keys = ["renders/r/chunks/chunk-00000.mp4", "renders/r/chunks/chunk-00002.mp4", "renders/r/chunks/chunk-00009.mp4"]

    progress = build_progress(
        render_id="r",
        described=described,
        history=events,
        chunk_keys=keys,
        memory_mb=2048,
        now=T0 + timedelta(seconds=9),
    )

    assert (progress.chunk_count, progress.chunks_done, progress.total_frames, progress.frames_done) == (4, 2, 100, 50)
    assert progress.percent == 50.0 and progress.elapsed_seconds == 9.0 and progress.fps == 25
    assert progress.billed_ms == [2001, 3000, 1000] and progress.lambda_billed_seconds == 6.001
    assert progress.lambda_gb_seconds == pytest.approx(12.002)
    assert [inv.error for inv in progress.invocations] == [None, None, "STORAGE_ERROR"]
    assert progress.state_transitions == 3 and progress.output_uri == "s3://b/outputs/r/x.mp4"
    assert not progress.finished


def test_a_failed_execution_shows_the_lambda_error_message() -> None:
    cause = json.dumps({"errorType": "S3_URI_NOT_ALLOWED", "errorMessage": "bucket x is not allowed"})
    described = {
        "executionArn": "arn:x",
        "status": "FAILED",
        "startDate": T0,
        "stopDate": T0,
        "error": "S3_URI_NOT_ALLOWED",
        "cause": cause,
    }

    progress = build_progress(render_id="r", described=described, history=[], chunk_keys=[], memory_mb=2048)

    assert (progress.error_code, progress.error_cause, progress.finished) == (
        "S3_URI_NOT_ALLOWED",
        "bucket x is not allowed",
        True,
    )
