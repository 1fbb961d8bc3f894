"""Low-level verbs for debugging a distributed render by hand: plan, chunk, assemble."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from app.cli.progress import console
from app.cli.render_cmd import OFFLINE_HELP
from app.engine.formats import format_spec
from app.engine.output_path import check_output, mark_output_folder
from app.engine.variables import parse_variables
from app.errors import InvalidConfigError


def plan_cmd(
    project: Annotated[Path, typer.Argument(help="Project folder containing index.html.")],
    plan_dir: Annotated[Path, typer.Argument(help="Folder to write the plan into (replaced).")],
    config: Annotated[str | None, typer.Option(help="Render config as JSON (fps, format, chunkSize, ...).")] = None,
    variables: Annotated[str | None, typer.Option(help="JSON object of composition variables.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing folder that is not a plan.")] = False,
    offline: Annotated[bool, typer.Option("--offline", help=OFFLINE_HELP)] = False,
) -> None:
    """Plan a distributed render: copy, probe, extract media, split into chunks, lock decisions."""
    from app.distributed import RenderConfig, plan

    fields = _config_object(config)
    values = parse_variables(variables)
    if values is not None:
        fields["variables"] = values
    if offline:
        fields["offline"] = True
    render_config = RenderConfig.parse(fields)
    plan_dir = check_output(plan_dir, kind="folder", inputs=[project], force=force, replaceable=_is_plan_folder)
    result = plan(project, render_config, plan_dir)
    console.print_json(result.model_dump_json())


def chunk_cmd(
    plan_dir: Annotated[Path, typer.Argument(help="A plan folder written by `framecast plan`.")],
    index: Annotated[int, typer.Argument(help="Chunk index.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Chunk file to write.")],
    plan_hash: Annotated[str | None, typer.Option(help="Refuse to render unless the plan has this hash.")] = None,
) -> None:
    """Render one chunk of a plan into a concat-safe segment."""
    from app.distributed import render_chunk

    output = check_output(output, kind="file", inputs=[plan_dir])
    console.print_json(render_chunk(plan_dir, index, output, plan_hash=plan_hash).model_dump_json())


def assemble_cmd(
    plan_dir: Annotated[Path, typer.Argument(help="A plan folder written by `framecast plan`.")],
    chunks: Annotated[list[Path], typer.Argument(help="Chunk files in index order.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Final output.")],
    plan_hash: Annotated[str | None, typer.Option(help="Refuse to assemble unless the plan has this hash.")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing output folder framecast did not write.")
    ] = False,
) -> None:
    """Join rendered chunks and the plan's audio into the final output."""
    from app.distributed import assemble
    from app.distributed.layout import read_meta

    sequence = format_spec(read_meta(plan_dir).format).is_sequence
    output = check_output(output, kind="folder" if sequence else "file", inputs=[plan_dir, *chunks], force=force)
    result = assemble(plan_dir, chunks, output, plan_hash=plan_hash)
    if sequence:
        mark_output_folder(output)
    console.print_json(result.model_dump_json())


def _config_object(text: str | None) -> dict[str, Any]:
    """``--config`` as a JSON object, or INVALID_CONFIG saying what is wrong with it."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidConfigError(f"--config is not valid JSON ({exc.msg} at character {exc.pos})") from exc
    if not isinstance(value, dict):
        raise InvalidConfigError(
            f"--config must be a JSON object such as '{{\"fps\": 30}}', not {json.dumps(value)[:40]}"
        )
    return value


def _is_plan_folder(folder: Path) -> bool:
    from app.distributed.layout import META_FILE

    return (folder / META_FILE).is_file() or not any(folder.iterdir())


def register(app: typer.Typer) -> None:
    app.command("plan")(plan_cmd)
    app.command("chunk")(chunk_cmd)
    app.command("assemble")(assemble_cmd)
