"""Low-level verbs for debugging a distributed render by hand: plan, chunk, assemble."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from app.cli.progress import console
from app.engine.variables import parse_variables


def plan_cmd(
    project: Annotated[Path, typer.Argument(help="Project folder containing index.html.")],
    plan_dir: Annotated[Path, typer.Argument(help="Folder to write the plan into (replaced).")],
    config: Annotated[str | None, typer.Option(help="Render config as JSON (fps, format, chunkSize, ...).")] = None,
    variables: Annotated[str | None, typer.Option(help="JSON object of composition variables.")] = None,
) -> None:
    """Plan a distributed render: copy, probe, extract media, split into chunks, lock decisions."""
    from app.distributed import RenderConfig, plan

    fields = json.loads(config) if config else {}
    values = parse_variables(variables)
    if values is not None:
        fields["variables"] = values
    result = plan(project, RenderConfig.parse(fields), plan_dir)
    console.print_json(result.model_dump_json())


def chunk_cmd(
    plan_dir: Annotated[Path, typer.Argument(help="A plan folder written by `framecast plan`.")],
    index: Annotated[int, typer.Argument(help="Chunk index.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Chunk file to write.")],
    plan_hash: Annotated[str | None, typer.Option(help="Refuse to render unless the plan has this hash.")] = None,
) -> None:
    """Render one chunk of a plan into a concat-safe segment."""
    from app.distributed import render_chunk

    console.print_json(render_chunk(plan_dir, index, output, plan_hash=plan_hash).model_dump_json())


def assemble_cmd(
    plan_dir: Annotated[Path, typer.Argument(help="A plan folder written by `framecast plan`.")],
    chunks: Annotated[list[Path], typer.Argument(help="Chunk files in index order.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Final output.")],
    plan_hash: Annotated[str | None, typer.Option(help="Refuse to assemble unless the plan has this hash.")] = None,
) -> None:
    """Join rendered chunks and the plan's audio into the final output."""
    from app.distributed import assemble

    console.print_json(assemble(plan_dir, chunks, output, plan_hash=plan_hash).model_dump_json())


def register(app: typer.Typer) -> None:
    app.command("plan")(plan_cmd)
    app.command("chunk")(chunk_cmd)
    app.command("assemble")(assemble_cmd)
