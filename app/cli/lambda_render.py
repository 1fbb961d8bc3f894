"""``framecast render --backend lambda``: validate here, upload (or reuse) the site, start one execution.

Order matters for "bad input starts nothing": the composition, options and variables are checked
locally first with the engine's own ``prepare`` (same checks and exit codes as a local render), then
the stack and credentials, then (with ``--wait``) the output path; only then is anything uploaded or
started. ``--wait`` polls the execution (history + chunk markers in S3) into a rich progress bar,
downloads the output to ``-o`` and prints a summary; a failed render prints its typed error code and
cause and exits 1. Ctrl-C while waiting stops only this client: the render keeps running on AWS and
the message says how to follow or cancel it (exit 130).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from app.aws.webhook_signing import check_webhook_url
from app.cli.lambda_cmds import bill, describe_progress, emit_json, progress_document, stack_state
from app.cli.progress import console, human_size
from app.cloud import renders, sites
from app.cloud.render_progress import RenderProgress
from app.cloud.stack import StackState, stack_clients
from app.distributed.config import RenderConfig
from app.engine.formats import format_spec
from app.engine.output_path import OutputKind, check_output
from app.engine.render import RenderOptions, prepare
from app.errors import InputError


class _Detached(Exception):
    """Ctrl-C while waiting: stop polling, leave the render running."""


@contextmanager
def _ctrl_c_detaches() -> Iterator[None]:
    # While only polling there is no child process to stop: Ctrl-C just ends the wait.
    def on_sigint(_signum: int, _frame: FrameType | None) -> None:
        raise _Detached

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _chunk_fields(chunking: dict[str, int | None]) -> dict[str, int]:
    """The same chunking options as ``render --chunks/--chunk-size/--max-parallel-chunks`` locally."""
    fields: dict[str, int] = {}
    if chunking.get("chunks") is not None:
        # An explicit count means exactly that many chunks (fewer only when there are fewer frames).
        fields.update(max_parallel_chunks=int(chunking["chunks"] or 0), min_chunk_frames=1)
    for name in ("max_parallel_chunks", "chunk_size"):
        value = chunking.get(name)
        if value is not None:
            fields[name] = value
    return fields


def render_on_lambda(
    project: Path,
    out: Path | None,
    options: dict[str, Any],
    chunking: dict[str, int | None] | None = None,
    *,
    stack: str | None,
    region: str | None = None,
    profile: str | None = None,
    site_id: str | None = None,
    wait: bool = False,
    json_out: bool = False,
    force: bool = False,
    webhook: str | None = None,
    poll_seconds: float = renders.DEFAULT_POLL_SECONDS,
) -> None:
    """Start (and with ``wait`` follow and download) one render on a deployed stack."""
    if not stack:
        raise InputError("--backend lambda needs --stack NAME (deploy one with 'framecast lambda deploy --stack NAME')")
    prepare(project, RenderOptions(**options))  # composition, format, codec, fps, variables: as a local render
    if webhook is not None:
        check_webhook_url(webhook)
    config = RenderConfig.parse(options | _chunk_fields(chunking or {}))
    state = stack_state(stack, region)
    aws = stack_clients(state, profile)
    aws.require_credentials()
    kind: OutputKind = "folder" if format_spec(config.format).is_sequence else "file"
    if wait and out is not None:
        out = check_output(out, kind=kind, inputs=[project], force=force)
    site = sites.get_site(state, site_id, aws=aws) if site_id else sites.create_site(state, project, aws=aws)
    name = (out.stem if out is not None and kind == "file" else None) or project.resolve().name
    started = renders.start_render(
        state, site_id=site.site_id, config=config.model_dump(by_alias=True, exclude_defaults=True), name=name,
        webhook_url=webhook, aws=aws,
    )  # fmt: skip
    follow = f"framecast lambda progress {started.render_id} --stack {state.stack}"
    if not wait:
        if json_out:
            emit_json(started.model_dump(mode="json") | {"siteId": site.site_id, "stack": state.stack})
            return
        console.print(
            f"render {started.render_id} started on stack {state.stack} (site {site.site_id}); "
            f"follow: {follow}; output: {started.output_uri}",
            highlight=False,
            soft_wrap=True,
        )
        typer.echo(started.render_id)
        return
    if not json_out:
        console.print(
            f"render {started.render_id} started on stack {state.stack} (site {site.site_id})", highlight=False
        )
    try:
        with _ctrl_c_detaches():
            final = _wait(state, started.render_id, aws, quiet=json_out, poll_seconds=poll_seconds)
    except _Detached:
        console.print(
            f"stopped waiting; render {started.render_id} is still running on AWS. "
            f"Follow it: {follow}   Cancel it: framecast lambda cancel {started.render_id} --stack {state.stack}",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(130) from None
    _finish(state, final, out, aws, json_out)


def _wait(state: StackState, render_id: str, aws: Any, *, quiet: bool, poll_seconds: float) -> RenderProgress:
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("chunks · {task.fields[frames]} frames · {task.fields[cost]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, disable=quiet or not console.is_terminal) as bar:
        task = bar.add_task(render_id, total=None, frames="-", cost="$0.0000")

        def show(progress: RenderProgress) -> None:
            frames = f"{progress.frames_done}/{progress.total_frames}" if progress.total_frames else "-"
            cost = f"${bill(progress, state).total_usd:.4f}"
            bar.update(task, completed=progress.chunks_done, total=progress.chunk_count, frames=frames, cost=cost)

        return renders.wait_for_render(state, render_id, show, poll_seconds, aws=aws)


def _finish(state: StackState, final: RenderProgress, out: Path | None, aws: Any, json_out: bool) -> None:
    if final.status != "SUCCEEDED":
        if json_out:
            emit_json(progress_document(final, state))
        code = final.error_code or final.status
        console.print(f"[bold red]{code}[/]: render {final.render_id} {final.status}: {final.error_cause or ''}")
        raise typer.Exit(1)
    size = renders.download_output(state, final, out, aws=aws) if out is not None else final.output_size_bytes
    if json_out:
        emit_json(progress_document(final, state) | {"output": str(out) if out else None})
        return
    where = str(out) if out is not None else final.output_uri
    seconds = float((final.total_frames or 0) / final.fps) if final.fps else 0.0
    total = f"cost ${bill(final, state).total_usd:.4f}"
    console.print(
        f"[green]✓[/] {where} — {final.total_frames} frames, {seconds:.2f} s, {human_size(size or 0)}, "
        f"{final.elapsed_seconds:.1f} s wall, {final.chunk_count} chunks on Lambda, {total}",
        highlight=False,
        soft_wrap=True,
    )
    if out is None:
        typer.echo(final.output_uri)


__all__ = ["describe_progress", "render_on_lambda"]
