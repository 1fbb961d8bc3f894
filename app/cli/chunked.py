"""``framecast render --chunks/--workers/--backend``: the distributed path from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.cli.progress import console, human_size, progress_bar
from app.distributed.config import RenderConfig
from app.errors import InvalidConfigError


def render_chunked(
    project: Path,
    out: Path,
    options: dict[str, Any],
    *,
    chunks: int | None,
    chunk_size: int | None,
    max_parallel_chunks: int | None,
    workers: int,
    backend: str,
    endpoints: list[str],
    bucket: str | None,
    force: bool = False,
) -> None:
    fields: dict[str, Any] = dict(options)
    if chunks is not None:
        # An explicit count means exactly that many chunks (fewer only when there are fewer frames).
        fields.update(max_parallel_chunks=chunks, min_chunk_frames=1)
    if max_parallel_chunks is not None:
        fields["max_parallel_chunks"] = max_parallel_chunks
    if chunk_size is not None:
        fields["chunk_size"] = chunk_size
    config = RenderConfig.parse(fields)
    if backend == "local":
        _local(project, out, config, workers if workers > 1 else None, force)
    elif backend == "rie":
        _rie(project, out, config, endpoints, bucket, force)
    else:
        raise InvalidConfigError(f"backend {backend!r} is not one of: local, rie")


def _local(project: Path, out: Path, config: RenderConfig, workers: int | None, force: bool) -> None:
    from app.local.pool import render_chunked as run

    with progress_bar(f"rendering {project.name} in chunks", unit="chunks") as update:
        result = run(
            project,
            out,
            config,
            workers=workers,
            progress=lambda _stage, done, total: update(done, total),
            force=force,
            release_browser=True,  # this command renders once: close the browser while workers finish
        )
    boots = [c.boot_seconds for c in result.chunks]
    console.print(
        f"[green]✓[/] {out} — {result.plan.total_frames} frames in {result.plan.chunk_count} chunks, "
        f"{human_size(result.assemble.size_bytes)}, {result.wall_seconds:.1f} s wall "
        f"(plan {result.plan_seconds:.1f} s, chunks {result.chunks_seconds:.1f} s, "
        f"assemble {result.assemble_seconds:.1f} s; "
        f"chunk boot {min(boots):.2f}-{max(boots):.2f} s)",
        highlight=False,
    )


def _rie(project: Path, out: Path, config: RenderConfig, endpoints: list[str], bucket: str | None, force: bool) -> None:
    if not endpoints:
        raise InvalidConfigError("--backend rie needs at least one --endpoint URL (e.g. http://localhost:9000)")
    if not bucket:
        raise InvalidConfigError("--backend rie needs --bucket (the S3 bucket the workers may use)")
    from app.local.rie import render_via_rie

    with progress_bar(f"rendering {project.name} on {len(endpoints)} RIE worker(s)", unit="chunks") as update:
        result = render_via_rie(
            project,
            out,
            config,
            endpoints=endpoints,
            bucket=bucket,
            progress=lambda _s, done, total: update(done, total),
            force=force,
        )
    console.print(f"[green]✓[/] {out} — {result!s}", highlight=False)
