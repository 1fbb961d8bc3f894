"""Measuring rendered outputs: probe streams, decode frames to RGB arrays, compare them, find sounds.

Generation of test media (tones, videos) and audio decoding live in ``tests/support/media_fixtures.py``;
this module adds what render tests measure on video outputs, PNG sequences and audio onsets.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

from tests.support.media_fixtures import decode_audio

Image = npt.NDArray[np.uint8]
AAC_FRAME_SECONDS = 1024 / 48_000


@dataclass(frozen=True)
class VideoInfo:
    codec: str
    pix_fmt: str
    profile: str | None
    width: int
    height: int
    frames: int  # counted by decoding every frame
    fps: float
    seconds: float  # the video stream's declared length (the container's when the stream has none)
    audio_codecs: tuple[str, ...]
    tags: dict[str, str]


def probe_video(path: Path) -> VideoInfo:
    """Describe the first video stream of ``path``, counting its frames by decoding them."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        if stream.duration is not None:
            seconds = float(stream.duration * stream.time_base)
        else:
            seconds = float(container.duration or 0) / av.time_base
        ctx = stream.codec_context
        return VideoInfo(
            codec=ctx.name,
            pix_fmt=ctx.pix_fmt or "",
            profile=ctx.profile,
            width=stream.width,
            height=stream.height,
            frames=frames,
            fps=float(stream.average_rate or 0),
            seconds=seconds,
            audio_codecs=tuple(a.codec_context.name for a in container.streams.audio),
            tags=dict(stream.metadata),
        )


def decode_frames(path: Path, *, rgba: bool = False) -> list[Image]:
    """Every frame of the first video stream as ``(height, width, 3|4)`` uint8 RGB(A) arrays."""
    fmt = "rgba" if rgba else "rgb24"
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format=fmt) for frame in container.decode(container.streams.video[0])]


def decode_frame(path: Path, index: int) -> Image:
    """Frame ``index`` (0-based, decode order = presentation order without B-frames) as RGB."""
    with av.open(str(path)) as container:
        for number, frame in enumerate(container.decode(container.streams.video[0])):
            if number == index:
                return frame.to_ndarray(format="rgb24")
    raise IndexError(f"{path} has no frame {index}")


def frame_at_time(path: Path, seconds: float, fps: int) -> Image:
    """The frame shown at ``seconds`` of a constant-frame-rate video."""
    return decode_frame(path, round(seconds * fps))


def read_png(path: Path) -> Image:
    """A PNG file as an RGBA array."""
    with av.open(str(path)) as container:
        return next(container.decode(video=0)).to_ndarray(format="rgba")


def over_black(rgba: Image) -> Image:
    """An RGBA image composited over black, as RGB (what an opaque render of a transparent page shows)."""
    rgb = rgba[..., :3].astype(np.float64) * rgba[..., 3:].astype(np.float64) / 255.0
    return np.round(rgb).astype(np.uint8)


def sequence_files(folder: Path) -> list[Path]:
    """The frame files of a png-sequence output, in order."""
    return sorted(folder.glob("frame_*.png"))


def pixel(image: Image, xy: tuple[int, int]) -> tuple[int, ...]:
    x, y = xy
    return tuple(int(v) for v in image[y, x])


def close_to(actual: Sequence[int], expected: Sequence[int], tolerance: int = 12) -> bool:
    """Every channel within ``tolerance`` (lossy codecs move colours a little)."""
    return len(actual) >= len(expected) and all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=False))


def psnr(a: Image, b: Image) -> float:
    """Peak signal-to-noise ratio of two same-sized 8-bit images, in dB (inf when identical)."""
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    mse = float(np.mean(np.square(a.astype(np.float64) - b.astype(np.float64))))
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sha256_tree(folder: Path) -> dict[str, str]:
    """Relative path → sha256 of every file under ``folder``."""
    return {p.relative_to(folder).as_posix(): sha256_of(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def onsets(path: Path, *, threshold: float, after: float = 0.0, min_gap: float = 0.1) -> list[float]:
    """Times (s) where the first channel's magnitude first exceeds ``threshold``, gaps of ``min_gap`` apart."""
    samples, rate = decode_audio(path)
    loud = np.flatnonzero(np.abs(samples[0]) > threshold)
    found: list[float] = []
    last = -np.inf
    for index in loud:
        t = index / rate
        if t >= after and t - last > min_gap:
            found.append(float(t))
        last = t
    return found
