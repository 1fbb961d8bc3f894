"""How frames are split into chunks: the documented table, overrides, and the invariants for any total."""

from __future__ import annotations

import itertools

import pytest

from app.distributed.chunking import split_frames
from app.errors import InvalidConfigError


def assert_partition(ranges: list[tuple[int, int]], total: int) -> None:
    """Contiguous, non-empty, starting at 0 and ending at ``total``."""
    assert ranges, "no chunks"
    assert ranges[0][0] == 0
    assert ranges[-1][1] == total
    for (_, end), (start, _) in itertools.pairwise(ranges):
        assert end == start, f"gap or overlap at {end}/{start} in {ranges}"
    assert all(end > start for start, end in ranges), f"empty chunk in {ranges}"


def test_one_chunk_allowed_gives_one_chunk_of_everything() -> None:
    assert split_frames(60, max_chunks=1) == [(0, 60)]


def test_660_frames_default_to_the_16_chunk_ceiling() -> None:
    ranges = split_frames(660)
    assert len(ranges) == 16
    assert_partition(ranges, 660)
    assert {end - start for start, end in ranges} == {41, 42}  # sizes differ by at most one frame


def test_50_frames_give_5_chunks_of_10() -> None:
    assert split_frames(50) == [(0, 10), (10, 20), (20, 30), (30, 40), (40, 50)]


def test_fewer_frames_than_the_chunk_minimum_give_one_chunk() -> None:
    assert split_frames(7) == [(0, 7)]


def test_explicit_chunk_size_makes_the_last_chunk_shorter() -> None:
    assert split_frames(60, chunk_size=25) == [(0, 25), (25, 50), (50, 60)]


def test_chunk_size_too_small_for_the_chunk_ceiling_grows() -> None:
    ranges = split_frames(100, max_chunks=16, chunk_size=1)
    assert len(ranges) <= 16
    assert_partition(ranges, 100)
    assert all(end - start >= 7 for start, end in ranges[:-1])  # ceil(100 / 16)


def test_min_chunk_frames_lowers_the_chunk_count() -> None:
    assert len(split_frames(60, min_chunk_frames=30)) == 2
    assert len(split_frames(60, max_chunks=4, min_chunk_frames=1)) == 4


@pytest.mark.parametrize(("total", "kwargs"), [(0, {}), (-5, {}), (10, {"max_chunks": 0})])
def test_impossible_splits_are_invalid_config(total: int, kwargs: dict[str, int]) -> None:
    with pytest.raises(InvalidConfigError):
        split_frames(total, **kwargs)


@pytest.mark.parametrize("max_chunks", [1, 2, 3, 7, 16, 64])
@pytest.mark.parametrize("min_chunk_frames", [1, 5, 10, 37])
def test_default_split_holds_its_invariants_for_every_total(max_chunks: int, min_chunk_frames: int) -> None:
    for total in range(1, 1500):
        ranges = split_frames(total, max_chunks=max_chunks, min_chunk_frames=min_chunk_frames)
        assert_partition(ranges, total)
        assert len(ranges) <= max_chunks
        sizes = [end - start for start, end in ranges]
        assert max(sizes) - min(sizes) <= 1
        if total >= min_chunk_frames:
            assert min(sizes) >= min_chunk_frames


@pytest.mark.parametrize("max_chunks", [1, 4, 16])
@pytest.mark.parametrize("chunk_size", [1, 3, 10, 25, 1000])
def test_fixed_size_split_holds_its_invariants_for_every_total(max_chunks: int, chunk_size: int) -> None:
    for total in range(1, 800):
        ranges = split_frames(total, max_chunks=max_chunks, chunk_size=chunk_size)
        assert_partition(ranges, total)
        assert len(ranges) <= max_chunks
        sizes = [end - start for start, end in ranges]
        assert len(set(sizes[:-1])) <= 1  # every chunk but the last has the same size
        assert all(size >= min(chunk_size, total) for size in sizes[:-1])
