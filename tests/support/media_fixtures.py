"""Tiny generated media for tests: ffmpeg ``lavfi`` sources written into a tmp dir, and ways to measure them."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

from app.engine.ffmpeg import run_ffmpeg

BITEXACT = ["-fflags", "+bitexact", "-flags", "+bitexact"]


def make_video(
    path: Path,
    *,
    seconds: float,
    size: str = "160x90",
    fps: int = 30,
    beep_hz: float | None = None,
    codec: str = "libx264",
) -> Path:
    """A moving test pattern (``testsrc2``), optionally with a mono sine track; H.264 or VP9 by ``codec``."""
    args: list[str | Path] = ["-f", "lavfi", "-i", f"testsrc2=s={size}:r={fps}:d={seconds}"]
    if beep_hz is not None:
        args += ["-f", "lavfi", "-i", f"sine=f={beep_hz}:r=48000:d={seconds}"]
        args += ["-c:a", "aac" if codec == "libx264" else "libopus", "-ac", "1"]
    args += ["-c:v", codec, "-pix_fmt", "yuv420p", "-g", str(fps), *BITEXACT]
    if codec == "libx264":
        args += ["-preset", "ultrafast", "-crf", "35", "-threads", "1"]
    else:
        args += ["-deadline", "realtime", "-cpu-used", "8", "-b:v", "200k"]
    path.parent.mkdir(parents=True, exist_ok=True)
    run_ffmpeg([*args, path], what=f"generating test video {path.name}")
    return path


def make_tone(
    path: Path,
    *,
    seconds: float,
    hz: float = 440.0,
    channels: int = 1,
    sample_rate: int = 48000,
) -> Path:
    """A sine at ffmpeg's default amplitude (1/8 full scale), as WAV (exact length, no codec priming)."""
    source = f"sine=f={hz}:r={sample_rate}:d={seconds}"
    path.parent.mkdir(parents=True, exist_ok=True)
    run_ffmpeg(["-f", "lavfi", "-i", source, "-ac", str(channels), *BITEXACT, path], what=f"generating {path.name}")
    return path


def decode_audio(path: Path) -> tuple[npt.NDArray[np.float32], int]:
    """All samples of the first audio stream as float32 ``(channels, samples)`` and the sample rate."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        chunks = [frame.to_ndarray().astype(np.float32) for frame in container.decode(stream)]
        rate = stream.codec_context.sample_rate
    planar = [c if c.shape[0] <= 8 else c.reshape(-1, 2).T for c in chunks]  # packed formats come as (1, n*ch)
    return np.concatenate(planar, axis=1), rate


def rms(samples: npt.NDArray[np.float32], rate: int, start: float, end: float) -> float:
    """Root mean square of the first channel between ``start`` and ``end`` seconds."""
    window = samples[0, round(start * rate) : round(end * rate)]
    return float(np.sqrt(np.mean(np.square(window, dtype=np.float64))))


def audio_stream_seconds(path: Path) -> float:
    """Length of the first audio stream as the container declares it (after the edit list / codec delay)."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        assert container.duration is not None, f"{path} declares no duration"
        return container.duration / av.time_base


def video_packets(path: Path) -> list[bytes]:
    """The payload of every video packet, in decode order (to compare a copied stream to its source)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [bytes(p) for p in container.demux(stream) if p.size]


def write_project(project_dir: Path, body: str, *, duration: float = 3.0, fps: int = 30) -> Path:
    """An ``index.html`` holding ``body`` inside a 320x180 root composition."""
    project_dir.mkdir(parents=True, exist_ok=True)
    (project_dir / "index.html").write_text(
        f'<!doctype html><html><body><div id="root" data-composition-id="t" data-width="320" data-height="180" '
        f'data-duration="{duration}" data-fps="{fps}">{body}</div></body></html>',
        encoding="utf-8",
    )
    return project_dir
