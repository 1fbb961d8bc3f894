#!/usr/bin/env python3
"""framecast benchmarks: print numbers and write BENCHMARKS.md (never a timed test).

1. Local render throughput at 1080p: frames/s per capture mode (BeginFrame, screenshot) and per
   format (mp4, webm, mov, png-sequence), on examples/showcase-1080p (trimmed for the slow formats).
2. Distributed on this machine: the 10 s 1080p composition rendered single vs --chunks 4; per chunk
   boot-to-first-frame, capture fps and encode wait; plan and assemble as % of the single render.
3. Warm browser: boot of a second render in the same process vs the first.

Usage: python scripts/bench.py [--quick]  (--quick: 2 s clips everywhere, for a smoke run)
"""

from __future__ import annotations

import argparse
import platform
import re
import shutil
import tempfile
import time
from pathlib import Path

from bench_report import write_section  # a sibling script (scripts/ is on sys.path when run)

from app.distributed import RenderConfig
from app.engine import chrome
from app.engine.ffmpeg import ffmpeg_version
from app.engine.render import RenderOptions, render
from app.local.pool import render_chunked

ROOT = Path(__file__).resolve().parent.parent
SHOWCASE = ROOT / "examples" / "showcase-1080p"
# The HyperFrames CLI 0.8.170 on the same kind of machine (DESIGN.md §4): 10 s 1080p30 text composition.
PEER_SECONDS_10S_1080P = 23.6


def trimmed(source: Path, seconds: float, work: Path) -> Path:
    """A copy of a composition with a shorter data-duration (the slow formats need fewer frames)."""
    dest = Path(tempfile.mkdtemp(prefix=f"{source.name}-{seconds:g}s-", dir=work)) / source.name
    shutil.copytree(source, dest)
    index = dest / "index.html"
    html = index.read_text()
    index.write_text(re.sub(r'data-duration="[0-9.]+"', f'data-duration="{seconds:g}"', html, count=1))
    return dest


def bench_local(work: Path, quick: bool) -> list[dict[str, object]]:
    rows = []
    cases = [
        ("beginframe", "mp4", 2 if quick else 10),
        ("screenshot", "mp4", 2 if quick else 10),
        ("beginframe", "webm", 2),
        ("beginframe", "mov", 2),
        ("beginframe", "png-sequence", 2),
    ]
    for mode, fmt, seconds in cases:
        project = trimmed(SHOWCASE, seconds, work)
        out = work / f"out-{mode}-{fmt}{'' if fmt == 'png-sequence' else '.' + fmt.split('-')[0]}"
        chrome.shutdown_browser()  # every case pays the launch, like a fresh CLI run
        result = render(project, out, RenderOptions(format=fmt, capture_mode=mode))
        rows.append(
            {
                "mode": result.capture_mode,
                "format": fmt,
                "frames": result.frames,
                "wall_s": round(result.wall_seconds, 2),
                "fps": round(result.frames_per_second, 1),
                "size_kb": round(result.size_bytes / 1024),
            }
        )
        print(
            f"local  {mode:10} {fmt:12} {result.frames:4} frames "
            f"{result.wall_seconds:6.2f} s {result.frames_per_second:5.1f} fps"
        )
    return rows


def bench_distributed(work: Path, quick: bool, single_wall: float) -> dict[str, object]:
    project = trimmed(SHOWCASE, 2 if quick else 10, work)
    chrome.shutdown_browser()
    result = render_chunked(
        project, work / "chunked.mp4", RenderConfig(max_parallel_chunks=4, min_chunk_frames=1), workers=2
    )
    chunks = [
        {
            "index": c.index,
            "frames": c.frames,
            "boot_s": c.boot_seconds,
            "capture_fps": round(c.frames / c.capture_seconds, 1) if c.capture_seconds else 0.0,
            "encode_wait_s": c.encode_seconds,
        }
        for c in result.chunks
    ]
    for c in chunks:
        print(
            f"chunk  {c['index']}: {c['frames']} frames, boot {c['boot_s']:.2f} s, "
            f"capture {c['capture_fps']} fps, encode wait {c['encode_wait_s']:.2f} s"
        )
    plan_ms, assemble_ms = result.plan.duration_ms, result.assemble.duration_ms
    summary = {
        "wall_s": round(result.wall_seconds, 2),
        "plan_s": round(plan_ms / 1000, 2),
        "assemble_s": round(assemble_ms / 1000, 2),
        "plan_assemble_pct_of_single": round(100 * (plan_ms + assemble_ms) / 1000 / single_wall, 1),
        "chunks": chunks,
    }
    print(
        f"chunked 4 on 2 workers: {summary['wall_s']} s wall; plan {summary['plan_s']} s + "
        f"assemble {summary['assemble_s']} s = {summary['plan_assemble_pct_of_single']}% of the single render"
    )
    return summary


def bench_warm(work: Path) -> dict[str, float]:
    project = trimmed(SHOWCASE, 1, work)
    chrome.shutdown_browser()
    started = time.perf_counter()
    first = render(project, work / "warm1.mp4")
    cold = time.perf_counter() - started
    started = time.perf_counter()
    render(project, work / "warm2.mp4")
    warm = time.perf_counter() - started
    print(
        f"warm browser: first 1 s render {cold:.2f} s, second {warm:.2f} s "
        f"(saved {cold - warm:.2f} s); {first.frames} frames"
    )
    return {"cold_s": round(cold, 2), "warm_s": round(warm, 2)}


def write_report(local: list[dict[str, object]], dist: dict[str, object], warm: dict[str, float], quick: bool) -> None:
    single = next(r for r in local if r["mode"] == "beginframe" and r["format"] == "mp4")
    lines = [
        f"Written by `make bench` ({'quick' if quick else 'full'} run) on {platform.node() or 'this machine'}: "
        f"{platform.processor() or platform.machine()}, Chrome {chrome.acquire_browser().version}, "
        f"ffmpeg {ffmpeg_version()}.",
        "",
        "## Local render, examples/showcase-1080p (1920x1080, 30 fps)",
        "",
        "| capture | format | frames | wall s | frames/s | size KB |",
        "|---|---|---|---|---|---|",
        *[
            f"| {r['mode']} | {r['format']} | {r['frames']} | {r['wall_s']} | {r['fps']} | {r['size_kb']} |"
            for r in local
        ],
        "",
        f"HyperFrames CLI reference on the same kind of machine: 10 s 1080p30 in {PEER_SECONDS_10S_1080P} s "
        f"({300 / PEER_SECONDS_10S_1080P:.1f} fps). framecast single render: {single['wall_s']} s "
        f"({single['fps']} fps) for {single['frames']} frames.",
        "",
        "## Distributed on this machine (--chunks 4, 2 worker processes)",
        "",
        f"Wall {dist['wall_s']} s; plan {dist['plan_s']} s + assemble {dist['assemble_s']} s = "
        f"{dist['plan_assemble_pct_of_single']}% of the single render.",
        "",
        "| chunk | frames | boot-to-first-frame s | capture fps | encode wait s |",
        "|---|---|---|---|---|",
        *[
            f"| {c['index']} | {c['frames']} | {c['boot_s']} | {c['capture_fps']} | {c['encode_wait_s']} |"
            for c in dist["chunks"]
        ],  # type: ignore[attr-defined]
        "",
        "## Warm browser (reused between renders, as in a reused Lambda container)",
        "",
        f"First 1 s render in a process {warm['cold_s']} s; second {warm['warm_s']} s.",
        "",
    ]
    write_section("local", "\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 s clips everywhere (smoke run)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="framecast-bench-"))
    try:
        local = bench_local(work, args.quick)
        single = next(r for r in local if r["mode"] == "beginframe" and r["format"] == "mp4")
        dist = bench_distributed(work, args.quick, float(single["wall_s"]))  # type: ignore[arg-type]
        warm = bench_warm(work)
        write_report(local, dist, warm, args.quick)
    finally:
        chrome.shutdown_browser()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
