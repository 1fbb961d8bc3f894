"""One render-batch run from validated input to the written manifest and the exit code.

The steps every backend shares: plan the rows (fresh or ``--resume``), open the crash-safe journal,
dispatch with progress on stderr, compact the manifest, and turn the rows into an exit code
(0 every row succeeded — or started, without ``--wait``; 1 any row failed; 128+signal interrupted).
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from app.batch.batch_file import BatchFile, parse_batch
from app.batch.dispatch import BatchBackend, Dispatcher, DispatchOptions, DispatchResult
from app.batch.manifest import (
    FAILED_STATUSES,
    BatchHeader,
    ManifestJournal,
    ManifestRow,
    read_manifest,
    write_manifest_atomically,
)
from app.batch.progress import batch_progress, describe
from app.batch.resume import RunPlan, check_same_batch, plan_run
from app.engine.composition import Composition, read_composition

MAX_SHOWN_WARNINGS = 10


def load_batch(project: Path, batch_path: Path, *, strict: bool, console: Console) -> tuple[Composition, BatchFile]:
    """Read the composition once and validate the whole batch against its variable declaration."""
    composition = read_composition(project)
    batch = parse_batch(batch_path, composition.variables_declaration, strict=strict)
    if batch.warnings:
        console.print(
            f"[yellow]{len(batch.warnings)} variable warning(s)[/] (--strict-variables makes them errors):",
            highlight=False,
        )
        for warning in batch.warnings[:MAX_SHOWN_WARNINGS]:
            console.print(f"  {warning}", highlight=False, soft_wrap=True)
        if len(batch.warnings) > MAX_SHOWN_WARNINGS:
            console.print(f"  ... and {len(batch.warnings) - MAX_SHOWN_WARNINGS} more", highlight=False)
    return composition, batch


def plan_rows(
    batch: BatchFile,
    header: BatchHeader,
    resume: Path | None,
    *,
    durable_starts: bool,
    retry_failed: bool,
    wait: bool,
) -> RunPlan:
    previous = None
    if resume is not None:
        before, previous = read_manifest(resume)
        check_same_batch(before, header, str(resume))
    return plan_run(batch, previous, durable_starts=durable_starts, retry_failed=retry_failed, wait=wait)


@dataclass
class BatchOutcome:
    header: BatchHeader
    rows: list[ManifestRow]
    result: DispatchResult | None  # None for a dry run
    exit_code: int


def exit_code_for(rows: list[ManifestRow], *, wait: bool, interrupted_by: int | None) -> int:
    if interrupted_by is not None:
        return 128 + interrupted_by
    if any(row.status in FAILED_STATUSES or row.status == "cancelled" for row in rows):
        return 1
    ok = {"succeeded", "skipped"} if wait else {"succeeded", "skipped", "started"}
    return 0 if all(row.status in ok for row in rows) else 1


def execute(
    backend: BatchBackend,
    header: BatchHeader,
    plan: RunPlan,
    manifest_path: Path,
    options: DispatchOptions,
    *,
    console: Console,
    heartbeat_seconds: float,
    on_hard_exit: Callable[[int], None] | None = None,
) -> BatchOutcome:
    journal = ManifestJournal(manifest_path, header, plan.rows)
    journal.open()
    if plan.kept:
        console.print(f"resuming: {plan.kept} row(s) already done or started are left alone", highlight=False)
    try:
        with batch_progress(console, heartbeat_seconds) as display:
            dispatcher = Dispatcher(
                backend, journal, plan.tasks, options, listener=display.update, on_hard_exit=on_hard_exit
            )
            result = dispatcher.run()
    finally:
        journal.close()
    rows = journal.rows()
    console.print(f"{describe(result.counts)}; peak in flight {result.counts.peak_in_flight}", highlight=False)
    console.print(f"manifest: {manifest_path}", highlight=False)
    if result.interrupted_by is not None:
        print_interrupt_help(rows, manifest_path, header, console)
    code = exit_code_for(rows, wait=options.wait, interrupted_by=result.interrupted_by)
    return BatchOutcome(header, rows, result, code)


def _resume_command(manifest_path: Path) -> str:
    argv = list(sys.argv[1:])
    if "--resume" in argv:
        index = argv.index("--resume")
        del argv[index : index + 2]
    return shlex.join(["framecast", *argv, "--resume", str(manifest_path)])


def print_interrupt_help(rows: list[ManifestRow], manifest_path: Path, header: BatchHeader, console: Console) -> None:
    running = [row for row in rows if row.status == "started"]
    console.print("[bold yellow]interrupted[/]: no new rows were started after the signal.", highlight=False)
    console.print(f"  resume the batch:  {_resume_command(manifest_path)}", highlight=False, soft_wrap=True)
    if running and header.backend == "lambda":
        stack = f" --stack {shlex.quote(header.stack)}" if header.stack else ""
        console.print(f"  {len(running)} render(s) keep running on Lambda; cancel one with:", highlight=False)
        for row in running[:5]:
            console.print(f"    framecast lambda cancel {row.render_id}{stack}", highlight=False)
        if len(running) > 5:
            console.print(f"    ... the manifest lists all {len(running)} (status started)", highlight=False)


def manifest_json(header: BatchHeader, rows: list[ManifestRow]) -> dict[str, Any]:
    """What ``--json`` prints: the header and every row, as one JSON document."""
    return {
        "batch": header.model_dump(by_alias=True),
        "rows": [row.model_dump(by_alias=True) for row in rows],
    }


def finish_dry_run(
    header: BatchHeader, rows: list[ManifestRow], manifest_path: Path | None, json_output: bool, console: Console
) -> None:
    """Report a dry run: nothing started; the manifest (every row would-start) on stdout with --json."""
    if manifest_path is not None:
        write_manifest_atomically(manifest_path, header, rows)
    would = sum(1 for row in rows if row.status == "would-start")
    console.print(f"dry run: {len(rows)} row(s) valid, {would} would start; nothing was started", highlight=False)
    if json_output:
        sys.stdout.write(json.dumps(manifest_json(header, rows)) + "\n")
