"""assemble: join the chunks into the final output without re-encoding video, then add the audio.

Pure function over local paths; no network. Video chunks are joined with ffmpeg's concat demuxer
and stream copy (every chunk starts on a keyframe, see render_chunk); the plan's audio mix is
padded/trimmed to exactly frames/fps and muxed (AAC for mp4/mov, Opus for webm) with faststart.
png-sequence chunks (tars of globally numbered frames) are unpacked into one folder with the audio
beside them.
"""

from __future__ import annotations

import shutil
import tarfile
import tempfile
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from app.distributed import layout
from app.distributed.manifest import ROLE_ASSEMBLE, verify_plan_files
from app.engine import mux
from app.engine.ffmpeg import run_ffmpeg
from app.engine.formats import format_spec
from app.engine.render import replace_dir
from app.errors import MissingPlanArtifactError, UnsafeArchiveError


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
    verify_plan_files(plan_dir, ROLE_ASSEMBLE, plan_hash)
    meta = layout.read_meta(plan_dir)
    _check_chunks(meta, chunk_paths)
    spec = format_spec(meta.format)
    audio_path = plan_dir / layout.AUDIO_FILE if meta.has_audio else None
    out_path.parent.mkdir(parents=True, exist_ok=True)
    seconds = meta.total_frames / meta.fps
    if spec.is_sequence:
        _assemble_frames(chunk_paths, audio_path, out_path)
    else:
        work = Path(tempfile.mkdtemp(prefix="framecast-assemble-"))
        try:
            joined = work / f"video{spec.extension}"
            concat(chunk_paths, joined)
            mux.mux(joined, audio_path, out_path, fmt=spec.name, total_seconds=seconds)  # type: ignore[arg-type]
        finally:
            shutil.rmtree(work, ignore_errors=True)
    size = sum(p.stat().st_size for p in out_path.rglob("*")) if out_path.is_dir() else out_path.stat().st_size
    return AssembleResult(
        output=out_path,
        frames=meta.total_frames,
        size_bytes=size,
        duration_ms=round((time.perf_counter() - started) * 1000),
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


def _assemble_frames(chunk_paths: list[Path], audio_path: Path | None, out_path: Path) -> None:
    staging = out_path.parent / f".{out_path.name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        for chunk in chunk_paths:
            with tarfile.open(chunk, mode="r:") as tar:
                for member in tar.getmembers():
                    if not member.isfile() or "/" in member.name or member.name.startswith("."):
                        raise UnsafeArchiveError(f"chunk {chunk} holds {member.name!r}, which is not a frame file")
                tar.extractall(staging, filter="data")
        if audio_path is not None:
            shutil.copyfile(audio_path, staging / layout.AUDIO_FILE)
        replace_dir(staging, out_path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
