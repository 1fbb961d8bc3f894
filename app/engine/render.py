"""Single-machine render: project folder → video file (or PNG folder), all on this machine.

``render`` resolves the options, captures every frame in a warm browser while ffmpeg encodes them,
mixes the audio alongside, and muxes. ``capture_range`` is the piece the distributed chunk worker
reuses: frames [start, end) of a prepared composition into any FrameSink. The output appears only
when complete (temporary name, then rename); temporary folders are removed in ``finally``.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.engine import audio, media, mux, scratch
from app.engine.capture import WARMUP_TICKS, CaptureSession, CaptureSettings
from app.engine.chrome import CaptureMode, acquire_browser
from app.engine.composition import Composition, check_duration, read_composition
from app.engine.encoder import FrameSink, PngFolderSink, StreamingEncoder
from app.engine.formats import (
    JPEG_QUALITY,
    Codec,
    Format,
    FormatSpec,
    Quality,
    check_frame_size,
    format_spec,
    fps_or_error,
    resolve_codec,
    resolve_crf,
)
from app.engine.frame_rate import FrameRate, frame_count
from app.engine.output_path import OutputKind, check_output, mark_output_folder
from app.engine.remote_assets import RemoteAssets, fetch_remote_assets
from app.engine.server import ProjectServer
from app.engine.variables import check_variables
from app.errors import FramecastError

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
DEFAULT_FPS = Fraction(30)
# What a caller may pass for fps: any spelling frame_rate accepts; checked in prepare (INVALID_CONFIG).
FpsInput = int | float | str | Fraction


class RenderOptions(BaseModel):
    """What a user may choose for one render; everything else comes from the composition."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fps: FpsInput | None = None
    format: Format = "mp4"
    codec: Codec | None = None
    quality: Quality = "standard"
    crf: int | None = None
    variables: dict[str, Any] | None = None
    strict_variables: bool = False
    workers: int = Field(default=1, ge=1, le=16)
    capture_mode: CaptureMode = "beginframe"
    offline: bool = False  # refuse remote media and block remote files instead of fetching them first


class RenderResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    output: Path
    frames: int
    fps: FrameRate
    width: int
    height: int
    duration_seconds: float
    size_bytes: int
    wall_seconds: float
    capture_mode: str
    has_audio: bool
    warnings: list[str]

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.wall_seconds if self.wall_seconds else 0.0


@dataclass(frozen=True)
class Prepared:
    """A composition with every render decision resolved, before any browser runs."""

    composition: Composition
    spec: FormatSpec
    codec: Codec
    fps: Fraction
    crf: int | None
    quality: Quality
    warnings: tuple[str, ...]

    def capture_settings(self, variables: dict[str, Any] | None, warmup_ticks: int = WARMUP_TICKS) -> CaptureSettings:
        return CaptureSettings(
            fps=self.fps,
            width=self.composition.width,
            height=self.composition.height,
            image=self.spec.capture_image,
            jpeg_quality=JPEG_QUALITY[self.quality],
            transparent=self.spec.alpha,
            variables=variables,
            warmup_ticks=warmup_ticks,
        )


def prepare(project_dir: Path, options: RenderOptions) -> Prepared:
    """Validate everything that can be validated without a browser (raises InputError subclasses)."""
    composition = read_composition(project_dir)
    spec = format_spec(options.format)
    codec = resolve_codec(spec, options.codec)
    check_frame_size(codec, composition.width, composition.height)
    fps = resolve_fps(options.fps, composition.fps)
    crf = resolve_crf(codec, options.quality, options.crf)
    warnings = check_variables(options.variables, composition.variables_declaration, strict=options.strict_variables)
    for warning in warnings:
        log.warning(warning)
    return Prepared(composition, spec, codec, fps, crf, options.quality, tuple(warnings))


def resolve_fps(requested: FpsInput | None, authored: Fraction | None) -> Fraction:
    """The option, else the root's data-fps, else 30; an explicit 0 stays 0 (and is refused), never 30."""
    if requested is not None:
        return fps_or_error(requested)
    return authored if authored is not None else DEFAULT_FPS


@dataclass
class CaptureStats:
    boot_seconds: float
    capture_seconds: float
    frames: int
    capture_mode: str


def open_session(
    prepared: Prepared,
    server: ProjectServer,
    variables: dict[str, Any] | None,
    *,
    preferred_mode: CaptureMode = "beginframe",
    videos: Sequence[media.VideoFrames] = (),
    warmup_ticks: int = WARMUP_TICKS,
    remote: RemoteAssets | None = None,
) -> CaptureSession:
    session = CaptureSession(
        acquire_browser(preferred_mode), server, prepared.capture_settings(variables, warmup_ticks), videos, remote
    )
    try:
        session.open()
    except BaseException:
        session.close()
        raise
    return session


def capture_range(session: CaptureSession, start: int, end: int, sink: FrameSink, progress: Progress | None) -> float:
    """Capture frames [start, end) into ``sink``; returns the seconds spent."""
    started = time.perf_counter()
    for index in range(start, end):
        sink.write(index, session.capture(index))
        if progress:
            progress(index - start + 1, end - start)
    return time.perf_counter() - started


def render(
    project_dir: Path,
    out_path: Path,
    options: RenderOptions | None = None,
    progress: Progress | None = None,
    *,
    force: bool = False,
) -> RenderResult:
    """Render ``project_dir`` to ``out_path``; nothing is left at ``out_path`` unless it succeeds.

    The output is checked before any browser starts (``output_path.check_output``): it may not replace the
    project or a non-regular file, nor a folder framecast did not write unless ``force``.
    """
    started = time.perf_counter()
    options = options or RenderOptions()
    prepared = prepare(project_dir, options)
    kind: OutputKind = "folder" if prepared.spec.is_sequence else "file"
    out_path = check_output(Path(out_path), kind=kind, inputs=[project_dir], force=force)
    scratch.sweep_stale(beside=out_path)
    # Before any browser or output file: a remote file that cannot be fetched fails the render here.
    remote = None if options.offline else fetch_remote_assets(project_dir)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    work = scratch.make_temp_dir("render")
    try:
        frames, capture_mode, has_audio = _render_into(prepared, options, work, out_path, progress, remote)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return RenderResult(
        output=out_path,
        frames=frames,
        fps=prepared.fps,
        width=prepared.composition.width,
        height=prepared.composition.height,
        duration_seconds=float(frames / prepared.fps),
        size_bytes=_size(out_path),
        wall_seconds=time.perf_counter() - started,
        capture_mode=capture_mode,
        has_audio=has_audio,
        warnings=list(prepared.warnings),
    )


def _render_into(
    prepared: Prepared,
    options: RenderOptions,
    work: Path,
    out_path: Path,
    progress: Progress | None,
    remote: RemoteAssets | None,
) -> tuple[int, str, bool]:
    composition = prepared.composition
    frames_dir = work / "video-frames"
    with ProjectServer(composition.project_dir, frames_dir=frames_dir) as server:
        session = open_session(prepared, server, options.variables, preferred_mode=options.capture_mode, remote=remote)
        try:
            duration = composition.duration or session.page_duration()
            check_duration(duration, source="the composition's duration")
            total = frame_count(duration, prepared.fps)
            seconds = float(total / prepared.fps)
            session.videos = media.extract_all_videos(composition, prepared.fps, seconds, frames_dir, remote)
            audio_job = _AudioJob(composition, seconds, work / "audio.m4a", remote)
            sink, finalize = _output_for(prepared, work, out_path)
            try:
                capture_range(session, 0, total, sink, progress)
                sink.finish()
                has_audio = audio_job.result()
                finalize(audio_job.path if has_audio else None, float(total / prepared.fps))
            except BaseException:
                sink.abort()
                audio_job.result(raise_errors=False)
                raise
            return total, session.page.mode if session.page else "?", has_audio
        finally:
            session.close()


class _AudioJob:
    """Mixes the audio in a thread while the frames are being captured."""

    def __init__(self, composition: Composition, seconds: float, path: Path, remote: RemoteAssets | None) -> None:
        self.path = path
        self._mixed = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(composition, seconds, remote), daemon=True)
        self._thread.start()

    def _run(self, composition: Composition, seconds: float, remote: RemoteAssets | None) -> None:
        try:
            self._mixed = audio.mix_audio(composition, seconds, self.path, remote=remote)
        except BaseException as exc:  # re-raised on the caller's thread in result()
            self._error = exc

    def result(self, raise_errors: bool = True) -> bool:
        self._thread.join()
        if self._error is not None and raise_errors:
            raise self._error
        return self._mixed


def _output_for(
    prepared: Prepared, work: Path, out_path: Path
) -> tuple[FrameSink, Callable[[Path | None, float], None]]:
    """The sink frames go to, and the step that turns its result into ``out_path`` atomically."""
    spec = prepared.spec
    if spec.is_sequence:
        staging = scratch.staging_name(out_path, "partial")
        shutil.rmtree(staging, ignore_errors=True)

        def publish_folder(audio_path: Path | None, seconds: float) -> None:
            if audio_path is not None:
                shutil.copyfile(audio_path, staging / "audio.m4a")
            mark_output_folder(staging)
            replace_dir(staging, out_path)

        return _CleanupSink(PngFolderSink(staging), staging), publish_folder
    video_path = work / f"video{spec.extension}"
    encoder = StreamingEncoder(video_path, spec, prepared.codec, prepared.quality, prepared.crf, fps=prepared.fps)

    def publish_file(audio_path: Path | None, seconds: float) -> None:
        mux.mux(video_path, audio_path, out_path, fmt=spec.name, total_seconds=seconds)  # type: ignore[arg-type]

    return encoder, publish_file


class _CleanupSink:
    """A PNG folder sink whose staging folder is removed when the render fails."""

    def __init__(self, inner: PngFolderSink, staging: Path) -> None:
        self.inner = inner
        self.staging = staging

    def write(self, index: int, image: bytes) -> None:
        self.inner.write(index, image)

    def finish(self) -> None:
        self.inner.finish()

    def abort(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)


def replace_dir(staging: Path, target: Path) -> None:
    """Put ``staging`` at ``target``, replacing an older folder there; never a half-written target."""
    if target.exists() and not target.is_dir():
        raise FramecastError(f"{target} exists and is not a folder; remove it or choose another output")
    old = scratch.staging_name(target, "old")
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size if path.exists() else 0
