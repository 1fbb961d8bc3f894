"""The last step of every render: one video stream and the audio mix into the output container.

Owns the mux contract shared by the single-machine engine and the distributed assembler: the video
stream is copied as it is (never re-encoded, never cut); the audio is copied when it already has the
output's codec and exactly the render's length, and otherwise re-encoded (AAC 192k for mp4/mov,
Opus 128k for webm) and padded or cut to exactly ``total_seconds``. No ``-shortest``: the audio is made
to fit instead. MP4/MOV get ``+faststart`` (the index before the media data, so playback can start
while downloading). The output appears atomically: written next to the destination, then renamed.

Pure function over local paths; no network.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

from app.engine.audio import SAMPLE_RATE, AudioCodec, atomic_output, mux_audio_args
from app.engine.ffmpeg import run_ffmpeg
from app.engine.media import MediaInfo, probe_media
from app.errors import EncodeError

logger = logging.getLogger(__name__)

MuxFormat = Literal["mp4", "mov", "webm"]

AUDIO_CODEC_FOR: dict[MuxFormat, AudioCodec] = {"mp4": "aac", "mov": "aac", "webm": "opus"}
_FFMPEG_CODEC_NAME: dict[AudioCodec, str] = {"aac": "aac", "opus": "opus"}
# How far a copied track's declared length may be from the target. MP4 edit lists are sample-exact; WebM
# timestamps are whole milliseconds and carry Opus's 312-sample pre-skip, so allow one 20 ms Opus frame.
_COPY_TOLERANCE_SECONDS: dict[AudioCodec, float] = {"aac": 1.0 / SAMPLE_RATE, "opus": 960 / SAMPLE_RATE}


def _audio_can_be_copied(info: MediaInfo, fmt: MuxFormat, total_seconds: float) -> bool:
    codec = AUDIO_CODEC_FOR[fmt]
    if info.audio_codec != _FFMPEG_CODEC_NAME[codec] or info.audio_duration is None:
        return False
    return abs(info.audio_duration - total_seconds) <= _COPY_TOLERANCE_SECONDS[codec]


def _audio_args(audio_path: Path, fmt: MuxFormat, total_seconds: float) -> list[str]:
    info = probe_media(audio_path)
    if not info.has_audio:
        raise EncodeError(f"audio file {audio_path} has no audio stream; re-run the audio mix")
    if _audio_can_be_copied(info, fmt, total_seconds):
        return ["-c:a", "copy"]
    logger.debug(
        "re-encoding audio for mux",
        extra={"codec": info.audio_codec, "seconds": info.audio_duration, "target_seconds": total_seconds},
    )
    return mux_audio_args(total_seconds, AUDIO_CODEC_FOR[fmt])


def mux(video_path: Path, audio_path: Path | None, out_path: Path, *, fmt: MuxFormat, total_seconds: float) -> None:
    """Write ``out_path``: the video of ``video_path`` copied, plus ``audio_path`` fitted to ``total_seconds``."""
    args: list[str | Path] = ["-i", video_path]
    if audio_path is not None:
        args += ["-i", audio_path]
    args += ["-map", "0:v:0", "-c:v", "copy"]
    if audio_path is not None:
        args += ["-map", "1:a:0", *_audio_args(audio_path, fmt, total_seconds)]
    if fmt in ("mp4", "mov"):
        args += ["-movflags", "+faststart"]
    # bitexact: no muxer version string, so the same streams always give the same bytes.
    # The video stream keeps its own tags: WebM's alpha_mode=1 is what tells players to use the alpha plane.
    args += ["-map_metadata", "-1", "-map_metadata:s:v:0", "0:s:v:0", "-fflags", "+bitexact"]
    with atomic_output(out_path) as staging:
        run_ffmpeg([*args, "-f", fmt, staging], what=f"muxing {out_path.name}")
