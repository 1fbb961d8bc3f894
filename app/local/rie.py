"""RIE backend: a distributed render driven over HTTP through Lambda Runtime Interface Emulator endpoints.

Owns three things, and nothing about rendering itself (the function behind each endpoint does that):

* the RIE's invoke protocol: ``POST {endpoint}/2015-03-31/functions/function/invocations`` with the
  JSON event; 200 with the handler's JSON result, or 200 with ``{"errorType", "errorMessage"}`` for a
  function error. Any other status, a connection error, a timeout or an unreadable body is a
  transient failure.
* the retry policy, which is the state machine's: ``app.errors.RETRY_POLICY`` for anything retryable,
  and a function error whose ``errorType`` is in ``non_retryable_codes()`` stops the whole render at
  once, re-raised here as the matching ``FramecastError`` subclass with the remote message.
* the sequence ``render_via_rie`` runs: pack and upload the project, Plan on the first endpoint, the
  chunks spread over every endpoint with exactly one invocation in flight per endpoint (an RIE serves
  one invocation at a time, as one Lambda sandbox does), Assemble with the chunks in index order, and
  the download of the output to ``out_path`` (a file, or a folder for png-sequence), atomically.

S3 goes through ``app.aws.s3_transport``; events and results are ``app.aws.events`` models.
"""

from __future__ import annotations

import functools
import http.client
import json
import logging
import queue
import re
import shutil
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from app.aws.events import AssembleEvent, AssembleResultOut, ChunkResultOut, PlanEvent, PlanResultOut, RenderChunkEvent
from app.aws.s3_transport import S3Transport
from app.aws.s3_uri import S3Uri
from app.distributed.config import RenderConfig
from app.distributed.layout import AUDIO_FILE
from app.engine import scratch
from app.engine.encoder import FRAME_NAME
from app.engine.formats import format_spec
from app.engine.frame_rate import FrameRate
from app.engine.output_path import MARKER_NAME, OutputKind, check_output, mark_output_folder
from app.engine.render import replace_dir
from app.errors import (
    RETRY_POLICY,
    ChunkCountZeroError,
    FramecastError,
    InvalidConfigError,
    RenderError,
    RetryPolicy,
    error_class_for_code,
    non_retryable_codes,
)

log = logging.getLogger(__name__)

INVOKE_PATH = "/2015-03-31/functions/function/invocations"
# Lambda's longest run. The RIE has its own limit (AWS_LAMBDA_FUNCTION_TIMEOUT, 300 s unless set in the
# container); when it cuts an invocation short, that arrives here as a retryable failure.
DEFAULT_TIMEOUT_S = 900.0
_RENDER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
# RIE endpoints are local containers: a proxy from the environment would only get in the way.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

Post = Callable[[str, bytes, float], tuple[int, bytes]]
Sleep = Callable[[float], None]
Progress = Callable[[str, int, int], None]
_Out = TypeVar("_Out", bound=BaseModel)


class RieRenderResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    render_id: str
    output: Path
    output_s3_uri: str
    plan_hash: str
    chunk_count: int
    total_frames: int
    frames_encoded: int
    fps: FrameRate
    width: int
    height: int
    format: str
    has_audio: bool
    size_bytes: int
    invocations: int
    retries: int
    wall_seconds: float


class InvocationFailure(Exception):
    """One failed attempt: a function error (``error_type`` set) or a transport failure (``None``)."""

    def __init__(self, endpoint: str, error_type: str | None, message: str) -> None:
        super().__init__(f"{endpoint}: {error_type or 'transport error'}: {message}")
        self.endpoint = endpoint
        self.error_type = error_type
        self.message = message

    @property
    def retryable(self) -> bool:
        return self.error_type not in non_retryable_codes()

    def to_error(self) -> FramecastError:
        """The typed error to raise: the code's own class with the remote message, else RENDER_FAILED."""
        cls = error_class_for_code(self.error_type) if self.error_type else None
        if cls is not None:
            return cls(self.message)
        return RenderError(
            f"invoking {self.endpoint} failed: {self.error_type or 'transport error'}: {self.message}; "
            "check that the RIE endpoint is up and its function logs"
        )


class _Stopped(Exception):
    """Another part of the render failed for good: give up without trying again."""


def http_post(url: str, body: bytes, timeout: float) -> tuple[int, bytes]:
    """POST JSON; (status, body) for any HTTP answer. Connection failures raise OSError."""
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, exc.read()
        finally:
            exc.close()


class RieClient:
    """Invokes the function behind RIE endpoints, retrying like the state machine does.

    ``post`` and ``sleep`` are seams for tests. Without ``sleep``, waits between retries end early
    when the render is stopped.
    """

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        policy: RetryPolicy = RETRY_POLICY,
        sleep: Sleep | None = None,
        post: Post = http_post,
    ) -> None:
        self.timeout = timeout
        self.policy = policy
        self._sleep = sleep
        self._post = post
        self._lock = threading.Lock()
        self.invocations = 0
        self.retries = 0

    def invoke_once(self, endpoint: str, event: Mapping[str, Any]) -> dict[str, Any]:
        """One attempt; InvocationFailure when it did not return a result."""
        with self._lock:
            self.invocations += 1
        url = endpoint.rstrip("/") + INVOKE_PATH
        try:
            status, body = self._post(url, json.dumps(event).encode(), self.timeout)
        except (OSError, http.client.HTTPException) as exc:  # refused, reset, timed out, garbled
            raise InvocationFailure(endpoint, None, f"{type(exc).__name__}: {exc}") from exc
        try:
            document = json.loads(body)
        except ValueError:
            document = None
        # The RIE answers a function error with 200; an error document is honoured whatever the status,
        # so a typed error is never mistaken for a transient one.
        if isinstance(document, dict) and "errorType" in document:
            message = str(document.get("errorMessage", ""))
            raise InvocationFailure(endpoint, str(document["errorType"]), message)
        if status != 200:
            raise InvocationFailure(endpoint, None, f"HTTP {status}: {body[:300].decode(errors='replace')}")
        if not isinstance(document, dict):
            raise InvocationFailure(endpoint, None, f"the answer is not a JSON object: {body[:200]!r}")
        return document

    def invoke(self, endpoint: str, event: Mapping[str, Any], stop: threading.Event | None = None) -> dict[str, Any]:
        """Invoke until a result, a non-retryable error, or ``policy.max_attempts`` retries have failed."""
        retry = 0
        while True:
            try:
                return self.invoke_once(endpoint, event)
            except InvocationFailure as failure:
                if not failure.retryable or retry >= self.policy.max_attempts:
                    raise failure.to_error() from failure
                retry += 1
                delay = self.policy.delay_before_retry(retry)
                log.warning(
                    "invocation failed; retrying",
                    extra={"endpoint": endpoint, "action": event.get("Action"), "retry": retry, "delay_s": delay},
                )
                with self._lock:
                    self.retries += 1
                self._pause(delay, stop)
                if stop is not None and stop.is_set():
                    raise _Stopped from failure

    def _pause(self, seconds: float, stop: threading.Event | None) -> None:
        if self._sleep is not None:
            self._sleep(seconds)
        elif stop is not None:
            stop.wait(seconds)
        else:
            time.sleep(seconds)


Invoke = Callable[[str, Mapping[str, Any], threading.Event], dict[str, Any]]


def fan_out(
    invoke: Invoke,
    endpoints: Sequence[str],
    events: Sequence[Mapping[str, Any]],
    progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Run every event, one thread per endpoint pulling the next from a queue; results in event order.

    Exactly one invocation is in flight per endpoint. The first error stops the others from starting
    anything new and is raised at once, without waiting for invocations already running (the RIE cannot
    cancel them; their results are discarded). ``progress(done, total)`` runs on the caller's thread.
    """
    pending: queue.SimpleQueue[int] = queue.SimpleQueue()
    for index in range(len(events)):
        pending.put(index)
    finished: queue.SimpleQueue[tuple[int, dict[str, Any] | BaseException]] = queue.SimpleQueue()
    stop = threading.Event()

    def work(endpoint: str) -> None:
        while not stop.is_set():
            try:
                index = pending.get_nowait()
            except queue.Empty:
                return
            try:
                finished.put((index, invoke(endpoint, events[index], stop)))
            except BaseException as exc:  # handed to the caller's thread, which raises it
                finished.put((index, exc))
                return

    workers = [
        threading.Thread(target=work, args=(endpoint,), name=f"rie-{n}", daemon=True)
        for n, endpoint in enumerate(endpoints[: len(events)])
    ]
    for worker in workers:
        worker.start()
    results: dict[int, dict[str, Any]] = {}
    try:
        while len(results) < len(events):
            index, outcome = finished.get()
            if isinstance(outcome, BaseException):
                raise outcome
            results[index] = outcome
            if progress is not None:
                progress(len(results), len(events))
    finally:
        stop.set()
    return [results[index] for index in range(len(events))]


def new_render_id() -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:8]}"


def _result(model: type[_Out], document: dict[str, Any], what: str) -> _Out:
    """Validate a result document; a mismatch means the endpoints run another framecast version."""
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise RenderError(
            f"the {what} result does not match this framecast version ({exc.error_count()} problem(s): "
            f"{exc.errors()[0]['msg']}); run the same framecast version behind the RIE endpoints"
        ) from exc


def render_via_rie(
    project_dir: Path,
    out_path: Path,
    config: RenderConfig,
    *,
    endpoints: list[str],
    bucket: str,
    render_id: str | None = None,
    progress: Progress | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    sleep: Sleep | None = None,
    transport: S3Transport | None = None,
    post: Post = http_post,
    force: bool = False,
) -> RieRenderResult:
    """Render ``project_dir`` to ``out_path`` through RIE endpoints; nothing appears at ``out_path`` on failure.

    Intermediates go under ``s3://bucket/renders/<render_id>/``, the output to
    ``s3://bucket/outputs/<render_id>/<out_path.name>`` (a prefix for png-sequence).
    ``progress("chunks", done, total)`` is called on this thread. ``sleep``, ``transport`` and ``post``
    are seams for tests (see ``RieClient``). The output is checked first (``output_path.check_output``).
    """
    started = time.perf_counter()
    if not endpoints:
        raise InvalidConfigError("no RIE endpoint given; pass at least one URL such as http://localhost:9000")
    kind: OutputKind = "folder" if format_spec(config.format).is_sequence else "file"
    out_path = check_output(out_path, kind=kind, inputs=[project_dir], force=force)
    scratch.sweep_stale(beside=out_path)
    render_id = render_id or new_render_id()
    if not _RENDER_ID.match(render_id):
        raise InvalidConfigError(f"render id {render_id[:80]!r} must be 1-128 letters, digits, '.', '_' or '-'")
    try:
        root = S3Uri.parse(f"s3://{bucket}/renders/{render_id}/")
    except ValueError as exc:
        raise InvalidConfigError(f"bucket {bucket[:80]!r}: {exc}") from exc
    transport = transport or S3Transport()
    client = RieClient(timeout=timeout, sleep=sleep, post=post)
    project_uri = root.child("project.tar.gz")
    transport.upload_project(project_dir, project_uri)

    plan_event = PlanEvent(
        action="plan", project_s3_uri=str(project_uri), plan_output_s3_prefix=str(root.child("plan/")), config=config
    )
    planned = _result(PlanResultOut, client.invoke(endpoints[0], plan_event.dump()), "plan")
    chunk_prefix = str(root.child("chunks/"))
    chunk_events = [
        RenderChunkEvent(
            action="renderChunk",
            plan_hash=planned.plan_hash,
            chunk_index=index,
            chunk_output_s3_prefix=chunk_prefix,
            format=planned.format,
            plan_manifest_s3_uri=planned.plan_manifest_s3_uri,
        ).dump()
        for index in planned.chunk_indexes
    ]
    if not chunk_events:  # what the state machine's AssertChunkCount refuses too
        raise ChunkCountZeroError(f"plan {planned.plan_hash[:12]} has no chunks; check the composition's duration")
    on_chunk = None
    if progress is not None:
        progress("chunks", 0, len(chunk_events))
        on_chunk = functools.partial(progress, "chunks")
    chunk_docs = fan_out(client.invoke, endpoints, chunk_events, on_chunk)
    chunks = [_result(ChunkResultOut, doc, "renderChunk") for doc in chunk_docs]

    is_sequence = format_spec(planned.format).is_sequence
    output_uri = S3Uri(bucket, f"outputs/{render_id}/{out_path.name}{'/' if is_sequence else ''}")
    assemble_event = AssembleEvent(
        action="assemble",
        plan_hash=planned.plan_hash,
        plan_manifest_s3_uri=planned.plan_manifest_s3_uri,
        chunk_s3_uris=tuple(chunk.chunk_s3_uri for chunk in chunks),
        output_s3_uri=str(output_uri),
        format=planned.format,
    )
    assembled = _result(AssembleResultOut, client.invoke(endpoints[0], assemble_event.dump()), "assemble")
    if is_sequence:
        size = _download_sequence(transport, output_uri, out_path, assembled.frames_encoded, planned.has_audio)
    else:
        size = transport.download_file(S3Uri.parse(assembled.output_s3_uri), out_path)
    return RieRenderResult(
        render_id=render_id,
        output=out_path,
        output_s3_uri=assembled.output_s3_uri,
        plan_hash=planned.plan_hash,
        chunk_count=planned.chunk_count,
        total_frames=planned.total_frames,
        frames_encoded=assembled.frames_encoded,
        fps=planned.fps,
        width=planned.width,
        height=planned.height,
        format=planned.format,
        has_audio=planned.has_audio,
        size_bytes=size,
        invocations=client.invocations,
        retries=client.retries,
        wall_seconds=time.perf_counter() - started,
    )


def _download_sequence(transport: S3Transport, prefix: S3Uri, out_path: Path, frames: int, has_audio: bool) -> int:
    """Fetch a png-sequence output (frames numbered from 1, plus the audio) into a folder, all at once."""
    names = [FRAME_NAME.format(number) for number in range(1, frames + 1)] + ([AUDIO_FILE] if has_audio else [])
    out_path.parent.mkdir(parents=True, exist_ok=True)
    staging = scratch.staging_name(out_path, "partial")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        size = sum(transport.download_file(prefix.child(name), staging / name) for name in names)
        mark_output_folder(staging)
        size += (staging / MARKER_NAME).stat().st_size
        replace_dir(staging, out_path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return size
