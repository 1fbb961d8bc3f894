#!/usr/bin/env python3
"""Predicted Lambda wall time for a 60 s 1080p30 render in 16 chunks, from pieces measured here.

    python scripts/bench_lambda_model.py

Measures on examples/showcase-1080p (10 s, 1920x1080, 30 fps), in this process:
- a single local render (the baseline a Lambda render must beat by 10x, scaled to 60 s);
- plan, then every chunk of a 4-chunk plan (the first with a browser launch: a cold container; the
  rest warm), then assemble — the same pure functions the Lambda handler runs.
Then predicts, for 1800 frames in 16 chunks of 112.5 frames: plan + (cold start + launch + boot + one
chunk's frames at the measured per-frame rate + upload) + assemble, plus Step Functions' own overhead.
Assumes each Lambda chunk runs at this machine's one-process rate (a 3.5 GB+ function has 2 vCPUs, like
this machine) and S3 transfers of a few MB are negligible next to the rest. Writes the "lambda-model"
section of BENCHMARKS.md.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from bench_report import write_section  # a sibling script (scripts/ is on sys.path when run)

from app.distributed import RenderConfig
from app.distributed.assemble import assemble
from app.distributed.plan import plan
from app.distributed.render_chunk import render_chunk
from app.engine import chrome
from app.engine.render import RenderOptions, render

ROOT = Path(__file__).resolve().parent.parent
SHOWCASE = ROOT / "examples" / "showcase-1080p"
TARGET_FRAMES = 1800  # 60 s at 30 fps
TARGET_CHUNKS = 16
# Lambda's documented cold start for a container image of this size is dominated by the image pull
# and init; measured here instead: the handler's init (imports + ffmpeg unpack) is in bench_image.py.
STEP_FUNCTIONS_OVERHEAD_S = 0.5  # three states, Map fan-out, a few state transitions
CONTAINER_INIT_S = 1.0  # python + handler import + packed ffmpeg unpack (bench_image: 2.5 s start→result)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="framecast-bench-model-"))
    try:
        chrome.shutdown_browser()
        single = render(SHOWCASE, work / "single.mp4", RenderOptions())
        single_fps = single.frames / single.wall_seconds

        chrome.shutdown_browser()  # the first chunk below launches Chrome, as a cold container does
        started = time.perf_counter()
        planned = plan(SHOWCASE, RenderConfig.parse({"max_parallel_chunks": 4, "min_chunk_frames": 1}), work / "plan")
        plan_s = time.perf_counter() - started
        paths, chunks = [], []
        for index in range(planned.chunk_count):
            path = work / f"chunk-{index:05d}.mp4"
            chunks.append(render_chunk(work / "plan", index, path, plan_hash=planned.plan_hash))
            paths.append(path)
        launch_s = chrome.acquire_browser().launch_seconds  # the launch chunk 0 paid
        started = time.perf_counter()
        assembled = assemble(work / "plan", paths, work / "out.mp4", plan_hash=planned.plan_hash)
        assemble_s = time.perf_counter() - started
    finally:
        shutil.rmtree(work, ignore_errors=True)

    cold, warm = chunks[0], chunks[1:]
    # Everything after the page is ready: capture, the encoder's tail, the chunk's own checks.
    per_frame_s = sum(c.duration_ms / 1000 - c.boot_seconds for c in warm) / sum(c.frames for c in warm)
    chunk_frames = TARGET_FRAMES / TARGET_CHUNKS
    scale = TARGET_FRAMES / planned.total_frames
    cold_chunk_s = CONTAINER_INIT_S + launch_s + cold.boot_seconds + chunk_frames * per_frame_s
    predicted = STEP_FUNCTIONS_OVERHEAD_S + plan_s + cold_chunk_s + assemble_s * scale
    single_60 = TARGET_FRAMES / single_fps
    lines = [
        "Written by `scripts/bench_lambda_model.py` (examples/showcase-1080p measured in one process here).",
        "",
        "| measured | value |",
        "|---|---|",
        f"| single local render | {single.frames} frames in {single.wall_seconds:.1f} s ({single_fps:.1f} fps) |",
        f"| plan (10 s composition, 4 chunks) | {plan_s:.2f} s |",
        f"| cold chunk: Chrome launch + page boot | {launch_s + cold.boot_seconds:.2f} s |",
        f"| warm chunk of the same plan: browser and page kept | {min(c.boot_seconds for c in warm):.2f} s |",
        f"| capture + encode per frame (one process) | {per_frame_s * 1000:.0f} ms |",
        f"| assemble ({planned.chunk_count} chunks, {assembled.frames} frames) | {assemble_s:.2f} s |",
        "",
        f"Model for 60 s of 1080p30 ({TARGET_FRAMES} frames) in {TARGET_CHUNKS} chunks of {chunk_frames:.1f} frames, "
        f"every chunk in a cold container (the worst case): Step Functions {STEP_FUNCTIONS_OVERHEAD_S:.1f} s + "
        f"plan {plan_s:.1f} s + chunk {cold_chunk_s:.1f} s (container init {CONTAINER_INIT_S:.1f} s, launch and boot, "
        f"{chunk_frames:.0f} frames) + assemble {assemble_s * scale:.1f} s = **{predicted:.1f} s**, against "
        f"{single_60:.0f} s for a single render here: **{single_60 / predicted:.1f}x** (target ≥ 10x).",
    ]
    report = "\n".join(lines)
    print(report)
    write_section("lambda-model", "## Lambda model: 60 s 1080p in 16 chunks\n\n" + report)


if __name__ == "__main__":
    main()
