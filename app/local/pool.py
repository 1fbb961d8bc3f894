"""The process-pool backend: plan → chunks in this process and worker processes → assemble, on this machine.

This process renders chunks too, with the browser plan launched; ``workers - 1`` worker processes
take the others, whichever is free first. Each keeps its warm browser (and page, see
``app.engine.warm_page``) across the chunks it renders, exactly like a reused Lambda container.
Temporary plan and chunk folders are removed in ``finally``.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from app.distributed import AssembleResult, ChunkResult, PlanResult, RenderConfig, assemble, plan, render_chunk
from app.distributed.render_chunk import chunk_extension
from app.engine import scratch, warm_page
from app.engine.chrome import acquire_browser, shutdown_browser, warm_browser_running
from app.engine.formats import format_spec
from app.engine.output_path import check_output, mark_output_folder

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
T = TypeVar("T")


class ChunkedRenderResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    plan: PlanResult
    chunks: list[ChunkResult]
    assemble: AssembleResult
    plan_seconds: float
    chunks_seconds: float
    assemble_seconds: float
    wall_seconds: float


# `--workers auto`: a second capture process pays for itself once each one gets this much work (frames x
# megapixels; under a quarter megapixel a frame costs about the same). Two processes on 2 cores cut a
# 1080p render's capture by about a quarter (BENCHMARKS.md: 18.8 s → 14.1 s for 300 frames) and cost
# about 1 s more (a second browser, plan, assemble), so they break even near 65 frames of 1080p (135).
# A 10 s 1080p30 render is 622 and splits in two; a 2 s 320x180 one is 15 and stays in one process.
AUTO_WORK_PER_WORKER = 75.0
AUTO_MAX_WORKERS = 4  # beyond this, Chrome processes compete for memory bandwidth more than they help


def default_workers(chunk_count: int) -> int:
    return max(1, min(chunk_count, os.cpu_count() or 1))


def auto_workers(frames: int, width: int, height: int, cpus: int | None = None) -> int:
    """How many capture processes `--workers auto` runs for a render of this size on this machine."""
    work = frames * max(width * height / 1e6, 0.25)
    by_work = int(work // AUTO_WORK_PER_WORKER)
    return max(1, min(by_work, cpus or os.cpu_count() or 1, AUTO_MAX_WORKERS))


def render_chunked(
    project_dir: Path,
    out_path: Path,
    config: RenderConfig,
    *,
    workers: int | None = None,
    progress: Progress | None = None,
    force: bool = False,
    release_browser: bool = False,
) -> ChunkedRenderResult:
    """Plan, render every chunk, assemble into ``out_path`` (checked first, see ``output_path``).

    ``release_browser``: once this process has no chunk left, close the page and the browser it launched
    for this render while the workers finish theirs, instead of keeping them warm for a next render in
    this process (the CLI renders once and exits: that closing is then off the render's critical path).
    """
    started = time.perf_counter()
    launched_here = not warm_browser_running()
    sequence = format_spec(config.format).is_sequence
    out_path = check_output(out_path, kind="folder" if sequence else "file", inputs=[project_dir], force=force)
    scratch.sweep_stale(beside=out_path)
    work = scratch.make_temp_dir("chunked")
    # Started before plan, so the workers launch Chrome on the other cores while this one plans.
    helpers = (workers or default_workers(config.max_parallel_chunks)) - 1
    pool = _start_workers(helpers)
    try:
        plan_dir = work / "plan"
        planned = plan(project_dir, config, plan_dir)
        if pool is not None and planned.chunk_count == 1:
            _stop_workers(pool)  # one chunk: this process renders it with the browser it planned with
            pool.shutdown(wait=True)
            pool = None
        plan_seconds = time.perf_counter() - started
        if progress:
            progress("chunks", 0, planned.chunk_count)
        chunk_started = time.perf_counter()
        paths = [
            work / "chunks" / f"chunk-{i:05d}{chunk_extension(planned.format)}" for i in range(planned.chunk_count)
        ]
        done_here = partial(_release, browser=release_browser and launched_here)
        results = _render_all(plan_dir, planned, paths, pool, helpers, progress, done_here)
        chunks_seconds = time.perf_counter() - chunk_started
        if pool is not None:
            pool.shutdown(wait=False)  # the workers close their browsers while the chunks are joined
        assemble_started = time.perf_counter()
        assembled = assemble(plan_dir, paths, out_path, plan_hash=planned.plan_hash)
        if sequence:
            mark_output_folder(out_path)
        return ChunkedRenderResult(
            plan=planned,
            chunks=results,
            assemble=assembled,
            plan_seconds=plan_seconds,
            chunks_seconds=chunks_seconds,
            assemble_seconds=time.perf_counter() - assemble_started,
            wall_seconds=time.perf_counter() - started,
        )
    except BaseException:
        if pool is not None:
            _stop_workers(pool)  # a failed or interrupted render must not wait for chunks in flight
        raise
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        warm_page.discard()  # a page kept by chunks rendered in this process: its plan is about to go
        shutil.rmtree(work, ignore_errors=True)


def _start_workers(count: int) -> ProcessPoolExecutor | None:
    """``count`` worker processes, each told to launch its browser now; None when there are none."""
    if count < 1:
        return None
    method = worker_start_method()
    log.debug("starting %d chunk worker(s) by %s", count, method)
    context = multiprocessing.get_context(method)
    pool = ProcessPoolExecutor(max_workers=count, mp_context=context, initializer=_reset_signals)
    for _ in range(count):
        pool.submit(_warm_up)  # a failure here is raised again, with its typed error, by the first chunk
    return pool


def worker_start_method() -> Literal["fork", "spawn"]:
    """How chunk workers start: fork when it is safe, else spawn.

    A forked worker starts with every module this process imported: it launches its browser about
    0.6 s sooner than a spawned one, which starts Python and imports them again. Forking is safe only
    while this process has no other thread (a lock held by one would stay held in the child forever)
    and no browser (a Playwright driver's connection cannot be shared); otherwise, and off Linux, spawn.
    """
    if sys.platform == "linux" and threading.active_count() == 1 and not warm_browser_running():
        return "fork"
    return "spawn"


def _reset_signals() -> None:
    """A forked worker inherits the CLI's signal handlers; it must die by signals like a spawned one."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _warm_up() -> None:
    # No BeginFrame probe: plan probes this same Chrome in the main process, and chunks ask for the mode
    # it recorded (a fallback to screenshots relaunches this browser). That saves ~0.2 CPU-s while plan runs.
    acquire_browser(probe=False)


def _release(*, browser: bool) -> None:
    """This process has no chunk left: close its kept page (its plan is about to go), and its browser."""
    warm_page.discard()
    if browser:
        shutdown_browser()


def _render_all(
    plan_dir: Path,
    planned: PlanResult,
    paths: list[Path],
    pool: ProcessPoolExecutor | None,
    slots: int,
    progress: Progress | None,
    done_here: Callable[[], None],
) -> list[ChunkResult]:
    """Render every chunk: here, where plan left a warm browser, and in the pool's ``slots`` processes.

    Whichever process is free takes the next chunk. This one starts at once; the workers have been
    launching their browsers since before plan (about 2 CPU-seconds each, which a worker of its own
    here would cost too).
    """
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)

    def render_here(index: int) -> ChunkResult:
        return render_chunk(plan_dir, index, paths[index], plan_hash=planned.plan_hash)

    if pool is None or len(paths) == 1:
        return schedule_chunks(len(paths), render_here, None, progress, done_here)
    submit = partial(_submit_chunk, pool, plan_dir, paths, planned.plan_hash)
    return schedule_chunks(len(paths), render_here, Workers(submit, slots), progress, done_here)


def _submit_chunk(
    pool: ProcessPoolExecutor, plan_dir: Path, paths: list[Path], plan_hash: str, index: int
) -> Future[ChunkResult]:
    return pool.submit(render_chunk, plan_dir, index, paths[index], plan_hash=plan_hash)


@dataclass(frozen=True)
class Workers(Generic[T]):
    """Other processes: ``submit(index)`` starts a chunk in one of them; ``slots`` of them run at once."""

    submit: Callable[[int], Future[T]]
    slots: int


def schedule_chunks(
    count: int,
    render_here: Callable[[int], T],
    workers: Workers[T] | None,
    progress: Progress | None,
    done_here: Callable[[], None] | None = None,
) -> list[T]:
    """Chunks 0..count-1, each rendered once, here or by a worker, whichever is free first; results in order.

    This process takes chunk 0 before any worker can, and calls ``done_here`` once no chunk is left for
    it, before it waits for the workers' last chunks. A worker's failure stops this process after the
    chunk it is rendering and is raised; a failure here stops the feeding of workers and is raised.
    """
    chunks = _ChunkQueue(count)
    results = _Results[T](count, progress)
    index = chunks.take()
    feeder = _Feeder(workers, chunks, results) if workers is not None else None
    if feeder is not None:
        feeder.start()
    try:
        while index is not None:
            results.add(index, render_here(index))
            if feeder is not None:
                feeder.raise_failure()
            index = chunks.take()
        if done_here is not None:
            done_here()
        if feeder is not None:
            feeder.finish()
    except BaseException:
        if feeder is not None:
            feeder.stop()
        raise
    return results.in_order()


class _ChunkQueue:
    """Chunk indices in order, taken by whichever process is free first."""

    def __init__(self, count: int) -> None:
        self._indices: queue.SimpleQueue[int] = queue.SimpleQueue()
        for index in range(count):
            self._indices.put(index)

    def take(self) -> int | None:
        try:
            return self._indices.get_nowait()
        except queue.Empty:
            return None


class _Results(Generic[T]):
    """Chunk results from every process, with progress reported as each one lands."""

    def __init__(self, count: int, progress: Progress | None) -> None:
        self._count = count
        self._progress = progress
        self._by_index: dict[int, T] = {}
        self._lock = threading.Lock()

    def add(self, index: int, result: T) -> None:
        with self._lock:
            self._by_index[index] = result
            if self._progress:
                self._progress("chunks", len(self._by_index), self._count)

    def in_order(self) -> list[T]:
        return [self._by_index[i] for i in range(self._count)]


class _Feeder(threading.Thread, Generic[T]):
    """Keeps every worker busy with the next chunk; the first failure stops the feeding."""

    def __init__(self, workers: Workers[T], chunks: _ChunkQueue, results: _Results[T]) -> None:
        super().__init__(name="framecast-chunk-feeder", daemon=True)
        self._workers, self._chunks, self._results = workers, chunks, results
        self._stopped = threading.Event()
        self._failure: BaseException | None = None

    def run(self) -> None:
        running: dict[Future[T], int] = {}
        try:
            while not self._stopped.is_set():
                while len(running) < self._workers.slots and (index := self._chunks.take()) is not None:
                    running[self._workers.submit(index)] = index
                if not running:
                    return
                done, _ = wait(running, timeout=0.2, return_when=FIRST_COMPLETED)
                for future in done:
                    self._results.add(running.pop(future), future.result())  # re-raises the worker's typed error
        except BaseException as exc:
            self._failure = exc

    def raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def finish(self) -> None:
        """Wait for the chunks in the pool; raise the first failure."""
        self.join()
        self.raise_failure()

    def stop(self) -> None:
        self._stopped.set()


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Kill the worker processes now."""
    # The executor has no public way to kill its workers; ``_processes`` has been its pid→Process map since 3.2.
    processes = dict(getattr(pool, "_processes", None) or {})
    for process in processes.values():
        process.kill()
