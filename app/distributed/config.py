"""The render configuration a plan locks: validated once, at the edge, naming the bad field."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from app.engine.formats import Codec, Format, Quality
from app.engine.frame_rate import FrameRate
from app.errors import InvalidConfigError

DEFAULT_MAX_PARALLEL_CHUNKS = 16
MAX_PARALLEL_CHUNKS_LIMIT = 256
DEFAULT_MIN_CHUNK_FRAMES = 10
# Deeper values cannot be a sensible variable, and would overflow recursive JSON code later on.
MAX_VARIABLES_DEPTH = 32


class RenderConfig(BaseModel):
    """Everything a user chooses for a distributed render. Accepts snake_case or camelCase keys."""

    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)

    fps: FrameRate | None = None  # 30, "29.97", "30000/1001": exact; an integer rate stays an int in JSON
    format: Format = "mp4"
    codec: Codec | None = None
    quality: Quality = "standard"
    crf: int | None = Field(default=None, ge=0, le=63)
    chunk_size: int | None = Field(default=None, ge=1)
    max_parallel_chunks: int = Field(default=DEFAULT_MAX_PARALLEL_CHUNKS, ge=1, le=MAX_PARALLEL_CHUNKS_LIMIT)
    min_chunk_frames: int = Field(default=DEFAULT_MIN_CHUNK_FRAMES, ge=1)
    variables: dict[str, Any] | None = None
    strict_variables: bool = False
    offline: bool = False  # refuse remote media and block remote files instead of fetching them at plan time

    @field_validator("variables")
    @classmethod
    def _variables_shallow(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        pending: list[tuple[Any, int]] = [(value, 1)]
        while pending:  # iterative: the check itself must not recurse
            item, depth = pending.pop()
            if depth > MAX_VARIABLES_DEPTH:
                raise ValueError(f"are nested more than {MAX_VARIABLES_DEPTH} levels deep")
            children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
            pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
        return value

    @classmethod
    def parse(cls, data: Any) -> RenderConfig:
        """Validate untrusted input; raise INVALID_CONFIG naming every bad field."""
        try:
            return cls.model_validate(data or {})
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in error['loc']) or 'config'}: {error['msg']}" for error in exc.errors()
            )
            raise InvalidConfigError(f"invalid render config: {problems}") from exc
