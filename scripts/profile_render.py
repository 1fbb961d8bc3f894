#!/usr/bin/env python3
"""Where a 1080p render's time goes, frame by frame and process by process (issue 14's profile).

Runs the engine's own pieces (prepare → ProjectServer → capture session → StreamingEncoder, the loop
`render()` runs, minus audio and mux) on examples/text-1080p, with timers around the calls of the
capture loop, installed from here on the session's objects so the engine carries no profiling code:

1. the render: per frame, the seek (`page.evaluate`), the BeginFrame exchange (CDP `beginFrame`:
   raster, JPEG encode in Chrome, transfer to Python), the base64 decode, the pipe write to ffmpeg
   and the rest of the loop; CPU time of every process (Chrome browser/renderer/GPU/utility,
   Playwright's driver, ffmpeg, Python) and the machine's idle time over the same wall time;
2. the BeginFrame split, on the same page afterwards: frames alternately raster-only (BeginFrame
   without a screenshot) and raster + JPEG, plus a payload of the JPEG's base64 size through the same
   CDP path (transfer alone) and an empty round trip;
3. capture alone: the same frames captured and discarded (the capture limit, cf. peer-bench.md);
4. ffmpeg alone on the JPEG stream captured in 1: decode only, decode + colour conversion, and the
   full encode with framecast's arguments;
5. the first frame of a new process (engine only: Chrome launch, page load, readiness, frame 0), three
   times: no schedule produces a frame sooner, so it starts the limit of a whole render;
6. `framecast render` with every default, three times, sampled from outside (the median is compared
   with the floor and the limit); 5 and 6 alternate, so that both see the same load.

Writes the "profile" section of BENCHMARKS.md. Usage: python scripts/profile_render.py [--no-report]
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _proc_cpu import CpuSample, CpuUse, SampledRun, cpu_between, run_sampled
from bench_report import write_section  # a sibling script (scripts/ is on sys.path when run)

from app.cli.render_cmd import workers_for
from app.engine import capture as capture_module
from app.engine.capture import CaptureSession
from app.engine.encoder import StreamingEncoder
from app.engine.ffmpeg import ffmpeg_version
from app.engine.formats import JPEG_QUALITY
from app.engine.frame_rate import frame_count
from app.engine.render import RenderOptions, capture_range, open_session, prepare
from app.engine.server import ProjectServer

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "examples" / "text-1080p"
SPLIT_FRAMES = 60
DEFAULT_RUNS = 3


class Timers:
    """Accumulated seconds and call counts per label."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    @contextmanager
    def time(self, label: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[label] += time.perf_counter() - started
            self.calls[label] += 1

    def wrap(self, fn: Callable[..., Any], label: Callable[..., str]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.time(label(*args, **kwargs)):
                return fn(*args, **kwargs)

        return timed


# ---- 1. the profiled render ------------------------------------------------------------------------------


class TeeSink:
    """Times each pipe write into ffmpeg and keeps the JPEG stream for the ffmpeg-alone runs."""

    def __init__(self, inner: StreamingEncoder, copy: Path, timers: Timers) -> None:
        self.inner, self.timers = inner, timers
        self.copy = copy.open("wb")

    def write(self, index: int, image: bytes) -> None:
        with self.timers.time("pipe write to ffmpeg"):
            self.inner.write(index, image)
        self.copy.write(image)

    def finish(self) -> None:
        self.copy.close()
        self.inner.finish()

    def abort(self) -> None:
        self.copy.close()
        self.inner.abort()


def instrument(session: CaptureSession, timers: Timers) -> None:
    """Timers on the session's page calls: after open(), so readiness polls are not counted."""
    assert session.page is not None
    page, cdp = session.page.page, session.page.cdp
    page.evaluate = timers.wrap(page.evaluate, lambda *a, **k: "seek (page.evaluate)")  # type: ignore[method-assign]
    cdp.send = timers.wrap(  # type: ignore[method-assign]
        cdp.send, lambda method, *a, **k: "BeginFrame exchange (CDP)" if "beginFrame" in method else f"CDP {method}"
    )
    # The whole begin_frame call minus its CDP exchange is the base64 decode (and a dict lookup).
    # capture.py calls the begin_frame it imported: replace that name (getattr/setattr: not a public attribute).
    original = getattr(capture_module, "begin_frame")  # noqa: B009
    setattr(capture_module, "begin_frame", timers.wrap(original, lambda *a, **k: "begin_frame total"))  # noqa: B010


@dataclass
class RenderProfile:
    frames: int
    wall: float
    boot: float
    encode_tail: float  # ffmpeg finishing after the last frame was written
    timers: Timers
    cpu: CpuUse
    encoder_args: list[str]


def profiled_render(work: Path) -> tuple[RenderProfile, CaptureSession, ProjectServer]:
    prepared = prepare(PROJECT, RenderOptions())
    server = ProjectServer(PROJECT, frames_dir=work / "video-frames")
    server.__enter__()
    started = time.perf_counter()
    session = open_session(prepared, server, None)
    boot = time.perf_counter() - started
    total = frame_count(prepared.composition.duration or session.page_duration(), prepared.fps)
    timers = Timers()
    instrument(session, timers)
    before = CpuSample.take()
    kids_before = before.children
    encoder = StreamingEncoder(
        work / "profiled.mp4", prepared.spec, prepared.codec, prepared.quality, prepared.crf, fps=prepared.fps
    )
    sink = TeeSink(encoder, work / "frames.mjpeg", timers)
    with timers.time("capture loop"):
        capture_range(session, 0, total, sink, None)
    mid = CpuSample.take()  # Chrome's processes, before ffmpeg is reaped
    with timers.time("ffmpeg finishing"):
        sink.finish()
    after = CpuSample.take()
    after.per_pid = mid.per_pid  # ffmpeg's pid is gone; it is counted through RUSAGE_CHILDREN
    cpu = cpu_between(before, after, {"ffmpeg (x264)": after.children - kids_before})
    wall = timers.seconds["capture loop"] + timers.seconds["ffmpeg finishing"]
    # The wrappers stay on the page for the later phases: keep a copy of the render's own figures.
    snapshot = Timers()
    snapshot.seconds.update(timers.seconds)
    snapshot.calls.update(timers.calls)
    profile = RenderProfile(total, wall, boot, timers.seconds["ffmpeg finishing"], snapshot, cpu, encoder.args)
    return profile, session, server


# ---- 2. the BeginFrame split -------------------------------------------------------------------------------


@dataclass
class Split:
    raster_only: float
    raster_jpeg: float
    transfer: float  # the JPEG's base64 through CDP → Playwright → Python, beyond an empty round trip
    round_trip: float
    seek: float
    decode: float
    jpeg_bytes: int


def beginframe_split(session: CaptureSession, total: int) -> Split:
    """Alternate raster-only and raster+JPEG frames on the open page; then time the payload alone."""
    assert session.page is not None
    cdp, page, s = session.page.cdp, session.page.page, session.settings
    times: dict[str, list[float]] = defaultdict(list)
    sizes: list[int] = []
    for n in range(SPLIT_FRAMES):
        index = (n * 7) % total
        started = time.perf_counter()
        page.evaluate("async (t) => { await window.__hf.seek(t); }", float(index / s.fps))
        times["seek"].append(time.perf_counter() - started)
        session._ticks += session.interval_ms  # strictly increasing frame times, as the capture loop keeps them
        params: dict[str, Any] = {"frameTimeTicks": session._ticks, "interval": session.interval_ms}
        if n % 2:
            params["screenshot"] = {"format": "jpeg", "quality": s.jpeg_quality, "optimizeForSpeed": True}
        started = time.perf_counter()
        result = cdp.send("HeadlessExperimental.beginFrame", params)
        times["jpeg" if n % 2 else "raster"].append(time.perf_counter() - started)
        if data := result.get("screenshotData"):
            started = time.perf_counter()
            sizes.append(len(base64.b64decode(data)))
            times["decode"].append(time.perf_counter() - started)
    payload = len(base64.b64encode(b"\0" * int(statistics.fmean(sizes or [300_000]))))
    for _ in range(20):
        started = time.perf_counter()
        cdp.send("Runtime.evaluate", {"expression": "0", "returnByValue": True})
        times["empty"].append(time.perf_counter() - started)
        started = time.perf_counter()
        cdp.send("Runtime.evaluate", {"expression": f"'A'.repeat({payload})", "returnByValue": True})
        times["payload"].append(time.perf_counter() - started)
    med = {k: statistics.median(v) for k, v in times.items()}
    return Split(
        raster_only=med["raster"],
        raster_jpeg=med["jpeg"],
        transfer=max(0.0, med["payload"] - med["empty"]),
        round_trip=med["empty"],
        seek=med["seek"],
        decode=med.get("decode", 0.0),
        jpeg_bytes=int(statistics.fmean(sizes or [0])),
    )


# ---- 3. capture alone, 4. ffmpeg alone ----------------------------------------------------------------------


class DiscardSink:
    def write(self, index: int, image: bytes) -> None:
        return None

    def finish(self) -> None:
        return None

    def abort(self) -> None:
        return None


def capture_alone(session: CaptureSession, total: int) -> tuple[float, CpuUse]:
    before = CpuSample.take()
    seconds = capture_range(session, 0, total, DiscardSink(), None)
    return seconds, cpu_between(before, CpuSample.take(), {})


@dataclass
class FfmpegRun:
    label: str
    wall: float
    cpu: float


def ffmpeg_alone(stream: Path, encoder_args: list[str], work: Path) -> list[FfmpegRun]:
    """The captured JPEG stream through ffmpeg alone: decode; decode + colour conversion; framecast's encode."""
    head = encoder_args[: encoder_args.index("-") + 1]  # ffmpeg ... -f image2pipe -c:v mjpeg -framerate N -i -
    vf = encoder_args[encoder_args.index("-vf") + 1]
    cases = [
        ("mjpeg decode", [*head, "-f", "null", "-"]),
        ("decode + colour conversion", [*head, "-vf", vf, "-pix_fmt", "yuv420p", "-f", "null", "-"]),
        ("decode + conversion + x264 (framecast's args)", [*encoder_args[:-1], str(work / "alone.mp4")]),
    ]
    runs = []
    for label, args in cases:
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        with stream.open("rb") as feed:
            subprocess.run(args, stdin=feed, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime + after.ru_stime - kids.ru_utime - kids.ru_stime
        runs.append(FfmpegRun(label, wall, cpu))
        print(f"ffmpeg alone, {label}: {wall:.2f} s wall, {cpu:.2f} s CPU", flush=True)
    return runs


# ---- report -----------------------------------------------------------------------------------------------


def _ms(seconds: float, frames: int) -> str:
    return f"{1000 * seconds / frames:.1f}"


def report(
    profile: RenderProfile,
    split: Split,
    alone: tuple[float, CpuUse],
    ffmpeg_runs: list[FfmpegRun],
    default: DefaultRender,
    first: list[float],
    load: tuple[tuple[float, ...], tuple[float, ...]],
    chrome_version: str,
) -> str:
    n, t, cpu = profile.frames, profile.timers.seconds, profile.cpu
    loop = t["capture loop"]
    beginframe = t["BeginFrame exchange (CDP)"]
    decode = max(0.0, t["begin_frame total"] - beginframe)
    seek = t["seek (page.evaluate)"] + sum(v for k, v in t.items() if k.startswith("CDP "))
    pipe = t["pipe write to ffmpeg"]
    rest = loop - seek - t["begin_frame total"] - pipe
    jpeg_share = max(0.0, split.raster_jpeg - split.raster_only - split.transfer)
    cores = os.cpu_count() or 1
    capture_seconds, capture_cpu = alone
    lines = [
        f"Written by `scripts/profile_render.py`: examples/text-1080p (1920x1080, {n} frames), framecast's "
        f"default settings (BeginFrame JPEG q{JPEG_QUALITY['standard']}, x264 veryfast CRF 18), Chrome "
        f"{chrome_version}, ffmpeg {ffmpeg_version()}, {cores} cores. Load average (1/5/15 min) at the start "
        f"{'/'.join(f'{v:.2f}' for v in load[0])}, at the end {'/'.join(f'{v:.2f}' for v in load[1])}: two "
        "other engineers' test runs share these cores, so every figure is noisy (±20 % between runs is usual).",
        "",
        f"### Per frame, the render loop (capture → pipe → ffmpeg), {n / profile.wall:.1f} fps",
        "",
        f"Browser and page boot {profile.boot:.2f} s (not in the loop). Loop {loop:.2f} s for {n} frames, "
        f"then ffmpeg finished {profile.encode_tail:.2f} s after the last write.",
        "",
        "| step (Python's thread, serial) | ms/frame | share of the loop |",
        "|---|---|---|",
    ]
    steps = [
        ("seek: `__hf.seek(t)` through Playwright (`page.evaluate`)", seek),
        ("BeginFrame exchange: raster + JPEG encode in Chrome + CDP transfer to Python", beginframe),
        ("base64 decode in Python", decode),
        ("pipe write into ffmpeg's stdin (blocks only when ffmpeg lags)", pipe),
        ("rest of the loop (Python)", rest),
    ]
    lines += [f"| {label} | {_ms(sec, n)} | {100 * sec / loop:.0f} % |" for label, sec in steps]
    lines += [
        f"| **total** | **{_ms(loop, n)}** | 100 % |",
        "",
        f"The BeginFrame exchange split, measured on the same page right after (median of {SPLIT_FRAMES // 2} "
        "frames each, frames alternating):",
        "",
        "| part of one BeginFrame | ms |",
        "|---|---|",
        f"| raster + composite (BeginFrame without a screenshot; includes one CDP round trip) | "
        f"{1000 * split.raster_only:.1f} |",
        "| screenshot in Chrome: read-back of the composited frame + JPEG encode (with-screenshot minus "
        f"raster-only minus transfer) | {1000 * jpeg_share:.1f} |",
        f"| transfer of the JPEG's base64 ({split.jpeg_bytes / 1024:.0f} KB decoded) Chrome → Playwright → "
        f"Python, beyond an empty round trip | {1000 * split.transfer:.1f} |",
        f"| an empty CDP round trip (Python → Playwright driver → Chrome → back) | {1000 * split.round_trip:.1f} |",
        f"| seek alone (`page.evaluate`, one round trip included) | {1000 * split.seek:.1f} |",
        f"| base64 decode | {1000 * split.decode:.1f} |",
        "",
        f"### CPU by process during the loop ({cpu.wall:.1f} s wall × {cores} cores = {cpu.wall * cores:.1f} "
        "CPU-seconds available)",
        "",
        "| process | CPU s | % of one core | ms CPU/frame | of it in the kernel | page faults/frame |",
        "|---|---|---|---|---|---|",
    ]
    for role, seconds in sorted(cpu.by_role.items(), key=lambda item: -item[1]):
        if seconds >= 0.05:
            kernel = cpu.kernel_by_role.get(role)
            faults = cpu.faults_by_role.get(role)
            lines.append(
                f"| {role} | {seconds:.1f} | {100 * seconds / cpu.wall:.0f} % | {_ms(seconds, n)} | "
                f"{'' if kernel is None else f'{100 * kernel / seconds:.0f} %'} | "
                f"{'' if faults is None else f'{faults / n:.0f}'} |"
            )
    ours = sum(cpu.by_role.values())
    lines += [
        f"| **all of framecast's processes** | **{ours:.1f}** | {100 * ours / cpu.wall:.0f} % | {_ms(ours, n)} | | |",
        f"| other load on the machine (not ours) | {cpu.other_fraction * cpu.wall * cores:.1f} | "
        f"{100 * cpu.other_fraction * cores:.0f} % | | | |",
        f"| machine idle | {cpu.machine_idle_fraction * cpu.wall * cores:.1f} | "
        f"{100 * cpu.machine_idle_fraction * cores:.0f} % | | | |",
        "",
        "### Limits measured alone",
        "",
        "| what | wall s | fps | CPU s |",
        "|---|---|---|---|",
        f"| capture alone (same page, frames discarded, no encoder) | {capture_seconds:.2f} | "
        f"{n / capture_seconds:.1f} | {sum(capture_cpu.by_role.values()):.1f} |",
        *[f"| ffmpeg alone: {r.label} | {r.wall:.2f} | {n / r.wall:.1f} | {r.cpu:.1f} |" for r in ffmpeg_runs],
        f"| the render above (capture + encode together) | {profile.wall:.2f} | {n / profile.wall:.1f} | {ours:.1f} |",
        "",
        "### The default render, end to end",
        "",
        f"`framecast render examples/text-1080p` with every default (`--workers auto`: {default.workers} "
        "capture processes, each with its browser and encoder, joined by a stream copy), a new process from "
        f"start to exit, {len(default.runs)} runs; the CPU of every process it started summed from /proc:",
        "",
        "| run | wall s | fps | CPU s (all its processes) | that CPU spread over every core | wall / that | "
        "machine idle | other people's load | plan / chunks / assemble s (its summary) | start + exit s |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *[
            f"| {'**median**' if r is default.run else i + 1} | {r.wall:.2f} | {n / r.wall:.1f} | {r.cpu:.1f} | "
            f"{r.cpu / cores:.2f} s | {r.wall / (r.cpu / cores):.2f} | {100 * r.machine_idle_fraction:.0f} % | "
            f"{100 * r.other_fraction:.0f} % | {_stages(r)} |"
            for i, r in enumerate(default.runs)
        ],
        "",
        f"A new process that imports only the engine, launches Chrome, loads this page, waits for it to be "
        f"ready and captures frame 0 holds that frame {', '.join(f'{v:.2f}' for v in first)} s after it "
        "was started: no schedule can produce a frame sooner.",
        "",
        conclusion(profile, split, capture_cpu, default, statistics.median(first), cores),
    ]
    return "\n".join(lines)


# ---- 5. the first frame of a new process, 6. the default render -------------------------------------------


@dataclass
class DefaultRender:
    runs: list[SampledRun]
    workers: int

    @property
    def run(self) -> SampledRun:
        """The median run by wall time (the machine is shared: one run alone says little)."""
        return sorted(self.runs, key=lambda r: r.wall)[len(self.runs) // 2]


def default_render(work: Path) -> SampledRun:
    """One ``framecast render`` of the profiled composition with every default, sampled from outside."""
    framecast = str(Path(sys.executable).with_name("framecast"))
    run = run_sampled([framecast, "render", str(PROJECT), "-o", str(work / "default.mp4"), "--force"])
    if run.returncode != 0:
        raise SystemExit(f"framecast render failed ({run.returncode}):\n{run.stderr[-2000:]}")
    print(f"default render: {run.wall:.2f} s wall, {run.cpu:.1f} CPU-s", flush=True)
    return run


# A new Python process that imports only the engine, launches Chrome, loads the page, waits for readiness
# and warm-up, captures frame 0 and prints the monotonic clock (the same clock in every process on Linux).
_FIRST_FRAME = """
import sys, time
from pathlib import Path
from app.engine.render import RenderOptions, open_session, prepare
from app.engine.server import ProjectServer
prepared = prepare(Path(sys.argv[1]), RenderOptions())
with ProjectServer(prepared.composition.project_dir) as server:
    session = open_session(prepared, server, None)
    session.capture(0)
    print(time.monotonic(), flush=True)
    session.close()
"""


def first_frame() -> float:
    """Seconds from starting a new process to holding frame 0: what every render waits before any frame."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", _FIRST_FRAME, str(PROJECT)], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the first-frame process failed ({done.returncode}):\n{done.stderr[-2000:]}")
    seconds = float(done.stdout.split()[-1]) - started
    print(f"first frame of a new process: {seconds:.2f} s", flush=True)
    return seconds


_SUMMARY = re.compile(r"([\d.]+) s wall \(plan ([\d.]+) s, chunks ([\d.]+) s, assemble ([\d.]+) s")


def _stages(run: SampledRun) -> str:
    """Plan, chunks and assemble from the render's own summary line; the rest of its wall time is the
    process's start (imports, arguments) and exit, outside ``render_chunked``."""
    found = _SUMMARY.search(" ".join(run.stderr.split()))  # rich wraps the summary at 80 columns
    if found is None:
        return "(no summary) | "
    inside, plan_s, chunks_s, assemble_s = (float(v) for v in found.groups())
    return f"{plan_s:.1f} / {chunks_s:.1f} / {assemble_s:.1f} | {run.wall - inside:.2f}"


def first_frames_and_default_renders(work: Path, runs: int = DEFAULT_RUNS) -> tuple[list[float], DefaultRender]:
    """Alternately a first frame and a default render, so that both see the same load on a shared machine."""
    first, renders = [], []
    for _ in range(runs):
        first.append(first_frame())
        renders.append(default_render(work))
    return first, DefaultRender(renders, workers_for(PROJECT, None))  # what --workers auto decided


def conclusion(
    profile: RenderProfile, split: Split, capture_cpu: CpuUse, default: DefaultRender, first: float, cores: int
) -> str:
    n, cpu = profile.frames, profile.cpu
    per_frame = {role: 1000 * seconds / n for role, seconds in cpu.by_role.items()}
    chrome_ms = sum(v for k, v in per_frame.items() if k.startswith("chrome"))
    ffmpeg_ms = per_frame.get("ffmpeg (x264)", 0.0)
    rest_ms = sum(per_frame.values()) - chrome_ms - ffmpeg_ms
    # The floor: the work one process does for each frame, spread perfectly over every core.
    floor_s = (chrome_ms + ffmpeg_ms + rest_ms) * n / 1000 / cores
    # The limit of a whole render: no frame before a browser has one, then the floor, then the encoder's tail.
    limit_s = first + floor_s + profile.encode_tail
    gpu, browser = "chrome gpu", "chrome browser"
    alone = capture_cpu
    kernel_share = {r: alone.kernel_by_role.get(r, 0.0) / max(alone.by_role.get(r, 0.0), 1e-9) for r in (gpu, browser)}
    faults_mb = {r: alone.faults_by_role.get(r, 0) * 4 / 1024 / n for r in (gpu, browser)}  # 4 KB pages
    frame_mb = 1920 * 1080 * 4 / 2**20
    screenshot_ms = 1000 * max(0.0, split.raster_jpeg - split.raster_only - split.transfer)
    run = default.run
    return (
        f"**Where the limit is.** Each frame costs {chrome_ms:.0f} ms of Chrome CPU, {ffmpeg_ms:.0f} ms of ffmpeg "
        f"and {rest_ms:.0f} ms of Python and Playwright's driver (the one-process loop above). Most of Chrome's "
        f"share is the screenshot (read-back and JPEG, {screenshot_ms:.0f} ms of the BeginFrame's wall time, "
        f"against {1000 * split.raster_only:.0f} ms for raster): with frames discarded, "
        f"{100 * kernel_share[gpu]:.0f} % of the GPU process's CPU and {100 * kernel_share[browser]:.0f} % of the "
        f"browser process's is spent in the kernel, faulting in {faults_mb[gpu]:.0f} MB and "
        f"{faults_mb[browser]:.0f} MB of new memory a frame (a {frame_mb:.1f} MB RGBA frame: Chrome maps fresh "
        "buffers for every read-back and hands the copy to the browser process, which JPEG-encodes it). None "
        "of that is reachable from the page or the DevTools protocol: Chrome's flags, the JPEG quality and "
        "the raster path were each measured on and off (the closing note of issue 14), within noise. So the "
        f"frames alone need {floor_s:.1f} s on {cores} cores however the work is scheduled (the floor), and a "
        f"whole render needs at least {limit_s:.1f} s (the limit): {first:.2f} s before any process can hold "
        f"a frame (the first-frame median above), the floor, and {profile.encode_tail:.2f} s for the encoder "
        f"to finish after the last frame. The default render's median run used {run.cpu:.1f} CPU-seconds and "
        f"took {run.wall:.1f} s: **{run.wall / limit_s:.2f}x the limit** and {run.wall / floor_s:.2f}x the "
        f"floor, {run.wall / (run.cpu / cores):.2f}x its own CPU spread over every core (other people's jobs "
        f"took {100 * run.other_fraction:.0f} % of the machine meanwhile). Twice the peer's speed means half "
        "the peer's wall time in `make bench-peer`: compare it with this limit."
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--no-report", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args()
    from app.engine.chrome import acquire_browser, shutdown_browser

    load_start = os.getloadavg()
    print(f"load average at start: {'/'.join(f'{v:.2f}' for v in load_start)}", flush=True)
    with tempfile.TemporaryDirectory(prefix="profile-render-") as tmp:
        work = Path(tmp)
        profile, session, server = profiled_render(work)
        print(f"render: {profile.frames} frames in {profile.wall:.2f} s ({profile.frames / profile.wall:.1f} fps)")
        try:
            split = beginframe_split(session, profile.frames)
            alone = capture_alone(session, profile.frames)
            print(f"capture alone: {alone[0]:.2f} s ({profile.frames / alone[0]:.1f} fps)", flush=True)
        finally:
            session.close()
            server.__exit__(None, None, None)
        chrome_version = acquire_browser().version
        shutdown_browser()
        ffmpeg_runs = ffmpeg_alone(work / "frames.mjpeg", profile.encoder_args, work)
        first, default = first_frames_and_default_renders(work)
    load_end = os.getloadavg()
    text = report(profile, split, alone, ffmpeg_runs, default, first, (load_start, load_end), chrome_version)
    print(text)
    if not args.no_report:
        write_section("profile", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
