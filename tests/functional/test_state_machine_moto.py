"""The REAL state machine from infra/template.yaml, executed by moto, against a fake render function.

The fake handler answers with results of the documented shapes and writes nothing, so these tests
prove the definition itself: payload wiring, chunk order, Choice routing, Retry and fail-fast.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from app.errors import RETRY_POLICY, non_retryable_codes
from tests.support.sfn_harness import DEFAULT_BUCKET, run_state_machine

TEMPLATE = Path(__file__).resolve().parents[2] / "infra" / "template.yaml"
RENDER_ID = "r-0001"
PLAN_HASH = "5" * 64
MANIFEST = f"s3://{DEFAULT_BUCKET}/renders/{RENDER_ID}/plan/manifest.json"
EXECUTION_INPUT = {
    "ProjectS3Uri": f"s3://{DEFAULT_BUCKET}/renders/{RENDER_ID}/project.tar.gz",
    "OutputS3Uri": f"s3://{DEFAULT_BUCKET}/outputs/{RENDER_ID}.mp4",
    "Config": {"fps": 30, "format": "mp4", "variables": {"title": "hello"}},
    "RenderId": RENDER_ID,
}
FRAMES_PER_CHUNK = 10


def error_named(code: str, message: str) -> Exception:
    """An exception whose class name is ``code``: Lambda reports that name as the errorType."""
    return type(code, (Exception,), {})(message)


class FakeRenderFunction:
    """Plays plan / renderChunk / assemble with results of the documented shapes.

    ``fail`` maps (action, chunk index or None) to a list of exceptions raised by successive calls;
    once the list is used up, calls succeed.
    """

    def __init__(self, chunk_count: int, fail: dict[tuple[str, int | None], list[Exception]] | None = None):
        self.chunk_count = chunk_count
        self._fail = {key: list(errors) for key, errors in (fail or {}).items()}
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any], context: object) -> dict[str, Any]:
        action = event["Action"]
        with self._lock:
            pending = self._fail.get((action, event.get("ChunkIndex")))
            error = pending.pop(0) if pending else None
        if error is not None:
            raise error
        if action == "plan":
            return self._plan(event)
        if action == "renderChunk":
            return self._render_chunk(event)
        if action == "assemble":
            return self._assemble(event)
        raise error_named("INVALID_EVENT", f"unknown Action {action!r}")

    def _plan(self, event: dict[str, Any]) -> dict[str, Any]:
        return {
            "Action": "plan",
            "PlanHash": PLAN_HASH,
            "ChunkCount": self.chunk_count,
            "ChunkIndexes": list(range(self.chunk_count)),
            "TotalFrames": self.chunk_count * FRAMES_PER_CHUNK,
            "Fps": 30,
            "Width": 320,
            "Height": 180,
            "Format": "mp4",
            "HasAudio": False,
            "PlanManifestS3Uri": event["PlanOutputS3Prefix"] + "manifest.json",
            "DurationMs": 12,
        }

    def _render_chunk(self, event: dict[str, Any]) -> dict[str, Any]:
        index = event["ChunkIndex"]
        return {
            "Action": "renderChunk",
            "ChunkS3Uri": f"{event['ChunkOutputS3Prefix']}{index:04d}.mp4",
            "ChunkIndex": index,
            "Sha256": f"{index:064x}",
            "FramesEncoded": FRAMES_PER_CHUNK,
            "DurationMs": 30,
        }

    def _assemble(self, event: dict[str, Any]) -> dict[str, Any]:
        return {
            "Action": "assemble",
            "OutputS3Uri": event["OutputS3Uri"],
            "FramesEncoded": len(event["ChunkS3Uris"]) * FRAMES_PER_CHUNK,
            "FileSize": 4096,
            "DurationMs": 15,
        }


def chunk_uri(index: int) -> str:
    return f"s3://{DEFAULT_BUCKET}/renders/{RENDER_ID}/chunks/{index:04d}.mp4"


def test_plan_map_assemble_succeeds_and_assemble_gets_chunks_in_order() -> None:
    status, output, error, cause, invocations = run_state_machine(
        TEMPLATE, FakeRenderFunction(chunk_count=5), EXECUTION_INPUT
    )

    assert (status, error, cause) == ("SUCCEEDED", None, None)
    actions = [inv.action for inv in invocations]
    assert actions[0] == "plan" and actions[-1] == "assemble"
    assert sorted(inv.event["ChunkIndex"] for inv in invocations[1:-1]) == [0, 1, 2, 3, 4]

    plan = invocations[0].event
    assert plan == {
        "Action": "plan",
        "ProjectS3Uri": EXECUTION_INPUT["ProjectS3Uri"],
        "PlanOutputS3Prefix": f"s3://{DEFAULT_BUCKET}/renders/{RENDER_ID}/plan/",
        "Config": EXECUTION_INPUT["Config"],
    }
    chunk_events = sorted((inv.event for inv in invocations[1:-1]), key=lambda e: e["ChunkIndex"])
    assert chunk_events[3] == {
        "Action": "renderChunk",
        "PlanHash": PLAN_HASH,
        "ChunkIndex": 3,
        "ChunkOutputS3Prefix": f"s3://{DEFAULT_BUCKET}/renders/{RENDER_ID}/chunks/",
        "Format": "mp4",
        "PlanManifestS3Uri": MANIFEST,
    }
    assert invocations[-1].event == {
        "Action": "assemble",
        "PlanHash": PLAN_HASH,
        "PlanManifestS3Uri": MANIFEST,
        "ChunkS3Uris": [chunk_uri(i) for i in range(5)],
        "OutputS3Uri": EXECUTION_INPUT["OutputS3Uri"],
        "Format": "mp4",
    }
    assert output["Output"] == {
        "OutputS3Uri": EXECUTION_INPUT["OutputS3Uri"],
        "FramesEncoded": 5 * FRAMES_PER_CHUNK,
        "FileSize": 4096,
        "DurationMs": 15,
    }
    assert output["RenderId"] == RENDER_ID
    assert output["Plan"]["PlanHash"] == PLAN_HASH
    # Config may be large: after Plan it must not ride along in every state's input.
    assert "Config" not in output


def test_chunk_order_survives_chunks_finishing_out_of_order() -> None:
    release = {i: threading.Event() for i in range(4)}
    fake = FakeRenderFunction(chunk_count=4)

    def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
        # Chunk i waits for chunk i+1, so chunks complete in reverse order.
        if event["Action"] == "renderChunk":
            index = event["ChunkIndex"]
            if index + 1 in release:
                release[index + 1].wait(timeout=5)
            result = fake(event, context)
            release[index].set()
            return result
        return fake(event, context)

    outcome = run_state_machine(TEMPLATE, handler, EXECUTION_INPUT)

    assert outcome.status == "SUCCEEDED"
    assert outcome.calls("assemble")[0].event["ChunkS3Uris"] == [chunk_uri(i) for i in range(4)]


def test_transient_chunk_failure_is_retried_and_the_render_succeeds() -> None:
    fake = FakeRenderFunction(chunk_count=3, fail={("renderChunk", 1): [RuntimeError("connection reset")]})

    outcome = run_state_machine(TEMPLATE, fake, EXECUTION_INPUT)

    assert outcome.status == "SUCCEEDED", outcome.cause
    chunk_1 = [inv for inv in outcome.calls("renderChunk") if inv.event["ChunkIndex"] == 1]
    assert [inv.error_type for inv in chunk_1] == ["RuntimeError", None]
    # One retry, after the policy's first delay (moto's wait is recorded, not slept).
    assert outcome.retry_delays == [RETRY_POLICY.delay_before_retry(1)]
    assert outcome.calls("assemble")[0].event["ChunkS3Uris"] == [chunk_uri(i) for i in range(3)]


def test_retries_stop_after_the_policy_max_attempts() -> None:
    failures = [RuntimeError(f"still failing {n}") for n in range(RETRY_POLICY.max_attempts + 1)]
    fake = FakeRenderFunction(chunk_count=2, fail={("assemble", None): failures})

    outcome = run_state_machine(TEMPLATE, fake, EXECUTION_INPUT)

    assert (outcome.status, outcome.error) == ("FAILED", "RuntimeError")
    assert len(outcome.calls("assemble")) == 1 + RETRY_POLICY.max_attempts
    assert outcome.retry_delays == [RETRY_POLICY.delay_before_retry(n) for n in range(1, RETRY_POLICY.max_attempts + 1)]


def test_typed_non_retryable_plan_error_fails_at_once() -> None:
    fake = FakeRenderFunction(
        chunk_count=3, fail={("plan", None): [error_named("INVALID_CONFIG", "fps must be 1..120, got 0")]}
    )

    status, _, error, cause, invocations = run_state_machine(TEMPLATE, fake, EXECUTION_INPUT)

    assert (status, error) == ("FAILED", "INVALID_CONFIG")
    assert json.loads(cause)["errorMessage"] == "fps must be 1..120, got 0"
    assert [inv.action for inv in invocations] == ["plan"]


def test_plan_hash_mismatch_in_a_chunk_fails_the_render_without_retrying_that_chunk() -> None:
    assert "PLAN_HASH_MISMATCH" in non_retryable_codes()
    fake = FakeRenderFunction(
        chunk_count=3,
        fail={("renderChunk", 1): [error_named("PLAN_HASH_MISMATCH", "event PlanHash differs from manifest")]},
    )

    outcome = run_state_machine(TEMPLATE, fake, EXECUTION_INPUT)

    assert (outcome.status, outcome.error) == ("FAILED", "PLAN_HASH_MISMATCH")
    assert json.loads(outcome.cause)["errorType"] == "PLAN_HASH_MISMATCH"
    chunk_1 = [inv for inv in outcome.calls("renderChunk") if inv.event["ChunkIndex"] == 1]
    assert len(chunk_1) == 1
    assert outcome.retry_delays == []
    assert outcome.calls("assemble") == []


def test_zero_chunks_ends_in_the_fail_state_with_chunk_count_zero() -> None:
    outcome = run_state_machine(TEMPLATE, FakeRenderFunction(chunk_count=0), EXECUTION_INPUT)

    assert (outcome.status, outcome.error) == ("FAILED", "CHUNK_COUNT_ZERO")
    assert [inv.action for inv in outcome.invocations] == ["plan"]
    assert outcome.entered_states() == ["ValidateInput", "Plan", "AssertChunkCount", "ChunkCountZero"]


def test_forty_chunks_run_in_the_inline_map() -> None:
    outcome = run_state_machine(TEMPLATE, FakeRenderFunction(chunk_count=40), EXECUTION_INPUT)

    assert outcome.status == "SUCCEEDED"
    states = outcome.entered_states()
    assert "RenderChunks" in states and "RenderChunksDistributed" not in states
    assert outcome.calls("assemble")[0].event["ChunkS3Uris"] == [chunk_uri(i) for i in range(40)]


def test_more_than_forty_chunks_take_the_distributed_map() -> None:
    outcome = run_state_machine(TEMPLATE, FakeRenderFunction(chunk_count=41), EXECUTION_INPUT)

    assert outcome.status == "SUCCEEDED", outcome.cause
    states = outcome.entered_states()
    assert "RenderChunksDistributed" in states and "RenderChunks" not in states
    assert any(event["type"] == "MapRunStarted" for event in outcome.history)
    assert sorted(inv.event["ChunkIndex"] for inv in outcome.calls("renderChunk")) == list(range(41))
    assert outcome.calls("assemble")[0].event["ChunkS3Uris"] == [chunk_uri(i) for i in range(41)]


def test_distributed_map_children_retry_transient_failures() -> None:
    # moto 5.2 drops a distributed child that FAILS from the results instead of failing the Map run
    # (AWS fails it: ToleratedFailurePercentage defaults to 0), so only the retry path is checked here.
    fake = FakeRenderFunction(chunk_count=41, fail={("renderChunk", 7): [RuntimeError("throttled")]})

    outcome = run_state_machine(TEMPLATE, fake, EXECUTION_INPUT)

    assert outcome.status == "SUCCEEDED", outcome.cause
    assert outcome.retry_delays == [RETRY_POLICY.delay_before_retry(1)]
    assert outcome.calls("assemble")[0].event["ChunkS3Uris"] == [chunk_uri(i) for i in range(41)]


@pytest.mark.parametrize("missing", ["ProjectS3Uri", "OutputS3Uri", "RenderId", "Config"])
def test_incomplete_execution_input_fails_with_invalid_event_before_any_invocation(missing: str) -> None:
    execution_input = {k: v for k, v in EXECUTION_INPUT.items() if k != missing}

    outcome = run_state_machine(TEMPLATE, FakeRenderFunction(chunk_count=2), execution_input)

    assert (outcome.status, outcome.error) == ("FAILED", "INVALID_EVENT")
    assert outcome.invocations == []
    assert outcome.entered_states() == ["ValidateInput", "InvalidInput"]


def test_a_result_json_cannot_encode_fails_like_lambda_does() -> None:
    def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
        return {"PlanHash": object()}

    outcome = run_state_machine(TEMPLATE, handler, EXECUTION_INPUT)

    assert (outcome.status, outcome.error) == ("FAILED", "Runtime.MarshalError")
    assert len(outcome.calls("plan")) == 1 + RETRY_POLICY.max_attempts
