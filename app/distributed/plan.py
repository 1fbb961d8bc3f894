"""plan: validate, copy the project, probe, extract media, split into chunks, lock every decision.

Pure function over local paths; no network except fetching the composition's remote assets (through
app.engine.remote_assets, into ``remote/`` of the plan, so chunk workers and the assembler never fetch).
The plan folder appears whole or not at all: it is built in a staging folder beside ``plan_dir`` and
renamed at the end; the manifest is written last.
"""

from __future__ import annotations

import logging
import shutil
import time
from fractions import Fraction
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from app.distributed import layout
from app.distributed.chunking import split_frames
from app.distributed.config import RenderConfig
from app.distributed.manifest import (
    MANIFEST_NAME,
    ROLE_ALL_CHUNKS,
    ROLE_ASSEMBLE,
    build_manifest,
    chunk_role,
    manifest_bytes,
    write_atomic,
)
from app.engine import audio, media, runtime
from app.engine.chrome import acquire_browser
from app.engine.composition import check_duration
from app.engine.ffmpeg import ffmpeg_version
from app.engine.formats import check_frame_size, video_codec_args
from app.engine.frame_rate import FrameRate, frame_count, frame_time
from app.engine.remote_assets import RemoteAssets, fetch_remote_assets
from app.engine.render import Prepared, RenderOptions, open_session, prepare, replace_dir
from app.engine.server import ProjectServer
from app.errors import CompositionInvalidError

log = logging.getLogger(__name__)


class PlanResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    plan_hash: str
    chunk_count: int
    chunks: list[tuple[int, int]]
    total_frames: int
    fps: FrameRate
    width: int
    height: int
    format: str
    has_audio: bool
    duration_ms: int


def copy_project(source: Path, dest: Path) -> None:
    """Copy a project, skipping build/VCS folders; refuse links that leave the project."""
    root = source.resolve()

    def ignore(folder: str, names: list[str]) -> set[str]:
        skipped = {n for n in names if n in layout.SKIPPED_NAMES}
        for name in names:
            path = Path(folder) / name
            if path.is_symlink() and not path.resolve().is_relative_to(root):
                raise CompositionInvalidError(
                    f"{path} is a link to {path.resolve()}, outside the project; copy the file into the project"
                )
        return skipped

    shutil.copytree(root, dest, ignore=ignore, symlinks=False)


def _probe_duration(
    prepared: Prepared, project: Path, variables: dict[str, object] | None, remote: RemoteAssets | None
) -> float:
    if prepared.composition.duration is not None:
        return prepared.composition.duration
    with ProjectServer(project) as server:
        session = open_session(prepared, server, variables, remote=remote)
        try:
            return session.page_duration()
        finally:
            session.close()


def _chunk_frame_roles(
    videos: list[media.VideoFrames], chunks: list[tuple[int, int]], fps: Fraction
) -> dict[str, set[str]]:
    """Which chunks sample each extracted video frame (a chunk downloads only those)."""
    roles: dict[str, set[str]] = {}
    for video in videos:
        for index, (start, end) in enumerate(chunks):
            for frame in range(start, end):
                shown = video.frame_for_time(float(frame_time(frame, fps)))  # the capture's exact t
                if shown is not None:
                    path = f"{layout.FRAMES_DIR}/{video.directory}/{video.frame_name(shown)}"
                    roles.setdefault(path, set()).add(chunk_role(index))
    return roles


def plan(project_dir: Path, config: RenderConfig, plan_dir: Path) -> PlanResult:
    started = time.perf_counter()
    options = RenderOptions(
        fps=config.fps,
        format=config.format,
        codec=config.codec,
        quality=config.quality,
        crf=config.crf,
        variables=config.variables,
        strict_variables=config.strict_variables,
    )
    prepared = prepare(Path(project_dir), options)
    check_frame_size(prepared.codec, prepared.composition.width, prepared.composition.height)
    fetched = None if config.offline else fetch_remote_assets(Path(project_dir))
    staging = plan_dir.parent / f".{plan_dir.name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        result = _plan_into(prepared, config, staging, started, fetched)
        replace_dir(staging, plan_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return result


def _plan_into(
    prepared: Prepared, config: RenderConfig, staging: Path, started: float, fetched: RemoteAssets | None
) -> PlanResult:
    project = staging / layout.PROJECT_DIR
    copy_project(prepared.composition.project_dir, project)
    remote = None
    if fetched is not None and fetched.files:
        # From here on everything reads the plan's copy, exactly what chunk workers will read.
        fetched.copy_to(staging / layout.REMOTE_DIR)
        remote = RemoteAssets.load(staging / layout.REMOTE_DIR)
    duration = _probe_duration(prepared, project, config.variables, remote)
    check_duration(duration, source="the composition's duration")
    total = frame_count(duration, prepared.fps)
    chunks = split_frames(
        total,
        max_chunks=config.max_parallel_chunks,
        min_chunk_frames=config.min_chunk_frames,
        chunk_size=config.chunk_size,
    )
    seconds = float(total / prepared.fps)
    videos = media.extract_all_videos(prepared.composition, prepared.fps, seconds, staging / layout.FRAMES_DIR, remote)
    has_audio = audio.mix_audio(prepared.composition, seconds, staging / layout.AUDIO_FILE, remote=remote)
    browser = acquire_browser("beginframe")
    settings = prepared.capture_settings(config.variables)
    meta = layout.PlanMeta(
        config=config,
        composition_id=prepared.composition.composition_id,
        width=settings.width,
        height=settings.height,
        fps=prepared.fps,
        format=prepared.spec.name,
        codec=prepared.codec,
        quality=prepared.quality,
        crf=prepared.crf,
        capture_image=settings.image,
        jpeg_quality=settings.jpeg_quality,
        capture_mode=browser.mode,
        warmup_ticks=settings.warmup_ticks,
        transparent=settings.transparent,
        variables=config.variables,
        duration_seconds=duration,
        total_frames=total,
        chunks=chunks,
        videos=videos,
        has_audio=has_audio,
        ffmpeg_version=ffmpeg_version(),
        chrome_version=browser.version,
        runtime_version=runtime.runtime_version(),
        # Recorded for humans and audits; a PNG sequence copies captured frames and encodes nothing.
        encoder_args=[] if prepared.spec.is_sequence else video_codec_args(
            prepared.codec, prepared.quality, prepared.crf, fps=prepared.fps, alpha=prepared.spec.alpha,
            segment_frames=None,
        ),
    )  # fmt: skip
    write_atomic(staging / layout.META_FILE, meta.model_dump_json(indent=1).encode())
    roles: dict[str, tuple[str, ...]] = {
        layout.AUDIO_FILE: (ROLE_ASSEMBLE,),
        layout.META_FILE: (ROLE_ALL_CHUNKS, ROLE_ASSEMBLE),
    }
    for fetched_file in (staging / layout.REMOTE_DIR).glob("*"):
        roles[f"{layout.REMOTE_DIR}/{fetched_file.name}"] = (ROLE_ALL_CHUNKS,)  # the page's requests, in chunks only
    for path, needed_by in _chunk_frame_roles(videos, chunks, prepared.fps).items():
        roles[path] = tuple(sorted(needed_by))
    for extracted in (staging / layout.FRAMES_DIR).rglob("*"):
        relative = extracted.relative_to(staging).as_posix()
        if extracted.is_file() and relative not in roles:
            roles[relative] = ()  # extracted but never shown (rounding at the window's end)
    manifest = build_manifest(staging, roles, len(chunks))
    write_atomic(staging / MANIFEST_NAME, manifest_bytes(manifest))  # last: its presence means complete
    return PlanResult(
        plan_hash=manifest.plan_hash,
        chunk_count=len(chunks),
        chunks=chunks,
        total_frames=total,
        fps=prepared.fps,
        width=settings.width,
        height=settings.height,
        format=prepared.spec.name,
        has_audio=has_audio,
        duration_ms=round((time.perf_counter() - started) * 1000),
    )
