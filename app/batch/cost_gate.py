"""The render-batch cost gate: estimate the whole batch, then ask, allow or refuse before any start.

``cost_gate`` prints ``N renders, F frames, estimated $X``; on a terminal it asks for confirmation
unless ``--yes``; without a terminal and without ``--yes`` an estimate above ``--max-cost`` (or one
that cannot be made) is refused with COST_LIMIT_EXCEEDED (exit 2) before anything starts.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

import typer
from rich.console import Console

from app.distributed.chunking import split_frames
from app.distributed.config import DEFAULT_MAX_PARALLEL_CHUNKS, DEFAULT_MIN_CHUNK_FRAMES
from app.engine.composition import Composition
from app.engine.frame_rate import frame_count
from app.engine.render import RenderOptions, resolve_fps
from app.errors import CostLimitExceededError

# (frames, width, height, memory_mb, chunk_count) -> USD for one render
PerRenderCost = Callable[[int, int, int, int, int], float]


@dataclass(frozen=True)
class Estimate:
    renders: int
    frames_per_render: int | None
    usd: float | None

    @property
    def frames(self) -> int | None:
        return None if self.frames_per_render is None else self.frames_per_render * self.renders

    def describe(self) -> str:
        frames = f"{self.frames:,} frames" if self.frames is not None else "frames unknown (no data-duration)"
        usd = f"estimated ${self.usd:.2f}" if self.usd is not None else "cost cannot be estimated"
        return f"{self.renders} renders, {frames}, {usd}"


def estimate(
    composition: Composition, options: RenderOptions, renders: int, memory_mb: int, price: PerRenderCost
) -> Estimate:
    """The cost of ``renders`` renders of this composition: frames, resolution, memory, chunks."""
    if composition.duration is None:
        return Estimate(renders, None, None)
    fps = resolve_fps(options.fps, composition.fps)
    frames = frame_count(composition.duration, fps)
    ranges = split_frames(frames, max_chunks=DEFAULT_MAX_PARALLEL_CHUNKS, min_chunk_frames=DEFAULT_MIN_CHUNK_FRAMES)
    per_render = price(frames, composition.width, composition.height, memory_mb, len(ranges))
    return Estimate(renders, frames, per_render * renders)


def cost_gate(found: Estimate, *, yes: bool, max_cost: float, console: Console) -> None:
    """Ask, allow or refuse before anything that costs money starts."""
    console.print(found.describe(), highlight=False)
    if yes or found.renders == 0:
        return
    if console.is_terminal and sys.stdin.isatty():
        if not typer.confirm("start these renders?", default=False, err=True):
            raise typer.Exit(1)
        return
    if found.usd is None or found.usd > max_cost:
        shown = "an unknown cost" if found.usd is None else f"${found.usd:.2f}"
        raise CostLimitExceededError(
            f"{found.describe()}: {shown} is over --max-cost ${max_cost:.2f} and there is no terminal to ask; "
            "pass --yes to start anyway, or raise --max-cost"
        )
