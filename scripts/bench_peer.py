#!/usr/bin/env python3
"""framecast vs the HyperFrames CLI (the peer), same compositions, same machine, same run.

Installs the peer offline from the npm registry (scripts/_peer_cli.py, cached between runs), then
renders examples/text-1080p, showcase-1080p and held-1080p one after the other with `framecast render`
(defaults) and `hyperframes render` (`--workers 2` and its auto default), N times each, interleaved so
drifting machine load hits every renderer alike. Each output is scored by PSNR against a lossless
capture of the same frames by the same renderer (framecast: its engine's BeginFrame PNG of the opaque
page; the peer: its png-sequence), plus the mean luma offset against it (a level shift in the colour
conversion shows there), and the results go to the "peer" section of BENCHMARKS.md.

Both renderers get the same staged copy of a composition, with GSAP served from a file beside
index.html (the pinned copy framecast uses), because the peer cannot fetch the CDN offline.

Usage: python scripts/bench_peer.py [--repeat N] [--composition text-1080p ...] [--seconds S (smoke run)]
Exits 1 with the reason when the peer cannot be installed or run.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from _peer_cli import NODE_VERSION, PEER_FFMPEG, PEER_VERSION, PeerCli, PeerUnavailableError, install_peer
from bench_report import write_section  # a sibling script (scripts/ is on sys.path when run)

from app.engine import runtime
from app.engine.capture import CaptureSession
from app.engine.chrome import acquire_browser, shutdown_browser
from app.engine.encoder import PngFolderSink
from app.engine.ffmpeg import ffmpeg_exe, ffmpeg_version
from app.engine.frame_rate import frame_count
from app.engine.render import RenderOptions, capture_range, prepare
from app.engine.server import ProjectServer

ROOT = Path(__file__).resolve().parent.parent
# held-1080p: four slides that each hold for 2 s, so four frames in five repeat the one before.
COMPOSITIONS = ("text-1080p", "showcase-1080p", "held-1080p")
RENDER_TIMEOUT_SECONDS = 600.0
FONT_FILES = {
    w: Path("/usr/share/fonts/truetype/dejavu") / f for w, f in ((400, "DejaVuSans.ttf"), (700, "DejaVuSans-Bold.ttf"))
}
# One renderer configuration: a label and how to run it (framecast, or the peer with N workers / auto).
RENDERERS = (("framecast", None), ("peer --workers 2", 2), ("peer auto", 0))


@dataclass(frozen=True)
class Run:
    composition: str
    renderer: str
    repeat: int
    wall_seconds: float
    frames: int
    size_bytes: int
    psnr_yuv: float
    psnr_y: float
    luma_offset: float

    @property
    def fps(self) -> float:
        return self.frames / self.wall_seconds


def stage(source: Path, work: Path, seconds: float | None = None) -> Path:
    """A copy of ``source`` for both renderers: GSAP as a local file (the pinned one), fonts as files.

    The peer replaces a system font it has no @font-face for with one of its own, so the same picture
    needs the font declared with its file: DejaVu Sans (what the compositions name first) is copied in.
    """
    dest = work / "projects" / source.name
    shutil.copytree(source, dest)
    index = dest / "index.html"
    html = index.read_text()
    faces = []
    for weight, font in FONT_FILES.items():
        if not font.is_file():
            raise SystemExit(f"{font} is missing; install Debian's fonts-dejavu-core")
        shutil.copyfile(font, dest / font.name)
        faces.append(f'@font-face{{font-family:"DejaVu Sans";font-weight:{weight};src:url("{font.name}")}}')
    html = html.replace("</head>", f"  <style>{''.join(faces)}</style>\n</head>", 1)
    for url in set(re.findall(r'<script[^>]+src="(https?://[^"]+)"', html)):
        local = runtime.gsap_cdn_file(url)
        if local is None:
            raise SystemExit(f"{source}/index.html loads {url}, which the offline peer cannot fetch")
        shutil.copyfile(local, dest / local.name)
        html = html.replace(url, local.name)
    if seconds is not None:  # a smoke run: the root's data-duration is the first one
        html = re.sub(r'data-duration="[0-9.]+"', f'data-duration="{seconds:g}"', html, count=1)
    index.write_text(html)
    return dest


def capture_reference(project: Path, folder: Path) -> int:
    """Lossless frames of ``project``: BeginFrame PNG of the opaque page (png-sequence would drop the background)."""
    prepared = prepare(project, RenderOptions())
    settings = replace(prepared.capture_settings(None), image="png")
    with ProjectServer(project, frames_dir=folder.parent / "video-frames") as server:
        session = CaptureSession(acquire_browser(), server, settings)
        try:
            session.open()
            total = frame_count(prepared.composition.duration or session.page_duration(), prepared.fps)
            capture_range(session, 0, total, PngFolderSink(folder, first_number=0), None)
        finally:
            session.close()
    shutdown_browser()  # the renders that follow each launch their own browser
    return total


def capture_peer_reference(peer: PeerCli, project: Path, folder: Path) -> int:
    """The peer's own lossless frames (its png-sequence output), renamed frame_000000.png onwards like ours."""
    raw = folder.with_name(folder.name + "-raw")
    command = [*peer.render_command(project, raw, 2), "--format", "png-sequence"]
    done = peer.run(command, RENDER_TIMEOUT_SECONDS)
    frames = sorted(raw.glob("frame_*.png"))
    if done.returncode != 0 or not frames:
        raise RuntimeError(
            f"the peer's png-sequence of {project.name} failed ({done.returncode}):\n{done.stderr[-1500:]}"
        )
    folder.mkdir(parents=True)
    first = int(frames[0].stem.split("_")[1])  # the peer numbers from 1
    for frame in frames:
        frame.rename(folder / f"frame_{int(frame.stem.split('_')[1]) - first:06d}.png")
    return len(frames)


_PSNR = re.compile(r"PSNR y:([\d.inf]+) u:[\d.inf]+ v:[\d.inf]+ average:([\d.inf]+)")


def psnr(source: Path, reference: Path, fps: int) -> tuple[float, float]:
    """(average over Y, U, V; Y alone) in dB of a video (or a folder of PNG frames) against PNG frames.

    PNGs are taken to BT.709 limited-range 4:2:0 first, what both renderers' mp4s claim to hold.
    """
    to_yuv = "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p"
    graph = f"[0:v]{to_yuv if source.is_dir() else 'format=yuv420p'}[out];[1:v]{to_yuv}[ref];[out][ref]psnr"
    command = [ffmpeg_exe(), "-hide_banner", "-nostdin", *_input(source, fps), *_input(reference, fps)]
    done = subprocess.run([*command, "-lavfi", graph, "-f", "null", "-"], capture_output=True, text=True, check=False)
    found = _PSNR.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"PSNR of {source} against {reference} failed:\n{done.stderr[-800:]}")
    return float(found.group(2)), float(found.group(1))


def _input(path: Path, fps: int) -> list[str]:
    return ["-framerate", str(fps), "-i", str(path / "frame_%06d.png")] if path.is_dir() else ["-i", str(path)]


def luma_offset(video: Path, reference: Path, every: int = 30) -> float:
    """Mean Y of the video minus the reference's BT.709 limited-range Y, over every ``every``-th frame."""
    import av  # only needed here
    import numpy as np

    weights = np.array([0.2126, 0.7152, 0.0722]) * 219 / 255
    offsets = []
    with av.open(str(video)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index % every:
                continue
            with av.open(str(reference / f"frame_{index:06d}.png")) as png:
                rgb = next(png.decode(video=0)).to_ndarray(format="rgb24").astype(np.float64)
            expected = 16 + rgb @ weights
            luma = frame.to_ndarray(format="yuv420p")[: frame.height].astype(np.float64)
            offsets.append(float((luma - expected).mean()))
    return float(np.mean(offsets))


def count_frames(video: Path) -> int:
    import av  # only needed here

    with av.open(str(video)) as container:
        return sum(1 for _ in container.demux(container.streams.video[0]) if _.size)


def framecast_command(project: Path, out: Path) -> list[str]:
    exe = shutil.which("framecast")
    base = [exe] if exe else [sys.executable, "-m", "app.cli.main"]
    return [*base, "render", str(project), "-o", str(out)]


def render_once(peer: PeerCli, workers: int | None, project: Path, out: Path) -> float:
    """Wall seconds of one render, start of the CLI process to its exit (start-up and launch included)."""
    started = time.perf_counter()
    if workers is None:
        done = subprocess.run(
            framecast_command(project, out), capture_output=True, text=True, timeout=RENDER_TIMEOUT_SECONDS, check=False
        )
    else:
        done = peer.run(peer.render_command(project, out, workers or None), RENDER_TIMEOUT_SECONDS)
    wall = time.perf_counter() - started
    if done.returncode != 0 or not out.is_file():
        raise RuntimeError(f"render of {project.name} to {out.name} failed ({done.returncode}):\n{done.stderr[-1500:]}")
    return wall


def bench(
    peer: PeerCli, compositions: list[str], repeat: int, work: Path, seconds: float | None = None
) -> tuple[list[Run], dict[str, float]]:
    """Every render, then every score; also returns how alike the two lossless captures are, per composition."""
    projects = {name: stage(ROOT / "examples" / name, work, seconds) for name in compositions}
    references: dict[tuple[str, str], Path] = {}
    agreement: dict[str, float] = {}
    for name, project in projects.items():
        for owner, capture in (("framecast", capture_reference), ("peer", partial(capture_peer_reference, peer))):
            started = time.perf_counter()
            references[name, owner] = work / "reference" / f"{name}-{owner}"
            frames = capture(project, references[name, owner])
            print(f"lossless {owner} {name}: {frames} frames in {time.perf_counter() - started:.1f} s", flush=True)
        fps = prepare(project, RenderOptions()).fps
        agreement[name] = psnr(references[name, "framecast"], references[name, "peer"], fps)[0]
        print(f"lossless framecast vs lossless peer, {name}: {agreement[name]:.2f} dB", flush=True)
    outputs: list[tuple[str, str, int, Path, float]] = []
    for rep in range(1, repeat + 1):
        for name, project in projects.items():
            for label, workers in RENDERERS:
                out = work / "out" / f"{name}-{label.replace(' ', '_').replace('-', '')}-{rep}.mp4"
                out.parent.mkdir(parents=True, exist_ok=True)
                wall = render_once(peer, workers, project, out)
                outputs.append((name, label, rep, out, wall))
                print(f"{name:15} {label:17} #{rep}: {wall:6.2f} s", flush=True)
    runs = []
    for name, label, rep, out, wall in outputs:
        fps = prepare(projects[name], RenderOptions()).fps
        owner = "framecast" if label == "framecast" else "peer"
        yuv, y = psnr(out, references[name, owner], fps)
        offset = luma_offset(out, references[name, owner])
        runs.append(Run(name, label, rep, wall, count_frames(out), out.stat().st_size, yuv, y, offset))
        print(
            f"{name:15} {label:17} #{rep}: PSNR {yuv:.2f} dB (Y {y:.2f}), luma offset {offset:+.2f}, "
            f"{out.stat().st_size / 1024:.0f} KB"
        )
    return runs, agreement


@dataclass(frozen=True)
class Summary:
    """One composition x renderer over its repeats: times averaged, quality the worst run's."""

    runs: list[Run]

    @property
    def composition(self) -> str:
        return self.runs[0].composition

    @property
    def renderer(self) -> str:
        return self.runs[0].renderer

    @property
    def walls(self) -> list[float]:
        return [r.wall_seconds for r in self.runs]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.walls)

    @property
    def frames(self) -> int:
        return self.runs[0].frames

    @property
    def size_bytes(self) -> int:
        return round(statistics.fmean(r.size_bytes for r in self.runs))

    @property
    def psnr_yuv(self) -> float:
        return min(r.psnr_yuv for r in self.runs)

    @property
    def psnr_y(self) -> float:
        return min(r.psnr_y for r in self.runs)

    @property
    def luma_offset(self) -> float:
        return statistics.fmean(r.luma_offset for r in self.runs)


def summarize(runs: list[Run]) -> list[Summary]:
    groups: dict[tuple[str, str], list[Run]] = {}
    for run in runs:
        groups.setdefault((run.composition, run.renderer), []).append(run)
    return [Summary(group) for group in groups.values()]


def report(
    summaries: list[Summary],
    agreement: dict[str, float],
    repeat: int,
    load: tuple[tuple[float, ...], tuple[float, ...]],
) -> str:
    by = {(s.composition, s.renderer): s for s in summaries}
    lines = [
        f"Written by `make bench-peer` (`scripts/bench_peer.py`, {repeat} runs each, interleaved) on "
        f"{platform.node() or 'this machine'}, {os.cpu_count()} cores: framecast (Chrome "
        f"{acquire_browser().version}, ffmpeg {ffmpeg_version()}) vs the HyperFrames CLI {PEER_VERSION} "
        f"(Node {NODE_VERSION}, same Debian chromium-headless-shell, {_peer_ffmpeg_version()}).",
        "",
        f"Load average (1/5/15 min) at the start {_load(load[0])}, at the end {_load(load[1])}: the machine's 2 "
        "cores are shared with other engineers' test runs, so absolute times are noisy; the ratios, measured "
        "side by side in one run, hold better.",
        "",
        "Wall time is the CLI process from start to exit (start-up, browser launch and encode included). "
        "Speedup = peer mean wall / framecast mean wall. PSNR is each output against a lossless capture of the "
        "same frames BY THE SAME RENDERER (framecast: its engine's BeginFrame PNG of the opaque page; the peer: "
        "its own `--format png-sequence`), both taken to BT.709 limited-range 4:2:0, averaged over Y, U and V "
        "by ffmpeg's psnr filter (Y alone beside it; the worst run shown). Each renderer needs its own "
        "reference because the two pictures are not identical: text lands on slightly different sub-pixel "
        "positions, so the two lossless captures agree only to "
        + ", ".join(f"{v:.1f} dB ({k})" for k, v in agreement.items())
        + ".",
        "",
        "| composition | renderer | wall s (runs) | mean s | fps | speedup vs it | size KB | size vs it "
        "| PSNR dB (Y) | luma offset |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in summaries:
        ours = by[(s.composition, "framecast")]
        speedup = "—" if s is ours else f"**{s.mean / ours.mean:.2f}x**"
        size_ratio = "—" if s is ours else f"{ours.size_bytes / s.size_bytes:.2f}"
        lines.append(
            f"| {s.composition} | {s.renderer} | {' / '.join(f'{w:.1f}' for w in s.walls)} | {s.mean:.1f} | "
            f"{s.frames / s.mean:.1f} | {speedup} | {s.size_bytes / 1024:.0f} | {size_ratio} | "
            f"{s.psnr_yuv:.2f} ({s.psnr_y:.2f}) | {s.luma_offset:+.2f} |"
        )
    lines += [
        "",
        "\"speedup vs it\" is framecast's speed over that peer configuration (≥ 2x is issue 14's target); "
        "\"size vs it\" is framecast's file size over the peer's. The peer encodes x264 `medium` CRF 16 from "
        "JPEG q100 frames; framecast's standard tier is x264 `veryfast` CRF 18 from JPEG q92 frames. \"luma "
        "offset\" is the output's mean Y minus the lossless capture's (8-bit code values, every 30th frame): "
        "a level shift from the colour conversion; alone, an offset of 2 caps Y PSNR near 42 dB.",
    ]
    return "\n".join(lines)


def _load(values: tuple[float, ...]) -> str:
    return "/".join(f"{v:.2f}" for v in values)


def _peer_ffmpeg_version() -> str:
    done = subprocess.run([PEER_FFMPEG, "-version"], capture_output=True, text=True, check=False)
    first = (done.stdout.splitlines() or ["ffmpeg ?"])[0]
    return "Debian " + " ".join(first.split()[:3])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each renderer per composition")
    parser.add_argument("--composition", action="append", choices=COMPOSITIONS, help="default: all")
    parser.add_argument("--seconds", type=float, help="shorten every composition (a smoke run; implies --no-report)")
    parser.add_argument("--no-report", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args()
    try:
        peer = install_peer()
    except PeerUnavailableError as exc:
        print(f"bench-peer: cannot install the HyperFrames CLI {PEER_VERSION}: {exc}", file=sys.stderr)
        return 1
    load_start = os.getloadavg()
    print(f"load average at start: {_load(load_start)}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-peer-") as tmp:
        try:
            runs, agreement = bench(peer, args.composition or list(COMPOSITIONS), args.repeat, Path(tmp), args.seconds)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            print(f"bench-peer: {exc}", file=sys.stderr)
            return 1
    load_end = os.getloadavg()
    print(f"load average at end: {_load(load_end)}")
    text = report(summarize(runs), agreement, args.repeat, (load_start, load_end))
    print(text)
    if not (args.no_report or args.seconds):
        write_section("peer", text)
    shutdown_browser()
    return 0


if __name__ == "__main__":
    sys.exit(main())
