"""Which rows a batch run dispatches: all of them, or (``--resume``) what a previous run left to do.

Resume rules: rows ``succeeded`` or ``skipped`` are kept; rows ``started`` on a durable backend
(Lambda) are never started again (with ``wait`` they are followed to their end); rows ``started``
locally died with the process that rendered them and run again; ``failed``/``failed-to-start`` run
again only with ``retry_failed``; ``cancelled`` and ``would-start`` rows run. The manifest must
belong to the same batch file (digest) and backend, or resuming is refused.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from app.batch.batch_file import BatchFile
from app.batch.dispatch import Task
from app.batch.manifest import FAILED_STATUSES, BatchHeader, ManifestRow
from app.errors import BatchManifestError


def batch_id(batch: BatchFile, project_identity: str) -> str:
    """A stable id for this batch file rendered from this project/site (names derive from it)."""
    return hashlib.sha256(f"{batch.digest}\n{project_identity}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RunPlan:
    rows: list[ManifestRow]  # the starting manifest: one row per batch line
    tasks: list[Task]  # what to dispatch, in input order
    kept: int  # rows a previous run finished (or started) that this run leaves alone


def check_same_batch(previous: BatchHeader, header: BatchHeader, manifest: str) -> None:
    if previous.batch_digest != header.batch_digest:
        raise BatchManifestError(
            f"{manifest} was written for a different batch file (sha256 {previous.batch_digest[:12]}…, this one "
            f"is {header.batch_digest[:12]}…); resume with the same batch file or drop --resume"
        )
    if previous.backend != header.backend:
        raise BatchManifestError(
            f"{manifest} was written by the {previous.backend} backend; resume it with --backend {previous.backend}"
        )


def plan_run(
    batch: BatchFile,
    previous: dict[int, ManifestRow] | None,
    *,
    durable_starts: bool,
    retry_failed: bool,
    wait: bool,
) -> RunPlan:
    rows: list[ManifestRow] = []
    tasks: list[Task] = []
    kept = 0
    for row in batch.rows:
        before = (previous or {}).get(row.line)
        if before is not None and before.output_key != row.output_key:
            raise BatchManifestError(
                f"manifest line {row.line} is for {before.output_key!r} but the batch file now says "
                f"{row.output_key!r}; resume with the batch file the manifest was made from"
            )
        fresh = ManifestRow(line=row.line, output_key=row.output_key, status="would-start")
        status = before.status if before is not None else "would-start"
        if before is None or status == "would-start":
            rows.append(fresh)
            tasks.append(Task(row))
        elif status in ("succeeded", "skipped") or (status in FAILED_STATUSES and not retry_failed):
            rows.append(before)
            kept += 1
        elif status == "started" and durable_starts:
            rows.append(before)
            kept += 1
            if wait:
                tasks.append(Task(row, follow_only=True))
        else:  # cancelled, retried failures, local rows that died with their process
            rows.append(before.with_(status="would-start", error=None))
            tasks.append(Task(row))
    return RunPlan(rows, tasks, kept)
