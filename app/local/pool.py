"""The process-pool backend: plan → chunks in worker processes → assemble, all on this machine.

Each worker process keeps its own warm browser across the chunks it renders, exactly like a reused
Lambda container. Temporary plan and chunk folders are removed in ``finally``.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from app.distributed import AssembleResult, ChunkResult, PlanResult, RenderConfig, assemble, plan, render_chunk
from app.distributed.render_chunk import chunk_extension
from app.engine import scratch, warm_page
from app.engine.formats import format_spec
from app.engine.output_path import check_output, mark_output_folder

Progress = Callable[[str, int, int], None]


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
) -> ChunkedRenderResult:
    """Plan, render every chunk, assemble into ``out_path`` (checked first, see ``output_path``)."""
    started = time.perf_counter()
    sequence = format_spec(config.format).is_sequence
    out_path = check_output(out_path, kind="folder" if sequence else "file", inputs=[project_dir], force=force)
    scratch.sweep_stale(beside=out_path)
    work = scratch.make_temp_dir("chunked")
    try:
        plan_dir = work / "plan"
        planned = plan(project_dir, config, plan_dir)
        plan_seconds = time.perf_counter() - started
        if progress:
            progress("chunks", 0, planned.chunk_count)
        chunk_started = time.perf_counter()
        paths = [
            work / "chunks" / f"chunk-{i:05d}{chunk_extension(planned.format)}" for i in range(planned.chunk_count)
        ]
        results = _render_all(plan_dir, planned, paths, workers or default_workers(planned.chunk_count), progress)
        chunks_seconds = time.perf_counter() - chunk_started
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
    finally:
        warm_page.discard()  # a page kept by chunks rendered in this process: its plan is about to go
        shutil.rmtree(work, ignore_errors=True)


def _render_all(
    plan_dir: Path, planned: PlanResult, paths: list[Path], workers: int, progress: Progress | None
) -> list[ChunkResult]:
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
    if workers == 1:
        results = []
        for index, path in enumerate(paths):
            results.append(render_chunk(plan_dir, index, path, plan_hash=planned.plan_hash))
            if progress:
                progress("chunks", index + 1, len(paths))
        return results
    # spawn, not fork: the parent may already hold a Playwright driver and its threads.
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    try:
        futures = {
            pool.submit(render_chunk, plan_dir, index, path, plan_hash=planned.plan_hash): index
            for index, path in enumerate(paths)
        }
        done_count = 0
        pending = set(futures)
        by_index: dict[int, ChunkResult] = {}
        while pending:
            done, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for future in done:
                by_index[futures[future]] = future.result()  # re-raises the worker's typed error
                done_count += 1
                if progress:
                    progress("chunks", done_count, len(paths))
        return [by_index[i] for i in range(len(paths))]
    except BaseException:
        _stop_workers(pool)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Kill the worker processes now: a failed or interrupted render must not wait for chunks in flight."""
    # The executor has no public way to kill its workers; ``_processes`` has been its pid→Process map since 3.2.
    processes = dict(getattr(pool, "_processes", None) or {})
    for process in processes.values():
        process.kill()
