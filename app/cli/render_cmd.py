"""``framecast render``: one composition to one video, here (single or chunked) or through workers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, get_args

import typer

from app.cli.progress import console, human_size, progress_bar
from app.engine.formats import FORMATS, QUALITIES, Codec, format_spec, fps_or_error
from app.engine.frame_rate import to_wire
from app.engine.render import RenderOptions, RenderResult
from app.engine.render import render as render_locally
from app.engine.variables import parse_variables
from app.errors import InvalidConfigError


def default_output(project: Path, fmt: str) -> Path:
    spec = format_spec(fmt)
    return Path("out") / f"{project.resolve().name}{spec.extension}"


def _choice(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise InvalidConfigError(f"{what} {value!r} is not one of: {', '.join(allowed)}")
    return value


FPS_HELP = "Frames per second: 1-120, 23.976, 29.97, 59.94 or N/D (30000/1001); default data-fps or 30."


def cli_fps(value: str | None) -> int | str | None:
    """``--fps`` checked at once (INVALID_CONFIG, exit 2), as its JSON spelling: 30 or "30000/1001"."""
    if value is None:
        return None
    try:
        return to_wire(fps_or_error(value))
    except InvalidConfigError as exc:
        raise InvalidConfigError(f"--fps: {exc.message}") from exc


OFFLINE_HELP = "Fetch nothing: refuse remote media, block remote images/fonts/scripts."
WORKERS_HELP = "Parallel capture processes: auto (from this machine's cores and the render's size) or 1-16."


def parse_workers(value: str) -> int | None:
    """``--workers``: ``auto`` (None: decided per render) or a whole number from 1 to 16."""
    if str(value).strip().lower() == "auto":
        return None
    try:
        count = int(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is neither 'auto' nor a whole number from 1 to 16") from None
    if not 1 <= count <= 16:
        raise typer.BadParameter(f"{count} is outside 1-16 (or use 'auto')")
    return count


def workers_for(project: Path, fps: int | str | None) -> int:
    """`--workers auto` for a local render: by frames and size; 1 when the project cannot be read (the
    render then reports why)."""
    from app.engine.composition import read_composition
    from app.engine.frame_rate import frame_count
    from app.engine.render import resolve_fps
    from app.errors import FramecastError
    from app.local.pool import auto_workers

    try:
        composition = read_composition(project)
    except FramecastError:
        return 1
    if composition.duration is None:
        return 1
    frames = frame_count(composition.duration, resolve_fps(fps, composition.fps))
    return auto_workers(frames, composition.width, composition.height)


def render(
    project: Annotated[Path, typer.Argument(help="Project folder containing index.html.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Output file (folder for png-sequence).")
    ] = None,
    fps: Annotated[str | None, typer.Option(help=FPS_HELP)] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help=f"One of: {', '.join(FORMATS)}.")] = "mp4",
    codec: Annotated[str | None, typer.Option(help="h264 or h265 (mp4), vp9 (webm), prores (mov).")] = None,
    quality: Annotated[str, typer.Option("--quality", "-q", help=f"One of: {', '.join(QUALITIES)}.")] = "standard",
    crf: Annotated[int | None, typer.Option(help="Override the quality tier's CRF.")] = None,
    variables: Annotated[str | None, typer.Option(help="JSON object of composition variables.")] = None,
    variables_file: Annotated[Path | None, typer.Option(help="JSON file of composition variables.")] = None,
    strict_variables: Annotated[bool, typer.Option(help="Undeclared or mistyped variables are errors.")] = False,
    offline: Annotated[bool, typer.Option("--offline", help=OFFLINE_HELP)] = False,
    workers: Annotated[int | None, typer.Option(parser=parse_workers, metavar="auto|N", help=WORKERS_HELP)] = "auto",  # type: ignore[assignment]
    chunks: Annotated[int | None, typer.Option(min=1, help="Render as plan → N chunks → assemble.")] = None,
    chunk_size: Annotated[int | None, typer.Option(min=1, help="Frames per chunk (instead of --chunks).")] = None,
    max_parallel_chunks: Annotated[int | None, typer.Option(min=1, max=256, help="Upper bound on chunks.")] = None,
    backend: Annotated[
        str, typer.Option(help="local (this machine), rie (Lambda RIE endpoints) or lambda (a deployed --stack).")
    ] = "local",
    endpoint: Annotated[list[str] | None, typer.Option(help="RIE invoke URL (repeat for several workers).")] = None,
    bucket: Annotated[str | None, typer.Option(help="S3 bucket for the rie backend.")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing output folder framecast did not write.")
    ] = False,
    stack: Annotated[str | None, typer.Option(help="lambda backend: the deployed stack to render on.")] = None,
    site_id: Annotated[str | None, typer.Option(help="lambda backend: reuse this uploaded site (s-...).")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="lambda backend: follow the render, then download it.")] = False,
    region: Annotated[str | None, typer.Option(help="lambda backend: AWS region (default: the stack's).")] = None,
    profile: Annotated[str | None, typer.Option(help="lambda backend: AWS profile (default: AWS_PROFILE).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="lambda backend: print one JSON object.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="lambda backend: print the cost estimate; upload and start nothing.")
    ] = False,
    webhook: Annotated[
        str | None, typer.Option(help="lambda backend: POST a signed JSON here when the render ends (https).")
    ] = None,
) -> None:
    """Render a composition to a video file."""
    _choice(fmt, FORMATS, "format")
    _choice(quality, QUALITIES, "quality")
    if codec is not None:
        _choice(codec, get_args(Codec), "codec")
    out = output or default_output(project, fmt)
    values = parse_variables(variables, variables_file)
    options: dict[str, Any] = dict(
        fps=cli_fps(fps),
        format=fmt,
        codec=codec,
        quality=quality,
        crf=crf,
        variables=values,
        strict_variables=strict_variables,
    )
    if offline:
        options["offline"] = True
    if dry_run and backend != "lambda":
        raise InvalidConfigError("--dry-run estimates a Lambda render's cost; use it with --backend lambda")
    if backend == "lambda":
        from app.cli import lambda_render

        chunking = dict(chunks=chunks, chunk_size=chunk_size, max_parallel_chunks=max_parallel_chunks)
        if dry_run:
            from app.cli.lambda_estimate import estimate_on_lambda

            estimate_on_lambda(project, options, chunking, stack=stack, region=region, json_out=json_out)
            return
        lambda_render.render_on_lambda(
            project, output, options, chunking, stack=stack, region=region, profile=profile, site_id=site_id,
            wait=wait, json_out=json_out, force=force, webhook=webhook,
        )  # fmt: skip
        return
    explicit_chunking = chunks is not None or chunk_size is not None or max_parallel_chunks is not None
    if workers is None:
        workers = workers_for(project, options["fps"]) if backend == "local" and not explicit_chunking else 1
    distributed = explicit_chunking or workers > 1
    if backend != "local" or distributed:
        from app.cli import chunked

        chunked.render_chunked(
            project,
            out,
            options,
            chunks=chunks or (workers if workers > 1 else None),
            chunk_size=chunk_size,
            max_parallel_chunks=max_parallel_chunks,
            workers=workers,
            backend=backend,
            endpoints=endpoint or [],
            bucket=bucket,
            force=force,
        )
        return
    with progress_bar(f"rendering {project.name}") as update:
        result = render_locally(project, out, RenderOptions(**options), progress=update, force=force)
    print_summary(result)


def print_summary(result: RenderResult) -> None:
    console.print(
        f"[green]✓[/] {result.output} — {result.frames} frames, {result.duration_seconds:.2f} s, "
        f"{result.width}x{result.height}, {human_size(result.size_bytes)}, {result.wall_seconds:.1f} s wall, "
        f"{result.frames_per_second:.1f} fps ({result.capture_mode}{', audio' if result.has_audio else ''})",
        highlight=False,
    )
