"""Media sources of a composition: where they are, what they hold, and the frames of each ``<video>``.

Owns three contracts (DESIGN.md §3):

* **Paths.** A media ``src`` is a relative URL inside the project folder, or a remote (``http(s)://``)
  URL already fetched into the ``RemoteAssets`` given (see remote_assets). Other schemes, remote URLs
  without that map (``--offline``), absolute paths and ``..`` escapes (also through symlinks) are
  rejected with :class:`~app.errors.VideoSourceUnrenderableError`: nothing is fetched here.
* **Probing** with PyAV (the ffmpeg build has no ffprobe). PyAV's exceptions are translated here and
  nowhere else.
* **Video frames.** Chrome never decodes ``<video>`` during capture. One ffmpeg run per element extracts
  the frames the composition shows, already at the output fps and with the playback rate applied
  (``setpts`` before ``fps``), so extracted frame ``k`` is what shows ``k / fps`` seconds after the clip
  becomes visible. :meth:`VideoFrames.frame_for_time` maps a global time to that frame.

Pure functions over local paths; no network.
"""

from __future__ import annotations

import logging
import math
import os
import re
import shutil
import uuid
from fractions import Fraction
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

import av
from pydantic import BaseModel, ConfigDict

from app.engine.composition import Composition, MediaElement
from app.engine.ffmpeg import run_ffmpeg
from app.engine.frame_rate import FrameRate, ffmpeg_rate
from app.engine.remote_assets import RemoteAssets
from app.errors import VideoSourceUnrenderableError

logger = logging.getLogger(__name__)

FRAME_PATTERN = "frame_%06d"
"""Extracted frame file stem; numbering starts at 0 so file index == frame index."""

JPEG_QUALITY = 2  # ffmpeg -q:v scale (2 = best practical); frames are intermediates, keep them sharp
_LOOKUP_EPSILON = 1e-9  # absorbs float error in t * fps so that t = k / fps lands on frame k
_FORCED_ALPHA_DECODERS = {"vp9": "libvpx-vp9", "vp8": "libvpx"}  # ffmpeg's native vp8/vp9 drop alpha
_EXTRACT_TIMEOUT_SECONDS = 600.0
_SLOWEST_EXTRACT_FPS = 10.0  # long clips get more time: decode + JPEG of a 4K source on 2 cores, with margin
_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.-]")


class MediaInfo(BaseModel):
    """What a media file holds, as far as rendering cares."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    duration: float | None
    """Seconds of the whole file (the video stream's length when it has one); None when unknown."""
    has_video: bool
    has_audio: bool
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    has_alpha: bool = False
    codec: str | None = None
    """Video codec name (ffmpeg's), None for audio-only files."""
    audio_codec: str | None = None
    audio_channels: int = 0
    audio_duration: float | None = None
    """Seconds of the first audio stream after the container's edit list (AAC priming excluded)."""


def resolve_media_path(project_dir: Path, src: str, remote: RemoteAssets | None = None) -> Path:
    """The file a media ``src`` names: inside ``project_dir``, or a remote URL's cached copy in ``remote``."""
    raw = src.strip()
    parts = urlsplit(raw)
    cached = remote.lookup(raw) if remote is not None else None
    if cached is not None:
        return cached[0]
    if parts.scheme or parts.netloc:
        kind = "remote" if parts.scheme in ("http", "https", "") else f"{parts.scheme}:"
        raise VideoSourceUnrenderableError(
            f"media src {src!r} is a {kind} URL; only files inside the project folder are rendered (remote files "
            "are fetched before rendering unless it is --offline). Copy the file into the project and reference it "
            "with a relative path"
        )
    relative = unquote(parts.path)
    if not relative or relative.startswith(("/", "\\")):
        raise VideoSourceUnrenderableError(
            f"media src {src!r} is not a relative path; use a path relative to the project folder, e.g. assets/clip.mp4"
        )
    root = Path(project_dir).resolve()
    candidate = (root / relative).resolve()
    if not candidate.is_relative_to(root):
        raise VideoSourceUnrenderableError(
            f"media src {src!r} points outside the project folder {root}; move the file into the project"
        )
    return candidate


def probe_media(path: Path) -> MediaInfo:
    """Read the streams of ``path`` with PyAV; raise VideoSourceUnrenderableError if it is not usable media."""
    if not path.is_file():
        raise VideoSourceUnrenderableError(f"media file {path} does not exist; add it to the project or fix the src")
    try:
        with av.open(str(path)) as container:
            info = _describe(container)
    except av.FFmpegError as exc:
        raise VideoSourceUnrenderableError(
            f"media file {path} cannot be read ({exc}); re-encode it to H.264/AAC MP4 or WebM"
        ) from exc
    if not info.has_video and not info.has_audio:
        raise VideoSourceUnrenderableError(
            f"media file {path} has no video or audio stream; re-encode it to H.264/AAC MP4 or WebM"
        )
    return info


def _seconds(stream: av.stream.Stream) -> float | None:
    if stream.duration is None or stream.time_base is None:
        return None
    return float(stream.duration * stream.time_base)


def _describe(container: av.container.InputContainer) -> MediaInfo:
    overall = container.duration / av.time_base if container.duration else None
    video = container.streams.video[0] if container.streams.video else None
    audio = container.streams.audio[0] if container.streams.audio else None
    audio_part = MediaInfo(
        duration=overall,
        has_video=False,
        has_audio=audio is not None,
        audio_codec=audio.codec_context.name if audio else None,
        audio_channels=audio.codec_context.channels if audio else 0,
        audio_duration=(_seconds(audio) or overall) if audio else None,
    )
    if video is None:
        return audio_part
    context = video.codec_context
    rate = video.average_rate or video.guessed_rate
    pix_fmt = context.format.name if context.format is not None else None
    return audio_part.model_copy(
        update={
            "duration": _seconds(video) or overall,
            "has_video": True,
            "width": context.width or None,
            "height": context.height or None,
            "fps": float(rate) if rate else None,
            "has_alpha": _has_alpha(pix_fmt, video.metadata),
            "codec": context.name,
        }
    )


def _has_alpha(pix_fmt: str | None, metadata: dict[str, str]) -> bool:
    # VP8/VP9 in WebM carry alpha as side data: the pixel format says yuv420p, the stream tag says alpha.
    if metadata.get("alpha_mode") == "1" or metadata.get("ALPHA_MODE") == "1":
        return True
    if pix_fmt is None:
        return False
    return any(component.is_alpha for component in av.VideoFormat(pix_fmt).components)


class VideoFrames(BaseModel):
    """The extracted frames of one ``<video>`` and when each shows.

    Frames are extracted at the output ``fps`` with the playback rate already applied, so no rate appears
    in the lookup: frame ``k`` shows from ``start + k / fps``. A looping clip holds one pass of its source
    (``loop_seconds`` long in composition time) and wraps over it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    element_id: str
    directory: str
    """Folder of the frames, relative to the ``out_dir`` given to the extraction."""
    image_format: Literal["jpg", "png"]
    frame_count: int
    fps: FrameRate
    start: float
    end: float
    """Global seconds where the clip stops showing (exclusive): start + visible length."""
    media_start: float
    playback_rate: float
    loop: bool
    loop_seconds: float | None = None
    """Length of one pass of the source in composition seconds; set only when the clip loops."""

    def frame_for_time(self, t: float) -> int | None:
        """Index (0-based) of the extracted frame shown at global time ``t``; None when the clip is not visible."""
        if self.frame_count == 0 or not self.start <= t < self.end:
            return None
        position = (t - self.start) * float(self.fps) + _LOOKUP_EPSILON
        if self.loop and self.loop_seconds:
            # Wrap in frame units so t = start + loop_seconds lands exactly on frame 0 again.
            position %= self.loop_seconds * float(self.fps)
        # Past the last extracted frame (a pass shorter than the window by rounding) the last frame holds.
        return min(math.floor(position), self.frame_count - 1)

    def frame_name(self, index: int) -> str:
        """File name of frame ``index`` inside :attr:`directory`."""
        return f"{FRAME_PATTERN % index}.{self.image_format}"


class _Window(BaseModel):
    """What to extract: the visible span in composition time and the source span feeding it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    end: float
    source_seconds: float
    frame_limit: int
    loop_seconds: float | None


def _window(video: MediaElement, info: MediaInfo, fps: Fraction, composition_duration: float, path: Path) -> _Window:
    rate = video.playback_rate
    remaining = None if info.duration is None else info.duration - video.media_start
    if remaining is not None and remaining <= 0:
        raise VideoSourceUnrenderableError(
            f"<video id={video.element_id!r}> starts at data-media-start={video.media_start:g} s but {path.name} is "
            f"only {info.duration:g} s long; lower data-media-start below {info.duration:g}"
        )
    end = composition_duration
    if video.duration is not None:
        end = min(end, video.start + video.duration)
    looping = video.loop and remaining is not None
    if remaining is not None and not looping:
        end = min(end, video.start + remaining / rate)
    visible = max(0.0, end - video.start)
    if looping and remaining is not None:
        # One pass of the source is enough: the lookup wraps over it.
        source_seconds = min(visible * rate, remaining)
        loop_seconds: float | None = remaining / rate
    else:
        source_seconds, loop_seconds = visible * rate, None
    frame_limit = math.ceil(source_seconds / rate * float(fps) - _LOOKUP_EPSILON)
    return _Window(
        end=video.start + visible, source_seconds=source_seconds, frame_limit=frame_limit, loop_seconds=loop_seconds
    )


def safe_directory_name(element_id: str) -> str:
    """A folder name made from an element id: only ``[A-Za-z0-9_.-]``, never hidden, never empty."""
    name = _UNSAFE_NAME_CHARS.sub("_", element_id).lstrip(".")
    return name or "video"


def _ffmpeg_extract_args(
    path: Path, info: MediaInfo, video: MediaElement, window: _Window, fps: Fraction, target: Path, ext: str
) -> list[str | Path]:
    args: list[str | Path] = []
    if info.has_alpha and info.codec in _FORCED_ALPHA_DECODERS:
        args += ["-c:v", _FORCED_ALPHA_DECODERS[info.codec]]
    # -ss/-t as input options: exact seek in source seconds, and decoding stops at the end of the window.
    args += ["-ss", f"{video.media_start:.6f}", "-t", f"{window.source_seconds:.6f}", "-i", path]
    # setpts before fps: rate-adjusted, zero-based timestamps, so the fps filter samples composition time.
    filters = f"setpts=(PTS-STARTPTS)/{video.playback_rate:g},fps={ffmpeg_rate(fps)}"
    args += ["-map", "0:v:0", "-an", "-sn", "-dn", "-vf", filters, "-frames:v", str(window.frame_limit)]
    if ext == "png":
        args += ["-pix_fmt", "rgba", "-compression_level", "1"]
    else:
        args += ["-q:v", str(JPEG_QUALITY)]
    # bitexact keeps encoder version strings out of the files: same input, same bytes.
    args += ["-fflags", "+bitexact", "-flags:v", "+bitexact", "-start_number", "0"]
    return [*args, target / f"{FRAME_PATTERN}.{ext}"]


def extract_video_frames(
    video: MediaElement,
    project_dir: Path,
    fps: Fraction,
    composition_duration: float,
    out_dir: Path,
    *,
    directory: str | None = None,
    remote: RemoteAssets | None = None,
) -> VideoFrames:
    """Extract the frames ``video`` shows into ``out_dir/<directory>`` (atomically) and describe them."""
    path = resolve_media_path(project_dir, video.src, remote)
    info = probe_media(path)
    if not info.has_video:
        raise VideoSourceUnrenderableError(
            f"<video id={video.element_id!r}> src {video.src!r} has no video stream; use <audio> for sound-only files"
        )
    window = _window(video, info, fps, composition_duration, path)
    name = directory or safe_directory_name(video.element_id)
    ext: Literal["jpg", "png"] = "png" if info.has_alpha else "jpg"
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = out_dir / f".{name}.tmp-{uuid.uuid4().hex}"
    staging.mkdir()
    try:
        if window.frame_limit > 0:
            args = _ffmpeg_extract_args(path, info, video, window, fps, staging, ext)
            run_ffmpeg(
                args,
                what=f"extracting frames of <video id={video.element_id!r}> from {video.src}",
                timeout=_EXTRACT_TIMEOUT_SECONDS + window.frame_limit / _SLOWEST_EXTRACT_FPS,
            )
        count = len(list(staging.glob(f"frame_*.{ext}")))
        if window.frame_limit > 0 and count == 0:
            raise VideoSourceUnrenderableError(
                f"<video id={video.element_id!r}>: ffmpeg produced no frames from {video.src} "
                f"(media start {video.media_start:g} s); check the file plays and the media start is inside it"
            )
        final = out_dir / name
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    logger.debug("extracted video frames", extra={"element_id": video.element_id, "frames": count, "directory": name})
    return VideoFrames(
        element_id=video.element_id,
        directory=name,
        image_format=ext,
        frame_count=count,
        fps=fps,
        start=video.start,
        end=window.end,
        media_start=video.media_start,
        playback_rate=video.playback_rate,
        loop=video.loop,
        loop_seconds=window.loop_seconds,
    )


def extract_all_videos(
    composition: Composition, fps: Fraction, duration: float, out_dir: Path, remote: RemoteAssets | None = None
) -> list[VideoFrames]:
    """Extract every ``<video>`` of ``composition`` into its own folder of ``out_dir``, in document order."""
    taken: set[str] = set()
    results: list[VideoFrames] = []
    for video in composition.videos:
        base = safe_directory_name(video.element_id)
        name, suffix = base, 2
        while name in taken:  # two ids can map to one safe name ("a b" and "a_b")
            name, suffix = f"{base}-{suffix}", suffix + 1
        taken.add(name)
        project = composition.project_dir
        results.append(extract_video_frames(video, project, fps, duration, out_dir, directory=name, remote=remote))
    return results
