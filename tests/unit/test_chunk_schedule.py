"""schedule_chunks: the local pool's chunk scheduling, with threads standing in for worker processes.

Contract: every chunk is rendered exactly once, results come back in chunk order, this process always
renders chunk 0 (its browser is warm from planning), whichever side is free takes the next chunk, and a
failure on either side is raised after which no new chunk starts.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from app.local.pool import Workers, schedule_chunks


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rendered: list[tuple[str, int]] = []

    def render(self, who: str, index: int, seconds: float = 0.0, fail_on: int | None = None) -> str:
        if index == fail_on:
            raise RuntimeError(f"chunk {index} failed in {who}")
        time.sleep(seconds)
        with self.lock:
            self.rendered.append((who, index))
        return f"result {index}"


def test_every_chunk_once_in_order_and_the_first_one_here() -> None:
    rec = Recorder()
    progress: list[tuple[int, int]] = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        workers = Workers(lambda i: pool.submit(rec.render, "worker", i, 0.01), slots=2)
        results = schedule_chunks(
            9, lambda i: rec.render("here", i, 0.01), workers, lambda _, n, t: progress.append((n, t))
        )
    assert results == [f"result {i}" for i in range(9)]
    assert sorted(i for _, i in rec.rendered) == list(range(9))
    assert ("here", 0) in rec.rendered
    assert progress == [(n, 9) for n in range(1, 10)]


def test_a_slow_starting_worker_takes_fewer_chunks() -> None:
    rec = Recorder()
    with ThreadPoolExecutor(max_workers=1) as pool:
        workers = Workers(lambda i: pool.submit(rec.render, "worker", i, 0.3), slots=1)
        schedule_chunks(6, lambda i: rec.render("here", i, 0.05), workers, None)
    here = [i for who, i in rec.rendered if who == "here"]
    assert len(here) >= 4, rec.rendered  # the fast side kept taking chunks instead of waiting


def test_without_workers_this_process_renders_everything() -> None:
    rec = Recorder()
    assert schedule_chunks(3, lambda i: rec.render("here", i), None, None) == ["result 0", "result 1", "result 2"]
    assert rec.rendered == [("here", 0), ("here", 1), ("here", 2)]


def test_a_worker_failure_is_raised_and_no_new_chunk_starts() -> None:
    rec = Recorder()
    with ThreadPoolExecutor(max_workers=1) as pool:
        workers = Workers(lambda i: pool.submit(rec.render, "worker", i, 0.0, 1), slots=1)
        with pytest.raises(RuntimeError, match="chunk 1 failed in worker"):
            schedule_chunks(20, lambda i: rec.render("here", i, 0.2), workers, None)
    assert len(rec.rendered) < 19, "chunks kept starting after a failure"


def test_a_failure_here_is_raised_and_stops_feeding_workers() -> None:
    rec = Recorder()
    with ThreadPoolExecutor(max_workers=1) as pool:
        workers = Workers(lambda i: pool.submit(rec.render, "worker", i, 0.05), slots=1)
        with pytest.raises(RuntimeError, match="chunk 0 failed in here"):
            schedule_chunks(20, lambda i: rec.render("here", i, 0.0, 0), workers, None)
        time.sleep(0.3)  # a feeder still running would have started more chunks by now
    assert len(rec.rendered) <= 2, rec.rendered


def test_done_here_runs_once_this_side_has_no_chunk_left_while_workers_still_render() -> None:
    rec = Recorder()
    seen: list[list[tuple[str, int]]] = []
    with ThreadPoolExecutor(max_workers=1) as pool:
        workers = Workers(lambda i: pool.submit(rec.render, "worker", i, 0.3), slots=1)
        schedule_chunks(2, lambda i: rec.render("here", i), workers, None, lambda: seen.append(list(rec.rendered)))
    assert seen == [[("here", 0)]]  # called once, after this side's chunk, before the worker's had landed
    assert ("worker", 1) in rec.rendered


def test_done_here_is_not_called_when_a_chunk_here_fails() -> None:
    calls: list[str] = []
    with pytest.raises(RuntimeError, match="chunk 0 failed in here"):
        schedule_chunks(1, lambda i: Recorder().render("here", i, 0.0, 0), None, None, lambda: calls.append("done"))
    assert calls == []  # the caller's own clean-up handles a failed render
