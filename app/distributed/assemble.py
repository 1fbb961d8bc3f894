"""assemble: join the chunks into the final output without re-encoding video, then add the audio.

Pure function over local paths; no network. Video chunks are joined with ffmpeg's concat demuxer
and stream copy (every chunk starts on a keyframe, see render_chunk); the plan's audio mix is
padded/trimmed to exactly frames/fps and muxed (AAC for mp4/mov, Opus for webm) with faststart.
png-sequence chunks (tars of globally numbered frames) are unpacked into one folder with the audio
beside them.

Nothing is trusted: every chunk must carry this plan's hash and its own index and frame range, and
hold exactly those frames (chunk_identity: CHUNK_INVALID / CHUNK_PLAN_MISMATCH); the joined output is
counted again before it is renamed into place (OUTPUT_FRAME_COUNT_MISMATCH), so a short file never
appears at ``out_path``.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from app.distributed import layout
from app.distributed.chunk_identity import IDENTITY_MEMBER, sequence_frame_names, verify_chunks
from app.distributed.manifest import ROLE_ASSEMBLE, verify_plan_files
from app.engine import mux, scratch
from app.engine.ffmpeg import run_ffmpeg
from app.engine.formats import format_spec
from app.engine.output_path import mark_output_folder
from app.engine.render import replace_dir
from app.engine.video_probe import probe_video
from app.errors import MissingPlanArtifactError, OutputFrameCountError


class AssembleResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    output: Path
    frames: int
    size_bytes: int
    duration_ms: int


def _check_chunks(meta: layout.PlanMeta, chunk_paths: list[Path]) -> None:
    if len(chunk_paths) != len(meta.chunks):
        raise MissingPlanArtifactError(
            f"assemble got {len(chunk_paths)} chunk(s) but the plan has {len(meta.chunks)}; pass every chunk in order"
        )
    for index, path in enumerate(chunk_paths):
        if not Path(path).is_file():
            raise MissingPlanArtifactError(f"chunk {index} ({path}) does not exist; render it first")


def assemble(
    plan_dir: Path, chunk_paths: list[Path], out_path: Path, *, plan_hash: str | None = None
) -> AssembleResult:
    started = time.perf_counter()
    manifest = verify_plan_files(plan_dir, ROLE_ASSEMBLE, plan_hash)
    meta = layout.read_meta(plan_dir, manifest.chunk_count)
    _check_chunks(meta, chunk_paths)
    spec = format_spec(meta.format)
    verify_chunks(meta, manifest.plan_hash, chunk_paths, sequence=spec.is_sequence)
    audio_path = plan_dir / layout.AUDIO_FILE if meta.has_audio else None
    out_path.parent.mkdir(parents=True, exist_ok=True)
    seconds = float(meta.total_frames / meta.fps)
    if spec.is_sequence:
        _assemble_frames(chunk_paths, audio_path, out_path, meta.total_frames)
    else:
        work = Path(tempfile.mkdtemp(prefix="framecast-assemble-"))
        staged = scratch.staging_name(out_path, "partial")
        try:
            joined = work / f"video{spec.extension}"
            concat(chunk_paths, joined)
            mux.mux(joined, audio_path, staged, fmt=spec.name, total_seconds=seconds)  # type: ignore[arg-type]
            _check_output_frames(staged, out_path, meta.total_frames)
            os.replace(staged, out_path)
        finally:
            staged.unlink(missing_ok=True)
            shutil.rmtree(work, ignore_errors=True)
    size = sum(p.stat().st_size for p in out_path.rglob("*")) if out_path.is_dir() else out_path.stat().st_size
    return AssembleResult(
        output=out_path,
        frames=meta.total_frames,
        size_bytes=size,
        duration_ms=round((time.perf_counter() - started) * 1000),
    )


def _check_output_frames(staged: Path, out_path: Path, expected: int) -> None:
    probe = probe_video(staged, decode=False)  # a stream copy of checked chunks: counting packets is enough
    if probe.problem is not None or probe.frames != expected:
        raise OutputFrameCountError(
            f"the joined {out_path.name} holds {probe.frames} frame(s), not the plan's {expected}"
            f"{'; ' + probe.problem if probe.problem else ''}; assemble again"
        )


def concat(segments: list[Path], out_path: Path) -> None:
    """Join segments with the concat demuxer and stream copy (no re-encode)."""
    listing = out_path.with_suffix(".txt")
    lines = []
    for segment in segments:
        escaped = str(Path(segment).resolve()).replace("'", "'\\''")
        lines.append(f"file '{escaped}'\n")
    listing.write_text("".join(lines))
    run_ffmpeg(
        ["-f", "concat", "-safe", "0", "-i", listing, "-map", "0:v", "-c", "copy", out_path],
        what=f"joining {len(segments)} chunk(s)",
    )


def _assemble_frames(chunk_paths: list[Path], audio_path: Path | None, out_path: Path, total_frames: int) -> None:
    staging = scratch.staging_name(out_path, "partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        for chunk in chunk_paths:
            with tarfile.open(chunk, mode="r:") as tar:
                # verify_chunks checked every name: the identity member, then exactly this chunk's frames.
                # Written by hand (no extractall): plain files under checked names, on any Python 3.11.
                for member in tar.getmembers():
                    source = tar.extractfile(member) if member.name != IDENTITY_MEMBER else None
                    if source is not None:
                        (staging / member.name).write_bytes(source.read())
        found = sorted(p.name for p in staging.iterdir())
        if found != sequence_frame_names(0, total_frames):
            raise OutputFrameCountError(
                f"the joined frames hold {len(found)} file(s), not the plan's {total_frames} frames; assemble again"
            )
        if audio_path is not None:
            shutil.copyfile(audio_path, staging / layout.AUDIO_FILE)
        mark_output_folder(staging)  # a later render may replace this folder, as it may a single render's
        replace_dir(staging, out_path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
