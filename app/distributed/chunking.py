"""How frames are split into chunks: contiguous, non-empty, covering [0, total) exactly."""

from __future__ import annotations

import math

from app.errors import InvalidConfigError


def split_frames(
    total: int, *, max_chunks: int = 16, min_chunk_frames: int = 10, chunk_size: int | None = None
) -> list[tuple[int, int]]:
    """Frame ranges [start, end) for ``total`` frames.

    Default: as many chunks as keep at least ``min_chunk_frames`` each, at most ``max_chunks``, sizes
    differing by at most one frame. ``chunk_size`` fixes the size instead (the last chunk is shorter),
    grown when it would need more than ``max_chunks`` chunks.
    """
    if total < 1:
        raise InvalidConfigError(f"cannot split {total} frames; a render needs at least one frame")
    if max_chunks < 1:
        raise InvalidConfigError(f"max_parallel_chunks must be at least 1, got {max_chunks}")
    if chunk_size is not None:
        size = max(chunk_size, math.ceil(total / max_chunks))
        return [(start, min(start + size, total)) for start in range(0, total, size)]
    count = max(1, min(max_chunks, total // max(1, min_chunk_frames)))
    base, extra = divmod(total, count)
    ranges, start = [], 0
    for index in range(count):
        end = start + base + (1 if index < extra else 0)
        ranges.append((start, end))
        start = end
    return ranges
