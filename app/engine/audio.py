"""The audio of a render: every ``<audio>`` and ``<video data-has-audio>`` mixed once into one track.

Owns the mix contract (DESIGN.md §3): each clip is read from ``data-media-start``, sped up or slowed
down by ``data-playback-rate`` (``atempo``, pitch kept), converted to 48 kHz stereo, cut to its clip
length (``data-duration`` or the rest of the source), scaled by ``data-volume``, delayed to
``data-start`` and summed without normalisation (ffmpeg 9's ``amix normalize=0``: two clips at full
volume add up, as they would in a browser). The mix is padded or cut to exactly the render length,
counted in samples. One ffmpeg run builds it.

Containers: AAC goes into MP4 (``.m4a``) because MP4's edit list hides the encoder's 1024-sample
priming, so the track is exactly as long as asked; Opus goes into WebM, whose CodecDelay does the same.
The final mux copies the mix when its codec fits the output and re-encodes it otherwise
(:func:`mux_audio_args`).

Pure functions over local paths (remote media is read from its fetched copy); no network.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from app.engine.composition import Composition, MediaElement
from app.engine.ffmpeg import run_ffmpeg
from app.engine.media import probe_media, resolve_media_path
from app.engine.remote_assets import RemoteAssets
from app.errors import DurationOutOfRangeError, VideoSourceUnrenderableError

logger = logging.getLogger(__name__)

AudioCodec = Literal["aac", "opus"]

SAMPLE_RATE = 48_000
AAC_FRAME_SAMPLES = 1024
ENCODER_ARGS: dict[AudioCodec, tuple[str, ...]] = {
    "aac": ("-c:a", "aac", "-b:a", "192k", "-ar", str(SAMPLE_RATE), "-ac", "2"),
    "opus": ("-c:a", "libopus", "-b:a", "128k", "-ar", str(SAMPLE_RATE), "-ac", "2"),
}
MIX_CONTAINER: dict[AudioCodec, str] = {"aac": "mp4", "opus": "webm"}
"""ffmpeg muxer of the mix file per codec, whatever the suffix of the path asked for."""

_READ_MARGIN_SECONDS = 0.05  # read a little past the clip end so atempo's tail never leaves a gap
_INLINE_GRAPH_LIMIT = 8_000  # longer graphs go to a file (-/filter_complex) to stay clear of argv limits
_ATEMPO_MIN, _ATEMPO_MAX = 0.5, 2.0


class _Track(BaseModel):
    """One clip of the mix, in samples of the 48 kHz output."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    element_id: str
    path: Path
    media_start: float
    source_seconds: float
    delay_samples: int
    clip_samples: int
    loop_samples: int | None
    volume: float
    playback_rate: float
    mono: bool


def samples(seconds: float) -> int:
    """Whole 48 kHz samples in ``seconds``: the unit every length of the mix is counted in."""
    return round(seconds * SAMPLE_RATE)


def _plan_track(
    media: MediaElement, project_dir: Path, total_seconds: float, remote: RemoteAssets | None
) -> _Track | None:
    path = resolve_media_path(project_dir, media.src, remote)
    info = probe_media(path)
    if not info.has_audio or media.start >= total_seconds:
        logger.debug("audio source not mixed", extra={"element_id": media.element_id, "has_audio": info.has_audio})
        return None
    rate = media.playback_rate
    remaining = None if info.audio_duration is None else info.audio_duration - media.media_start
    if remaining is not None and remaining <= 0:
        raise VideoSourceUnrenderableError(
            f"<{media.tag} id={media.element_id!r}> starts at data-media-start={media.media_start:g} s but "
            f"{media.src} has {info.audio_duration:g} s of audio; lower data-media-start"
        )
    available = total_seconds - media.start
    if media.duration is not None:
        clip = min(media.duration, available)
    elif media.loop or remaining is None:
        clip = available
    else:
        clip = min(remaining / rate, available)
    looping = media.loop and remaining is not None and remaining / rate < clip
    source = remaining if looping and remaining is not None else clip * rate + _READ_MARGIN_SECONDS
    if remaining is not None:
        source = min(source, remaining)
    return _Track(
        element_id=media.element_id,
        path=path,
        media_start=media.media_start,
        source_seconds=source,
        delay_samples=samples(media.start),
        clip_samples=samples(clip),
        loop_samples=samples(source / rate) if looping else None,
        volume=media.volume,
        playback_rate=rate,
        mono=info.audio_channels == 1,
    )


def _plan_tracks(composition: Composition, total_seconds: float, remote: RemoteAssets | None) -> list[_Track]:
    planned = (_plan_track(m, composition.project_dir, total_seconds, remote) for m in composition.audio_sources)
    return [t for t in planned if t is not None and t.clip_samples > 0]


def audio_sources_present(composition: Composition, remote: RemoteAssets | None = None) -> bool:
    """Whether any clip that should be heard has a file with an audio stream (timing not considered)."""
    for media in composition.audio_sources:
        if probe_media(resolve_media_path(composition.project_dir, media.src, remote)).has_audio:
            return True
    return False


def atempo_chain(rate: float) -> list[str]:
    """``atempo`` stages whose product is ``rate``, each within 0.5–2 (the range that keeps quality)."""
    stages: list[str] = []
    while rate > _ATEMPO_MAX:
        stages.append(f"atempo={_ATEMPO_MAX:g}")
        rate /= _ATEMPO_MAX
    while rate < _ATEMPO_MIN:
        stages.append(f"atempo={_ATEMPO_MIN:g}")
        rate /= _ATEMPO_MIN
    if not math.isclose(rate, 1.0, rel_tol=1e-9):
        stages.append(f"atempo={rate:.9g}")
    return stages


def _track_filters(index: int, track: _Track) -> str:
    # Upmix mono at full level in both ears (ffmpeg's default mono→stereo mix would lower it by 3 dB).
    steps = ["pan=stereo|c0=c0|c1=c0" if track.mono else "aformat=channel_layouts=stereo"]
    steps += [f"aresample={SAMPLE_RATE}", *atempo_chain(track.playback_rate)]
    if track.loop_samples:
        steps.append(f"aloop=loop=-1:size={track.loop_samples}")
    # Sample counts, not seconds: atrim's end_sample and adelay's S unit place every clip to the sample.
    steps += [f"atrim=end_sample={track.clip_samples}", "asetpts=N/SR/TB", f"volume={track.volume:.6g}"]
    if track.delay_samples:
        steps.append(f"adelay=delays={track.delay_samples}S:all=1")
    return f"[{index}:a]{','.join(steps)}[t{index}]"


def mix_filter_graph(tracks: list[_Track], total_seconds: float) -> str:
    """The whole ``-filter_complex`` graph; its output pad is ``[out]``."""
    total = samples(total_seconds)
    chains = [_track_filters(i, t) for i, t in enumerate(tracks)]
    labels = "".join(f"[t{i}]" for i in range(len(tracks)))
    mix = (
        f"{labels}amix=inputs={len(tracks)}:duration=longest:dropout_transition=0:normalize=0,"
        f"apad=whole_len={total},atrim=end_sample={total},asetpts=N/SR/TB[out]"
    )
    return ";".join([*chains, mix])


def _input_args(track: _Track) -> list[str | Path]:
    # Input-side -ss/-t: an exact seek, and decoding stops where the clip does. -vn: never decode pictures.
    return [
        "-vn",
        "-sn",
        "-dn",
        "-ss",
        f"{track.media_start:.6f}",
        "-t",
        f"{track.source_seconds:.6f}",
        "-i",
        track.path,
    ]


@contextlib.contextmanager
def atomic_output(out_path: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``out_path``; rename it over ``out_path`` only if the block succeeds."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    # The pid lets a later run tell a stale leftover of a killed process from a live render's file.
    staging = out_path.with_name(f".{out_path.stem}.tmp-{os.getpid()}-{uuid.uuid4().hex}{out_path.suffix}")
    try:
        yield staging
        os.replace(staging, out_path)
    finally:
        staging.unlink(missing_ok=True)


def mix_audio(
    composition: Composition,
    total_seconds: float,
    out_path: Path,
    *,
    codec: AudioCodec = "aac",
    remote: RemoteAssets | None = None,
) -> bool:
    """Mix the composition's audio into ``out_path``, exactly ``total_seconds`` long.

    Returns False, writing nothing, when no clip with sound falls inside the render.
    """
    if not math.isfinite(total_seconds) or total_seconds <= 0:
        raise DurationOutOfRangeError(f"audio mix length {total_seconds!r} s must be a positive number of seconds")
    tracks = _plan_tracks(composition, total_seconds, remote)
    if not tracks:
        return False
    graph = mix_filter_graph(tracks, total_seconds)
    inputs = [arg for track in tracks for arg in _input_args(track)]
    scratch_prefix = f"framecast-mix-{os.getpid()}-"  # the pid lets a later run sweep it if this one is killed
    with tempfile.TemporaryDirectory(prefix=scratch_prefix) as scratch, atomic_output(out_path) as staging:
        graph_args: list[str | Path] = ["-filter_complex", graph]
        if len(graph) > _INLINE_GRAPH_LIMIT:
            script = Path(scratch) / "mix.filtergraph"
            script.write_text(graph, encoding="utf-8")
            graph_args = ["-/filter_complex", script]  # ffmpeg 9 dropped -filter_complex_script
        output = [*ENCODER_ARGS[codec], "-fflags", "+bitexact", "-flags:a", "+bitexact", "-f", MIX_CONTAINER[codec]]
        run_ffmpeg(
            [*inputs, *graph_args, "-map", "[out]", *output, staging],
            what=f"mixing {len(tracks)} audio clip(s) into {out_path.name}",
            timeout=600 + total_seconds,
        )
    logger.debug("mixed audio", extra={"tracks": len(tracks), "seconds": total_seconds, "codec": codec})
    return True


def mux_audio_args(total_seconds: float, codec: AudioCodec) -> list[str]:
    """ffmpeg output options that re-encode an audio input to ``codec``, exactly ``total_seconds`` long.

    For a final mux that cannot copy the mix (wrong codec, or a length that does not match the frames)::

        ffmpeg -i video -i audio.m4a -map 0:v -map 1:a -c:v copy <mux_audio_args(T, codec)> -movflags +faststart out

    The audio is padded with silence and cut at ``T`` counted in 48 kHz samples, so ``-shortest`` is never
    needed and can never cut the video.
    """
    total = samples(total_seconds)
    return [*ENCODER_ARGS[codec], "-af", f"aresample={SAMPLE_RATE},apad=whole_len={total},atrim=end_sample={total}"]
