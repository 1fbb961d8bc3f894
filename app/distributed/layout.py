"""Where things live inside a plan folder, and the locked render decisions (``meta/plan.json``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from app.distributed.config import RenderConfig
from app.engine.capture import CaptureSettings
from app.engine.chrome import CaptureMode
from app.engine.formats import Codec, Format, Quality
from app.engine.media import VideoFrames
from app.errors import MissingPlanArtifactError

PROJECT_DIR = "project"
FRAMES_DIR = "frames"
AUDIO_FILE = "audio.m4a"
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
    width: int
    height: int
    fps: int
    format: Format
    codec: Codec
    quality: Quality
    crf: int | None
    capture_image: str
    jpeg_quality: int
    capture_mode: CaptureMode
    warmup_ticks: int
    transparent: bool
    variables: dict[str, Any] | None
    total_frames: int
    chunks: list[tuple[int, int]]
    videos: list[VideoFrames]
    has_audio: bool
    ffmpeg_version: str
    chrome_version: str
    runtime_version: str
    encoder_args: list[str]

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


def read_meta(plan_dir: Path) -> PlanMeta:
    path = plan_dir / META_FILE
    if not path.is_file():
        raise MissingPlanArtifactError(f"{path} is missing; the plan folder is incomplete (re-plan)")
    return PlanMeta.model_validate_json(path.read_bytes())
