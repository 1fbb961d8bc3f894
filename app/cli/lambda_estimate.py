"""``framecast render --backend lambda --dry-run``: the cost estimate of a render, without starting anything.

The composition and options are checked exactly as a real render checks them (the engine's
``prepare``); frames come from ``data-duration`` and fps, chunks from the same ``split_frames`` the
planner uses with the same options, memory and architecture from the stack's state file when
``--stack`` names a recorded stack (no AWS call), else the template's defaults (said so). Prints the
itemised estimate (app.cloud.cost), or one JSON object with ``--json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.cli.lambda_cmds import emit_json, stack_state
from app.cli.lambda_render import _chunk_fields
from app.cli.progress import console
from app.cloud import cost
from app.distributed.chunking import split_frames
from app.distributed.config import RenderConfig
from app.engine.frame_rate import describe, frame_count, to_wire
from app.engine.render import RenderOptions, prepare
from app.errors import CompositionInvalidError

DEFAULT_MEMORY_MB = 10240  # infra/template.yaml's MemorySize default
DEFAULT_ARCH: cost.Arch = "x86_64"


def estimate_on_lambda(
    project: Path,
    options: dict[str, Any],
    chunking: dict[str, int | None] | None = None,
    *,
    stack: str | None,
    region: str | None = None,
    json_out: bool = False,
) -> cost.CostBreakdown:
    """Print (and return) what rendering ``project`` on ``stack`` would cost; nothing is uploaded or started."""
    prepared = prepare(project, RenderOptions(**options))
    config = RenderConfig.parse(options | _chunk_fields(chunking or {}))
    composition = prepared.composition
    if composition.duration is None:
        raise CompositionInvalidError(
            f"{project}/index.html has no data-duration on its root, so its frame count is only known once "
            "the plan runs; add data-duration to estimate the cost"
        )
    frames = frame_count(composition.duration, prepared.fps)
    chunks = len(
        split_frames(
            frames,
            max_chunks=config.max_parallel_chunks,
            min_chunk_frames=config.min_chunk_frames,
            chunk_size=config.chunk_size,
        )
    )
    memory, arch, source = DEFAULT_MEMORY_MB, DEFAULT_ARCH, "template defaults: no --stack"
    if stack:
        state = stack_state(stack, region)
        memory, source = state.memory_mb, f"stack {state.stack}"
        arch = "arm64" if state.architecture == "arm64" else "x86_64"
    estimate = cost.estimate_render_cost(frames, composition.width, composition.height, memory, chunks, arch)
    if json_out:
        emit_json(
            {
                "dryRun": True,
                "frames": frames,
                "width": composition.width,
                "height": composition.height,
                "fps": to_wire(prepared.fps),
                "chunks": chunks,
                "memoryMb": memory,
                "architecture": arch,
                "estimate": estimate.model_dump(mode="json"),
            }
        )
        return estimate
    console.print(
        f"dry run: {frames} frames of {composition.width}x{composition.height} at {describe(prepared.fps)} fps "
        f"in {chunks} "
        f"chunks, {memory} MB {arch} ({source}); nothing was uploaded or started",
        highlight=False,
        soft_wrap=True,
    )
    for line in estimate.lines():
        console.print(f"  {line}", highlight=False)
    return estimate
