"""The RIE backend retries exactly like the state machine: RETRY_POLICY, and non_retryable_codes() fail fast.

Also: chunks fan out one per endpoint at a time, and render_via_rie wires the events together. No
network: the HTTP POST is a scripted fake, S3 a recording fake, and sleeping only records the delay.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from app.aws.s3_uri import S3Uri
from app.distributed.config import RenderConfig
from app.errors import (
    RETRY_POLICY,
    DurationOutOfRangeError,
    EncodeError,
    FramecastError,
    InvalidConfigError,
    RenderError,
    error_class_for_code,
    non_retryable_codes,
)
from app.local.rie import INVOKE_PATH, RieClient, fan_out, render_via_rie

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
    client, _, delays = client_with([ConnectionRefusedError(111, "Connection refused")])
    with pytest.raises(RenderError, match="Connection refused"):
        client.invoke(ENDPOINT, EVENT)
    assert len(delays) == RETRY_POLICY.max_attempts


def test_an_error_document_with_a_non_200_status_is_still_a_typed_error() -> None:
    client, post, _ = client_with([(500, {"errorType": "UNSAFE_ARCHIVE", "errorMessage": "member '../x'"})])
    with pytest.raises(FramecastError) as raised:
        client.invoke(ENDPOINT, EVENT)
    assert (raised.value.code, raised.value.message) == ("UNSAFE_ARCHIVE", "member '../x'")
    assert len(post.calls) == 1


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
        self.two_started = threading.Event()

    def __call__(self, endpoint: str, event: Mapping[str, Any], stop: threading.Event) -> dict[str, Any]:
        index = int(event["ChunkIndex"])
        with self.lock:
            self.seen.append((endpoint, index))
            self.in_flight[endpoint] = self.in_flight.get(endpoint, 0) + 1
            self.max_in_flight[endpoint] = max(self.max_in_flight.get(endpoint, 0), self.in_flight[endpoint])
            if len(self.seen) >= 2:
                self.two_started.set()
        try:
            if index == self.fatal:
                self.two_started.wait(5)  # fail while another endpoint is busy
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


# --- the whole sequence, with S3 and HTTP faked ----------------------------------------------------

PLAN_HASH = "c" * 64


class FakeTransport:
    """Stands in for S3Transport: records uploads, 'downloads' a fixed body."""

    def __init__(self) -> None:
        self.uploaded: list[tuple[Path, str]] = []
        self.downloaded: list[str] = []

    def upload_project(self, project_dir: Path, uri: S3Uri) -> int:
        self.uploaded.append((project_dir, str(uri)))
        return 1

    def download_file(self, uri: S3Uri, dest: Path) -> int:
        self.downloaded.append(str(uri))
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(b"video")
        return 5


class FakeFunction:
    """Answers plan / renderChunk / assemble like the handler would; chunk 0 finishes last."""

    def __init__(self, chunks: int) -> None:
        self.chunks = chunks
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        self.others_done = threading.Event()
        self.done = 0

    def __call__(self, url: str, body: bytes, timeout: float) -> tuple[int, bytes]:
        event = json.loads(body)
        with self.lock:
            self.events.append((url, event))
        action = event["Action"]
        if action == "plan":
            prefix = event["PlanOutputS3Prefix"]
            doc = {
                "PlanHash": PLAN_HASH,
                "ChunkCount": self.chunks,
                "ChunkIndexes": list(range(self.chunks)),
                "TotalFrames": 10 * self.chunks,
                "Fps": 30,
                "Width": 320,
                "Height": 180,
                "Format": "mp4",
                "HasAudio": False,
                "PlanManifestS3Uri": prefix + "plan-manifest.json",
                "DurationMs": 1,
            }
        elif action == "renderChunk":
            index = event["ChunkIndex"]
            if index == 0:
                self.others_done.wait(5)
            doc = {
                "ChunkS3Uri": f"{event['ChunkOutputS3Prefix']}chunk-{index:05d}.mp4",
                "ChunkIndex": index,
                "Sha256": "0" * 64,
                "FramesEncoded": 10,
                "DurationMs": 1,
            }
            with self.lock:
                self.done += index != 0
                if self.done == self.chunks - 1:
                    self.others_done.set()
        else:
            doc = {
                "OutputS3Uri": event["OutputS3Uri"],
                "FramesEncoded": 10 * self.chunks,
                "FileSize": 5,
                "DurationMs": 1,
            }
        return 200, json.dumps(doc).encode()


def test_render_via_rie_wires_plan_chunks_and_assemble_through_the_events(tmp_path: Path) -> None:
    function, transport = FakeFunction(chunks=3), FakeTransport()
    progress: list[tuple[str, int, int]] = []
    project = tmp_path / "project"  # the output must lie outside the project (issue 12)
    project.mkdir()
    result = render_via_rie(
        project,
        tmp_path / "out" / "final.mp4",
        RenderConfig(max_parallel_chunks=3, fps=30),
        endpoints=["http://a:8080", "http://b:8080"],
        bucket="render-bucket",
        render_id="r1",
        progress=lambda *args: progress.append(args),
        sleep=lambda seconds: None,
        transport=transport,  # type: ignore[arg-type]
        post=function,
    )

    assert transport.uploaded == [(project, "s3://render-bucket/renders/r1/project.tar.gz")]
    (plan_url, plan_event), *chunk_calls, (assemble_url, assemble_event) = function.events
    assert plan_url == assemble_url == "http://a:8080" + INVOKE_PATH
    assert plan_event["PlanOutputS3Prefix"] == "s3://render-bucket/renders/r1/plan/"
    assert plan_event["Config"]["maxParallelChunks"] == 3
    assert sorted(event["ChunkIndex"] for _, event in chunk_calls) == [0, 1, 2]
    assert {url for url, _ in chunk_calls} == {"http://a:8080" + INVOKE_PATH, "http://b:8080" + INVOKE_PATH}
    assert {event["PlanHash"] for _, event in chunk_calls} == {PLAN_HASH}
    # Chunk 0 finished last, yet assemble lists the chunks in index order.
    assert assemble_event["ChunkS3Uris"] == [
        f"s3://render-bucket/renders/r1/chunks/chunk-{i:05d}.mp4" for i in range(3)
    ]
    assert assemble_event["OutputS3Uri"] == "s3://render-bucket/outputs/r1/final.mp4"
    assert transport.downloaded == ["s3://render-bucket/outputs/r1/final.mp4"]
    assert result.output.read_bytes() == b"video" and result.frames_encoded == 30
    assert progress == [("chunks", n, 3) for n in range(4)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"endpoints": []}, "no RIE endpoint", id="no-endpoint"),
        pytest.param({"render_id": "../escape"}, "render id", id="bad-render-id"),
        pytest.param({"bucket": "Not_A_Bucket"}, "not a valid S3 bucket name", id="bad-bucket"),
    ],
)
def test_bad_arguments_are_invalid_config_before_anything_is_uploaded(
    kwargs: dict[str, Any], message: str, tmp_path: Path
) -> None:
    transport = FakeTransport()
    arguments: dict[str, Any] = {"endpoints": ["http://a:8080"], "bucket": "render-bucket", **kwargs}
    with pytest.raises(InvalidConfigError, match=message):
        render_via_rie(tmp_path / "project", tmp_path / "o.mp4", RenderConfig(), transport=transport, **arguments)  # type: ignore[arg-type]
    assert transport.uploaded == []
