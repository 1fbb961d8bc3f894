"""How far a Lambda render is: ``RenderProgress`` read from the execution, its history and S3.

Sources, all read-only:

* ``DescribeExecution``: status, start/stop times, input (output URI), error and cause;
* the execution history: every Lambda task (plan, chunk, assemble) with its start and end time, which
  gives the billed invocation time for the cost, the plan's result (chunk count, total frames, fps,
  size) and each chunk's result; ``*StateEntered`` events count as state transitions;
* the chunk outputs under ``renders/<id>/chunks/``: the handler uploads each one atomically when the
  chunk is done, so they are per-chunk completion markers, also for chunks that a Distributed Map runs
  in child executions whose tasks are not in this history.

``percent`` weighs plan 5 %, chunks 90 %, assemble 5 %.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict

from app.engine.frame_rate import FrameRate, parse_frame_rate

RenderStatus = Literal["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"]
TERMINAL: Final = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
CHUNK_KEY = re.compile(r"chunk-(\d{5})\.[a-z0-9]+$")
_TASK_ENDS: Final = {"TaskSucceeded", "TaskFailed", "TaskTimedOut"}


class Invocation(BaseModel):
    """One Lambda invocation the execution made (from its history)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    action: str  # plan | renderChunk | assemble | unknown
    seconds: float
    ok: bool
    chunk_index: int | None = None
    error: str | None = None


class RenderProgress(BaseModel):
    """A render's state at one moment; ``--json`` prints exactly this."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    render_id: str
    execution_arn: str
    status: RenderStatus
    started_at: datetime
    stopped_at: datetime | None = None
    elapsed_seconds: float
    chunk_count: int | None = None
    chunks_done: int = 0
    total_frames: int | None = None
    frames_done: int = 0
    fps: FrameRate | None = None
    width: int | None = None
    height: int | None = None
    format: str | None = None
    percent: float = 0.0
    output_uri: str | None = None
    output_size_bytes: int | None = None
    error_code: str | None = None
    error_cause: str | None = None
    memory_mb: int
    invocations: list[Invocation] = []
    lambda_billed_seconds: float = 0.0
    state_transitions: int = 0

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL

    @property
    def lambda_gb_seconds(self) -> float:
        return self.lambda_billed_seconds * self.memory_mb / 1024

    @property
    def billed_ms(self) -> list[int]:
        """Billed duration of each finished invocation, in ms (what ``app.cloud.cost.actual_cost`` takes)."""
        return [math.ceil(inv.seconds * 1000) for inv in self.invocations]


def _payload(text: str | None) -> dict[str, Any]:
    try:
        data = json.loads(text or "null")
    except ValueError:
        return {}
    if isinstance(data, dict) and isinstance(data.get("Payload"), dict):
        inner: dict[str, Any] = data["Payload"]
        return inner
    return data if isinstance(data, dict) else {}


def _action_of(parameters: Mapping[str, Any]) -> tuple[str, int | None]:
    payload = parameters.get("Payload")
    if isinstance(payload, dict):
        index = payload.get("ChunkIndex")
        return str(payload.get("Action", "unknown")), index if isinstance(index, int) else None
    return "unknown", None


def _seconds(start: datetime, end: datetime) -> float:
    # Lambda bills by the millisecond, rounded up.
    return math.ceil(max(0.0, (end - start).total_seconds()) * 1000) / 1000


class _Tasks:
    """Lambda tasks of a history: matched scheduled → started → ended through ``previousEventId``."""

    def __init__(self, events: Iterable[Mapping[str, Any]]) -> None:
        self.by_id: dict[int, Mapping[str, Any]] = {}
        self.invocations: list[Invocation] = []
        self.plan: dict[str, Any] = {}
        self.chunks: dict[int, dict[str, Any]] = {}
        self.assemble: dict[str, Any] = {}
        self.transitions = 0
        for event in events:
            self.by_id[int(event["id"])] = event
            kind = str(event["type"])
            if kind.endswith("StateEntered"):
                self.transitions += 1
            if kind in _TASK_ENDS:
                self._ended(event, kind)

    def _ended(self, event: Mapping[str, Any], kind: str) -> None:
        started = self.by_id.get(int(event.get("previousEventId", 0)))
        scheduled = self.by_id.get(int(started.get("previousEventId", 0))) if started else None
        details = (scheduled or {}).get("taskScheduledEventDetails", {})
        if details.get("resourceType") != "lambda":
            return
        try:
            parameters = json.loads(details.get("parameters") or "{}")
        except ValueError:
            parameters = {}
        action, index = _action_of(parameters)
        seconds = _seconds(started["timestamp"], event["timestamp"]) if started else 0.0
        if kind == "TaskSucceeded":
            result = _payload(event.get("taskSucceededEventDetails", {}).get("output"))
            if action == "plan":
                self.plan = result
            elif action == "renderChunk" and index is not None:
                self.chunks[index] = result
            elif action == "assemble":
                self.assemble = result
            self.invocations.append(Invocation(action=action, seconds=seconds, ok=True, chunk_index=index))
        else:
            failure = event.get("taskFailedEventDetails") or event.get("taskTimedOutEventDetails") or {}
            error = failure.get("error", kind)
            self.invocations.append(
                Invocation(action=action, seconds=seconds, ok=False, chunk_index=index, error=str(error))
            )


def error_message(cause: str | None) -> str | None:
    """The readable part of a Step Functions cause (a Lambda error's ``errorMessage`` when it is one)."""
    if not cause:
        return cause
    try:
        data = json.loads(cause)
    except ValueError:
        return cause
    if isinstance(data, dict) and isinstance(data.get("errorMessage"), str):
        return str(data["errorMessage"])
    return cause


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _rate(value: Any) -> Fraction | None:
    try:
        return parse_frame_rate(value) if value is not None else None
    except ValueError:
        return None


def build_progress(
    *,
    render_id: str,
    described: Mapping[str, Any],
    history: Iterable[Mapping[str, Any]],
    chunk_keys: Iterable[str],
    memory_mb: int,
    now: datetime | None = None,
) -> RenderProgress:
    """Combine a DescribeExecution answer, the history and the chunk keys in S3 into one snapshot."""
    tasks = _Tasks(history)
    status = str(described["status"])
    started: datetime = described["startDate"]
    stopped: datetime | None = described.get("stopDate")
    now = now or datetime.now(UTC)
    try:
        execution_input = json.loads(described.get("input") or "{}")
    except ValueError:
        execution_input = {}
    done = {int(m.group(1)) for key in chunk_keys if (m := CHUNK_KEY.search(key))} | set(tasks.chunks)
    plan = tasks.plan
    chunk_count = _int(plan.get("ChunkCount"))
    total = _int(plan.get("TotalFrames"))
    if chunk_count is not None:
        done = {index for index in done if index < chunk_count}
    frames_done = sum(_int(result.get("FramesEncoded")) or 0 for result in tasks.chunks.values())
    missing_frames = len(done - set(tasks.chunks))
    if missing_frames and total and chunk_count:  # chunks seen only in S3: their share of the frames
        frames_done += round(total * missing_frames / chunk_count)
    if total is not None:
        frames_done = min(frames_done, total)
    percent = 5.0 if plan else 0.0
    if chunk_count:
        percent += 90.0 * len(done) / chunk_count
    if tasks.assemble or status == "SUCCEEDED":
        percent = 100.0
    return RenderProgress(
        render_id=render_id,
        execution_arn=str(described["executionArn"]),
        status=status,
        started_at=started,
        stopped_at=stopped,
        elapsed_seconds=round(((stopped or now) - started).total_seconds(), 3),
        chunk_count=chunk_count,
        chunks_done=len(done),
        total_frames=total,
        frames_done=frames_done,
        fps=_rate(plan.get("Fps")),
        width=_int(plan.get("Width")),
        height=_int(plan.get("Height")),
        format=plan.get("Format") if isinstance(plan.get("Format"), str) else None,
        percent=round(percent, 1),
        output_uri=execution_input.get("OutputS3Uri"),
        output_size_bytes=_int(tasks.assemble.get("FileSize")),
        error_code=described.get("error"),
        error_cause=error_message(described.get("cause")),
        memory_mb=memory_mb,
        invocations=tasks.invocations,
        lambda_billed_seconds=round(sum(inv.seconds for inv in tasks.invocations), 3),
        state_transitions=tasks.transitions,
    )
