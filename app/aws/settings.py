"""Settings of the Lambda function, read once from ``FRAMECAST_*`` environment variables.

Buckets are denied by default: an empty ``FRAMECAST_BUCKET_ALLOWLIST`` allows none, unless
``FRAMECAST_ALLOW_ANY_BUCKET=true`` (meant for local runs) opens every bucket. The allowlist is a
comma-separated list (a JSON array also works) so CloudFormation can pass ``!Ref RenderBucket``.
"""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.errors import InvalidConfigError

GIB = 1024**3
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FRAMECAST_", frozen=True, extra="ignore")

    ALLOWLIST_ENV: ClassVar[str] = "FRAMECAST_BUCKET_ALLOWLIST"
    ALLOW_ANY_ENV: ClassVar[str] = "FRAMECAST_ALLOW_ANY_BUCKET"

    bucket_allowlist: Annotated[tuple[str, ...], NoDecode] = ()
    allow_any_bucket: bool = False
    # Lambda's only writable folder is /tmp; gettempdir() is /tmp there and honours TMPDIR elsewhere.
    work_root: Path = Field(default_factory=lambda: Path(tempfile.gettempdir()))
    log_level: str = "INFO"
    max_archive_bytes: int = Field(default=2 * GIB, gt=0)
    max_archive_members: int = Field(default=100_000, gt=0)
    # The stack's webhook signing secret (Secrets Manager ARN); the template sets it, notify reads it.
    webhook_secret_arn: str | None = None

    @field_validator("bucket_allowlist", mode="before")
    @classmethod
    def _split_allowlist(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [name.strip() for name in text.replace(" ", ",").split(",") if name.strip()]

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return level

    def bucket_allowed(self, bucket: str) -> bool:
        return self.allow_any_bucket or bucket in self.bucket_allowlist


def load_settings() -> Settings:
    """Read the environment now; INVALID_CONFIG names the bad variable."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(f"FRAMECAST_{str(e['loc'][0]).upper()}: {e['msg']}" for e in exc.errors())
        raise InvalidConfigError(f"invalid environment: {problems}; fix the function's configuration") from exc
    except ValueError as exc:  # pydantic-settings' SettingsError: a value it could not decode
        raise InvalidConfigError(f"invalid FRAMECAST_* environment: {exc}; fix the function's configuration") from exc


@functools.cache
def get_settings() -> Settings:
    """The settings of this process (read once; ``get_settings.cache_clear()`` re-reads them)."""
    return load_settings()
