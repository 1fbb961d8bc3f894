#!/usr/bin/env python3
"""Calibrate the Lambda cost model (app/cloud/cost.py): measure per-frame render cost on this machine.

Renders examples/hello (1280x720, 30 fps) trimmed to 2 s through the real Plan -> 2 chunks ->
Assemble path with ONE worker, so each chunk's boot, capture and encode times are its own, and prints:

* vCPU-seconds per frame per megapixel: (capture + encode wait) / frames, times the cores the
  worker kept busy (Chrome and ffmpeg run concurrently, so both cores of this machine), divided by
  the frame's megapixels;
* the cold browser boot of the first chunk and the warm boot of the second;
* plan and assemble seconds;

and, next to them, the constants app/cloud/cost.py uses, so a drift is visible. Not a timed test.

Usage: python scripts/bench_cost.py
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from app.cloud import cost
from app.distributed import RenderConfig
from app.engine import chrome
from app.local.pool import render_chunked

ROOT = Path(__file__).resolve().parent.parent
HELLO = ROOT / "examples" / "hello"
SECONDS = 2
WIDTH, HEIGHT = 1280, 720


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-cost-"))
    try:
        project = work / "hello"
        shutil.copytree(HELLO, project)
        index = project / "index.html"
        index.write_text(re.sub(r'data-duration="[0-9.]+"', f'data-duration="{SECONDS}"', index.read_text(), count=1))
        chrome.shutdown_browser()  # the first chunk pays a cold launch, like a fresh Lambda container
        result = render_chunked(
            project, work / "out.mp4", RenderConfig(max_parallel_chunks=2, min_chunk_frames=1), workers=1
        )
        cores = os.cpu_count() or 1
        frames = sum(c.frames for c in result.chunks)
        busy = sum(c.capture_seconds + c.encode_seconds for c in result.chunks)
        megapixels = WIDTH * HEIGHT / 1e6
        rate = busy * cores / frames / megapixels
        boots = [c.boot_seconds for c in sorted(result.chunks, key=lambda c: c.index)]
        print(f"machine: {cores} cores; {frames} frames of {WIDTH}x{HEIGHT} in {len(result.chunks)} chunks")
        print(
            f"measured: {rate:.4f} vCPU-s per frame per megapixel (constant: {cost.VCPU_SECONDS_PER_MEGAPIXEL_FRAME})"
        )
        print(
            f"measured: boot cold {boots[0]:.2f} s, warm {boots[-1]:.2f} s (constant: {cost.CHUNK_BOOT_SECONDS} s cold)"
        )
        print(
            f"measured: plan {result.plan_seconds:.2f} s (constant: {cost.PLAN_SECONDS} s), "
            f"assemble {result.assemble_seconds:.2f} s (constant: {cost.ASSEMBLE_SECONDS} s)"
        )
        example = cost.estimate_render_cost(300, 1920, 1080, 10240, 8)
        print(f"estimate: 10 s of 1080p30 at 10240 MB in 8 chunks = ${example.total_usd:.4f}")
        for line in example.lines():
            print(f"  {line}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
