"""The RIE backend retries exactly like the state machine: RETRY_POLICY, and non_retryable_codes() fail fast.

No network: the HTTP POST is a scripted fake and sleeping only records the delay.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from typing import Any

import pytest

from app.errors import (
    RETRY_POLICY,
    DurationOutOfRangeError,
    EncodeError,
    FramecastError,
    RenderError,
    error_class_for_code,
    non_retryable_codes,
)
from app.local.rie import INVOKE_PATH, RieClient, fan_out

ENDPOINT = "http://rie-1:8080"
EVENT = {"Action": "renderChunk", "ChunkIndex": 0}
RESULT = {"ChunkIndex": 0, "Sha256": "ab"}
Answer = tuple[int, Any] | BaseException


def error_doc(error_type: str, message: str = "boom") -> tuple[int, dict[str, str]]:
    """A function error as the RIE reports it: HTTP 200 with the error document."""
    return 200, {"errorType": error_type, "errorMessage": message}


class ScriptedPost:
    """Answers POSTs from a script (the last answer repeats) and records every URL and body."""

    def __init__(self, answers: Iterable[Answer]) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, dict[str, Any], float]] = []

    def __call__(self, url: str, body: bytes, timeout: float) -> tuple[int, bytes]:
        self.calls.append((url, json.loads(body), timeout))
        answer = self.answers[min(len(self.calls), len(self.answers)) - 1]
        if isinstance(answer, BaseException):
            raise answer
        status, document = answer
        return status, document if isinstance(document, bytes) else json.dumps(document).encode()


def client_with(answers: Iterable[Answer]) -> tuple[RieClient, ScriptedPost, list[float]]:
    delays: list[float] = []
    post = ScriptedPost(answers)
    return RieClient(post=post, sleep=delays.append, timeout=12.5), post, delays


def test_a_result_is_returned_from_one_post_to_the_rie_invoke_path() -> None:
    client, post, delays = client_with([(200, RESULT)])
    assert client.invoke(ENDPOINT + "/", EVENT) == RESULT
    assert post.calls == [(ENDPOINT + INVOKE_PATH, EVENT, 12.5)]
    assert delays == []
    assert (client.invocations, client.retries) == (1, 0)


def test_retry_delays_follow_retry_policy_then_the_remote_error_is_raised() -> None:
    client, post, delays = client_with([error_doc("ENCODE_FAILED", "ffmpeg exited 1: tail")])
    with pytest.raises(EncodeError) as raised:
        client.invoke(ENDPOINT, EVENT)
    assert str(raised.value) == "ffmpeg exited 1: tail"
    # max_attempts retries after the first attempt, like Step Functions' MaxAttempts.
    assert len(post.calls) == 1 + RETRY_POLICY.max_attempts
    assert delays == [RETRY_POLICY.delay_before_retry(n) for n in range(1, RETRY_POLICY.max_attempts + 1)]
    assert delays == [2.0, 4.0, 8.0, 16.0]
    assert client.retries == RETRY_POLICY.max_attempts


@pytest.mark.parametrize("code", non_retryable_codes())
def test_every_non_retryable_code_stops_at_once_as_its_own_error_class(code: str) -> None:
    client, post, delays = client_with([error_doc(code, f"remote says {code}"), (200, RESULT)])
    with pytest.raises(FramecastError) as raised:
        client.invoke(ENDPOINT, EVENT)
    assert type(raised.value) is error_class_for_code(code)
    assert raised.value.code == code
    assert raised.value.message == f"remote says {code}"
    assert len(post.calls) == 1
    assert delays == []


@pytest.mark.parametrize(
    "transient",
    [
        pytest.param((502, b"bad gateway"), id="http-502"),
        pytest.param((500, {"message": "internal"}), id="http-500"),
        pytest.param(ConnectionRefusedError(111, "Connection refused"), id="connection-refused"),
        pytest.param(TimeoutError("timed out"), id="timeout"),
        pytest.param((200, b"<html>not json"), id="not-json"),
        pytest.param(error_doc("Runtime.ExitError", "Runtime exited with error: signal: killed"), id="exit-error"),
        pytest.param(error_doc("CAPTURE_TIMEOUT"), id="retryable-code"),
    ],
)
def test_a_transient_failure_is_retried_after_the_first_delay(transient: Answer) -> None:
    client, post, delays = client_with([transient, (200, RESULT)])
    assert client.invoke(ENDPOINT, EVENT) == RESULT
    assert len(post.calls) == 2
    assert delays == [RETRY_POLICY.delay_before_retry(1)]


def test_an_unknown_error_type_that_never_clears_becomes_render_failed_naming_the_endpoint() -> None:
    client, post, _ = client_with([error_doc("Runtime.ExitError", "killed")])
    with pytest.raises(RenderError) as raised:
        client.invoke(ENDPOINT, EVENT)
    assert raised.value.code == "RENDER_FAILED"
    assert ENDPOINT in raised.value.message and "Runtime.ExitError" in raised.value.message
    assert len(post.calls) == 1 + RETRY_POLICY.max_attempts


def test_a_dead_endpoint_becomes_render_failed_after_the_retries() -> None:
    client, post, delays = client_with([ConnectionRefusedError(111, "Connection refused")])
    with pytest.raises(RenderError, match="Connection refused"):
        client.invoke(ENDPOINT, EVENT)
    assert len(delays) == RETRY_POLICY.max_attempts


def test_a_typed_error_after_transient_ones_still_stops_at_once() -> None:
    client, post, delays = client_with([(502, b""), error_doc("DURATION_OUT_OF_RANGE", "data-duration='0'")])
    with pytest.raises(DurationOutOfRangeError, match="data-duration='0'"):
        client.invoke(ENDPOINT, EVENT)
    assert len(post.calls) == 2
    assert delays == [RETRY_POLICY.delay_before_retry(1)]


# --- fan-out over endpoints ----------------------------------------------------------------------


class FakeEndpoints:
    """An ``invoke`` for fan_out: records concurrency per endpoint; chunk ``fatal`` raises a typed error."""

    def __init__(self, fatal: int | None = None, hold: float = 0.02) -> None:
        self.fatal = fatal
        self.hold = hold
        self.lock = threading.Lock()
        self.in_flight: dict[str, int] = {}
        self.max_in_flight: dict[str, int] = {}
        self.seen: list[tuple[str, int]] = []
        self.release = threading.Event()

    def __call__(self, endpoint: str, event: Mapping[str, Any], stop: threading.Event) -> dict[str, Any]:
        index = int(event["ChunkIndex"])
        with self.lock:
            self.seen.append((endpoint, index))
            self.in_flight[endpoint] = self.in_flight.get(endpoint, 0) + 1
            self.max_in_flight[endpoint] = max(self.max_in_flight.get(endpoint, 0), self.in_flight[endpoint])
        try:
            if index == self.fatal:
                raise DurationOutOfRangeError("chunk says no")
            self.release.wait(self.hold)
            return {"ChunkIndex": index}
        finally:
            with self.lock:
                self.in_flight[endpoint] -= 1


def test_fan_out_keeps_one_invocation_per_endpoint_and_returns_results_in_index_order() -> None:
    invoke = FakeEndpoints()
    events = [{"Action": "renderChunk", "ChunkIndex": i} for i in range(9)]
    progress: list[tuple[int, int]] = []
    results = fan_out(invoke, ["a", "b", "c"], events, lambda done, total: progress.append((done, total)))
    assert [r["ChunkIndex"] for r in results] == list(range(9))
    assert invoke.max_in_flight == {"a": 1, "b": 1, "c": 1}
    assert progress == [(n, 9) for n in range(1, 10)]


def test_fan_out_never_starts_more_workers_than_chunks() -> None:
    invoke = FakeEndpoints()
    results = fan_out(invoke, ["a", "b", "c"], [{"ChunkIndex": 0}])
    assert results == [{"ChunkIndex": 0}]
    assert [endpoint for endpoint, _ in invoke.seen] == ["a"]


def test_a_typed_chunk_error_stops_the_render_and_no_new_chunk_starts() -> None:
    # Endpoint "a" fails fatally on chunk 0 while "b" holds chunk 1 until released.
    invoke = FakeEndpoints(fatal=0, hold=30)
    events = [{"ChunkIndex": i} for i in range(6)]
    try:
        with pytest.raises(DurationOutOfRangeError, match="chunk says no"):
            fan_out(invoke, ["a", "b"], events)
        started = {index for _, index in invoke.seen}
    finally:
        invoke.release.set()
    assert started == {0, 1}
