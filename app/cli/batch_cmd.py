"""``framecast render-batch``: one composition, one JSONL row per render, on this machine or on Lambda."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from app.batch.cloud_backend import DEFAULT_OUTPUT_PREFIX
from app.batch.dispatch import DispatchOptions
from app.batch.local_backend import LocalBackend
from app.batch.manifest import BatchHeader
from app.batch.progress import DEFAULT_HEARTBEAT_SECONDS
from app.batch.resume import batch_id
from app.batch.run import BatchOutcome, execute, finish_dry_run, load_batch, manifest_json, plan_rows
from app.cli import interrupts
from app.cli.progress import console
from app.cli.render_cmd import FPS_HELP, cli_fps
from app.engine.formats import FORMATS, QUALITIES
from app.engine.render import RenderOptions
from app.errors import InvalidConfigError

DEFAULT_LAMBDA_CONCURRENCY = 50
HEARTBEAT_ENV = "FRAMECAST_BATCH_HEARTBEAT_SECONDS"
POLL_ENV = "FRAMECAST_BATCH_POLL_SECONDS"  # how often --wait asks Step Functions about a running render
DEFAULT_POLL_SECONDS = 5.0


def _default_manifest(batch: Path) -> Path:
    return Path(f"{batch.stem}.manifest.jsonl")


def _seconds_from_env(name: str, default: float) -> float:
    raw = os.environ.get(name)
    try:
        value = float(raw) if raw else default
    except ValueError as exc:
        raise InvalidConfigError(f"{name}={raw!r} is not a number of seconds") from exc
    if value <= 0:
        raise InvalidConfigError(f"{name}={raw!r} must be a positive number of seconds")
    return value


def _kill_workers(signum: int) -> None:
    interrupts.kill_descendants()


def render_batch(
    project: Annotated[Path, typer.Argument(help="Project folder containing index.html.")],
    batch: Annotated[Path, typer.Option("--batch", "-b", help="JSONL file: one {outputKey, variables} per line.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Local backend: folder for the outputs.")] = Path(
        "out/batch"
    ),
    backend: Annotated[str, typer.Option(help="local (this machine) or lambda (a deployed stack).")] = "local",
    stack: Annotated[str | None, typer.Option(help="Lambda backend: the stack name.")] = None,
    region: Annotated[str | None, typer.Option(help="Lambda backend: AWS region (default: the profile's).")] = None,
    site_id: Annotated[str | None, typer.Option(help="Lambda backend: reuse an uploaded site.")] = None,
    output_prefix: Annotated[
        str, typer.Option(help="Lambda backend: S3 key prefix put before every outputKey ('' for none).")
    ] = DEFAULT_OUTPUT_PREFIX,
    max_concurrent: Annotated[
        int | None, typer.Option(min=1, max=1000, help="Renders in flight (default 50 on Lambda, cores locally).")
    ] = None,
    manifest: Annotated[Path | None, typer.Option(help="Manifest file (default: <batch>.manifest.jsonl).")] = None,
    resume: Annotated[Path | None, typer.Option(help="Continue the batch recorded in this manifest.")] = None,
    retry_failed: Annotated[bool, typer.Option(help="With --resume: also run rows that failed.")] = False,
    wait: Annotated[bool, typer.Option(help="Lambda: follow every render to its end and report the cost.")] = False,
    dry_run: Annotated[bool, typer.Option(help="Validate and print the manifest; start nothing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Skip the cost confirmation.")] = False,
    max_cost: Annotated[
        float, typer.Option(help="Without --yes and without a terminal: refuse above this estimate (USD).")
    ] = 5.0,
    cancel_on_interrupt: Annotated[bool, typer.Option(help="On Ctrl-C, also stop the started renders.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the manifest as JSON on stdout.")] = False,
    strict_variables: Annotated[bool, typer.Option(help="Variable problems are errors, not warnings.")] = False,
    fps: Annotated[str | None, typer.Option(help=FPS_HELP)] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help=f"One of: {', '.join(FORMATS)}.")] = "mp4",
    codec: Annotated[str | None, typer.Option(help="h264 or h265 (mp4), vp9 (webm), prores (mov).")] = None,
    quality: Annotated[str, typer.Option("--quality", "-q", help=f"One of: {', '.join(QUALITIES)}.")] = "standard",
    crf: Annotated[int | None, typer.Option(help="Override the quality tier's CRF.")] = None,
) -> None:
    """Render one composition once per line of a JSONL file."""
    if backend not in ("local", "lambda"):
        raise InvalidConfigError(f"backend {backend!r} is not one of: local, lambda")
    if fmt not in FORMATS or quality not in QUALITIES:
        raise InvalidConfigError(f"format must be one of {', '.join(FORMATS)}; quality one of {', '.join(QUALITIES)}")
    if retry_failed and resume is None:
        raise InvalidConfigError("--retry-failed needs --resume MANIFEST (the run whose failures to retry)")
    options = RenderOptions.model_validate(dict(fps=cli_fps(fps), format=fmt, codec=codec, quality=quality, crf=crf))
    composition, rows = load_batch(project, batch, strict=strict_variables, console=console)
    manifest_path = manifest or resume or _default_manifest(batch)
    heartbeat = _seconds_from_env(HEARTBEAT_ENV, DEFAULT_HEARTBEAT_SECONDS)
    if backend == "lambda":
        from app.batch import cloud_run

        outcome = cloud_run.run_lambda_batch(
            project,
            composition,
            rows,
            options,
            stack_name=stack,
            region=region,
            site_id=site_id,
            dispatch=DispatchOptions(
                max_concurrent=max_concurrent or DEFAULT_LAMBDA_CONCURRENCY,
                wait=wait,
                cancel_on_interrupt=cancel_on_interrupt,
            ),
            manifest_path=manifest_path,
            manifest_given=manifest is not None or resume is not None,
            resume=resume,
            retry_failed=retry_failed,
            dry_run=dry_run,
            yes=yes,
            max_cost=max_cost,
            heartbeat_seconds=heartbeat,
            console=console,
            poll_seconds=_seconds_from_env(POLL_ENV, DEFAULT_POLL_SECONDS),
            output_prefix=output_prefix,
        )
    else:
        header = BatchHeader(
            batch_file=str(batch),
            batch_digest=rows.digest,
            batch_id=batch_id(rows, str(project.resolve())),
            backend="local",
            project=str(project.resolve()),
            rows=len(rows.rows),
            output=str(output.resolve()),
        )
        plan = plan_rows(rows, header, resume, durable_starts=False, retry_failed=retry_failed, wait=True)
        if dry_run:
            finish_dry_run(header, plan.rows, manifest_path if manifest is not None else None, json_output, console)
            return
        workers = max_concurrent or os.cpu_count() or 1
        with LocalBackend(project, output, options, workers=min(workers, max(1, len(plan.tasks)))) as local:
            outcome = execute(
                local,
                header,
                plan,
                manifest_path,
                DispatchOptions(max_concurrent=workers, wait=True, cancel_on_interrupt=cancel_on_interrupt),
                console=console,
                heartbeat_seconds=heartbeat,
                # A second Ctrl-C leaves at once: take the worker processes and their browsers along.
                on_hard_exit=_kill_workers,
            )
            console.print(f"browsers launched: {local.browser_launches}", highlight=False)
    finish(outcome, json_output)


def finish(outcome: BatchOutcome | None, json_output: bool) -> None:
    """Print the manifest on stdout with ``--json``; exit with the batch's code (None: a dry run)."""
    if outcome is None:
        return
    if json_output:
        sys.stdout.write(json.dumps(manifest_json(outcome.header, outcome.rows)) + "\n")
    if outcome.exit_code:
        raise typer.Exit(outcome.exit_code)
