"""Where things live inside a plan folder, and the locked render decisions (``meta/plan.json``).

``PlanMeta`` is a model with invariants, not just a schema: chunk ranges are non-empty, contiguous
and cover exactly [0, total_frames); total_frames is what duration_seconds at fps gives; the codec
belongs to the format; sizes and qualities are in range. ``read_meta`` turns any violation (or a
file that is not JSON) into PLAN_INVALID, so a worker never meets a raw ValidationError or renders
frames outside the composition.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from app.distributed.config import MAX_PARALLEL_CHUNKS_LIMIT, RenderConfig
from app.engine.capture import CaptureSettings
from app.engine.chrome import CaptureMode
from app.engine.composition import MAX_DIMENSION, MAX_DURATION_SECONDS, MIN_DIMENSION
from app.engine.formats import CRF_RANGE, CaptureImage, Codec, Format, Quality, format_spec
from app.engine.frame_rate import FrameRate, frame_count
from app.engine.media import VideoFrames
from app.errors import MissingPlanArtifactError, PlanInvalidError

PROJECT_DIR = "project"
FRAMES_DIR = "frames"
AUDIO_FILE = "audio.m4a"
REMOTE_DIR = "remote"  # remote assets fetched at plan time: <sha256> blobs + index.json (RemoteAssets)
META_FILE = "meta/plan.json"
# Skipped when copying a project: never part of a composition, often huge.
SKIPPED_NAMES = frozenset(
    {"node_modules", ".git", ".hg", ".svn", "output", "out", "dist", "renders", "__pycache__", ".cache", ".DS_Store"}
)


class PlanMeta(BaseModel):
    """Every decision a chunk worker and the assembler must share, fixed at plan time."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    config: RenderConfig
    composition_id: str
    width: int = Field(ge=MIN_DIMENSION, le=MAX_DIMENSION)
    height: int = Field(ge=MIN_DIMENSION, le=MAX_DIMENSION)
    fps: FrameRate  # validated 1-120 on read; an integer rate is stored as an int, others as "num/den"
    format: Format
    codec: Codec
    quality: Quality
    crf: int | None
    capture_image: CaptureImage
    jpeg_quality: int = Field(ge=1, le=100)
    capture_mode: CaptureMode
    warmup_ticks: int = Field(ge=0, le=1000)
    transparent: bool
    variables: dict[str, Any] | None
    duration_seconds: float = Field(gt=0, le=MAX_DURATION_SECONDS)
    total_frames: int = Field(ge=1)
    chunks: list[tuple[int, int]] = Field(min_length=1, max_length=MAX_PARALLEL_CHUNKS_LIMIT)
    videos: list[VideoFrames]
    has_audio: bool
    ffmpeg_version: str
    chrome_version: str
    runtime_version: str
    encoder_args: list[str]

    @model_validator(mode="after")
    def _decisions_consistent(self) -> PlanMeta:
        if self.codec not in format_spec(self.format).codecs:
            raise ValueError(f"codec {self.codec} cannot be used with format {self.format}")
        low, high = CRF_RANGE.get(self.codec, (0, -1))
        if self.crf is not None and not low <= self.crf <= high:
            raise ValueError(f"crf {self.crf} is not valid for {self.codec}")
        expected = frame_count(self.duration_seconds, self.fps)
        if self.total_frames != expected:
            raise ValueError(
                f"total_frames {self.total_frames} does not match {self.duration_seconds} s at {self.fps} fps "
                f"({expected} frames)"
            )
        _check_ranges(self.chunks, self.total_frames)
        for video in self.videos:
            if not video.directory or "/" in video.directory or "\\" in video.directory or video.directory[0] == ".":
                raise ValueError(f"video frames folder {video.directory[:80]!r} is not a plain folder name")
        return self

    def capture_settings(self) -> CaptureSettings:
        return CaptureSettings(
            fps=self.fps,
            width=self.width,
            height=self.height,
            image=self.capture_image,
            jpeg_quality=self.jpeg_quality,
            transparent=self.transparent,
            variables=self.variables,
            warmup_ticks=self.warmup_ticks,
        )


def _check_ranges(chunks: list[tuple[int, int]], total: int) -> None:
    """Chunk ranges must be non-empty, contiguous, and cover exactly [0, total)."""
    expected_start = 0
    for index, (start, end) in enumerate(chunks):
        if start != expected_start or end <= start:
            raise ValueError(
                f"chunk {index} is [{start}, {end}) but must be a non-empty range starting at frame {expected_start}"
            )
        expected_start = end
    if expected_start != total:
        raise ValueError(f"the chunks cover [0, {expected_start}) but the plan has {total} frames")


def read_meta(plan_dir: Path, chunk_count: int | None = None) -> PlanMeta:
    """The plan's decisions, checked; with ``chunk_count`` (the manifest's) the chunk list must match it."""
    path = plan_dir / META_FILE
    if not path.is_file():
        raise MissingPlanArtifactError(f"{path} is missing; the plan folder is incomplete (re-plan)")
    try:
        meta = PlanMeta.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'plan'}: {e['msg']}" for e in exc.errors()[:5])
        raise PlanInvalidError(f"{META_FILE} is not a valid plan: {problems}; re-plan instead of editing it") from exc
    if chunk_count is not None and len(meta.chunks) != chunk_count:
        raise PlanInvalidError(
            f"{META_FILE} lists {len(meta.chunks)} chunk(s) but the manifest says {chunk_count}; re-plan"
        )
    return meta
