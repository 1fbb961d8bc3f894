"""Typed errors: the one list of failure codes a user or an orchestrator must act on.

Every error carries a stable ``code`` (what Step Functions matches on, what the CLI prints) and a
``retryable`` flag (whether running the same task again can succeed). The tree::

    FramecastError
    ├── InputError                    bad input from the user: CLI exit 2, never retried
    │   ├── InvalidConfigError           INVALID_CONFIG
    │   ├── InvalidEventError            INVALID_EVENT
    │   ├── CompositionInvalidError      COMPOSITION_INVALID
    │   ├── DurationOutOfRangeError      DURATION_OUT_OF_RANGE
    │   ├── FormatNotSupportedError      FORMAT_NOT_SUPPORTED
    │   ├── VariablesInvalidError        VARIABLES_INVALID
    │   ├── S3UriNotAllowedError         S3_URI_NOT_ALLOWED
    │   ├── UnsafeArchiveError           UNSAFE_ARCHIVE
    │   └── VideoSourceUnrenderableError VIDEO_SOURCE_UNRENDERABLE
    ├── PlanIntegrityError            the plan a worker was given cannot be trusted: never retried
    │   ├── PlanHashMismatchError        PLAN_HASH_MISMATCH
    │   ├── PlanArtifactDigestMismatchError PLAN_ARTIFACT_DIGEST_MISMATCH
    │   ├── MissingPlanArtifactError     MISSING_PLAN_ARTIFACT
    │   ├── ChunkIndexOutOfRangeError    CHUNK_INDEX_OUT_OF_RANGE
    │   ├── ChunkCountZeroError          CHUNK_COUNT_ZERO
    │   ├── FfmpegVersionMismatchError   FFMPEG_VERSION_MISMATCH
    │   └── BrowserVersionMismatchError  BROWSER_VERSION_MISMATCH
    └── RenderError                   something failed while working: retryable
        ├── BrowserLaunchError           BROWSER_LAUNCH_FAILED
        ├── CaptureTimeoutError          CAPTURE_TIMEOUT
        ├── PageError                    PAGE_ERROR
        ├── EncodeError                  ENCODE_FAILED
        ├── RuntimeMissingError          RUNTIME_MISSING (not retryable: install it)
        └── StorageError                 STORAGE_ERROR

``non_retryable_codes()`` and ``RETRY_POLICY`` are what infra/template.yaml and the local backends
use; a test keeps the template equal to them.
"""

from __future__ import annotations

from typing import ClassVar, Final

from pydantic import BaseModel, ConfigDict


class FramecastError(Exception):
    """Base of every error framecast raises on purpose."""

    code: ClassVar[str] = "FRAMECAST_ERROR"
    retryable: ClassVar[bool] = False
    exit_code: ClassVar[int] = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message, "retryable": self.retryable}


class InputError(FramecastError):
    code = "INVALID_INPUT"
    exit_code = 2


class InvalidConfigError(InputError):
    code = "INVALID_CONFIG"


class InvalidEventError(InputError):
    code = "INVALID_EVENT"


class CompositionInvalidError(InputError):
    code = "COMPOSITION_INVALID"


class DurationOutOfRangeError(InputError):
    code = "DURATION_OUT_OF_RANGE"


class FormatNotSupportedError(InputError):
    code = "FORMAT_NOT_SUPPORTED"


class VariablesInvalidError(InputError):
    code = "VARIABLES_INVALID"


class S3UriNotAllowedError(InputError):
    code = "S3_URI_NOT_ALLOWED"


class UnsafeArchiveError(InputError):
    code = "UNSAFE_ARCHIVE"


class VideoSourceUnrenderableError(InputError):
    code = "VIDEO_SOURCE_UNRENDERABLE"


class PlanIntegrityError(FramecastError):
    code = "PLAN_INTEGRITY"


class PlanHashMismatchError(PlanIntegrityError):
    code = "PLAN_HASH_MISMATCH"


class PlanArtifactDigestMismatchError(PlanIntegrityError):
    code = "PLAN_ARTIFACT_DIGEST_MISMATCH"


class MissingPlanArtifactError(PlanIntegrityError):
    code = "MISSING_PLAN_ARTIFACT"


class ChunkIndexOutOfRangeError(PlanIntegrityError):
    code = "CHUNK_INDEX_OUT_OF_RANGE"


class ChunkCountZeroError(PlanIntegrityError):
    code = "CHUNK_COUNT_ZERO"


class FfmpegVersionMismatchError(PlanIntegrityError):
    code = "FFMPEG_VERSION_MISMATCH"


class BrowserVersionMismatchError(PlanIntegrityError):
    code = "BROWSER_VERSION_MISMATCH"


class RenderError(FramecastError):
    code = "RENDER_FAILED"
    retryable = True


class BrowserLaunchError(RenderError):
    code = "BROWSER_LAUNCH_FAILED"


class CaptureTimeoutError(RenderError):
    code = "CAPTURE_TIMEOUT"


class PageError(RenderError):
    code = "PAGE_ERROR"


class EncodeError(RenderError):
    code = "ENCODE_FAILED"


class RuntimeMissingError(RenderError):
    code = "RUNTIME_MISSING"
    retryable = False


class StorageError(RenderError):
    code = "STORAGE_ERROR"


def all_error_classes() -> list[type[FramecastError]]:
    """Every concrete error class, base first, in a stable order."""
    found: list[type[FramecastError]] = []
    pending: list[type[FramecastError]] = [FramecastError]
    while pending:
        cls = pending.pop(0)
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def error_codes() -> list[str]:
    return sorted({cls.code for cls in all_error_classes()})


def non_retryable_codes() -> list[str]:
    """Codes an orchestrator must not retry: the state machine's fail-fast list."""
    return sorted({cls.code for cls in all_error_classes() if not cls.retryable})


def error_class_for_code(code: str) -> type[FramecastError] | None:
    for cls in all_error_classes():
        if cls.code == code:
            return cls
    return None


class RetryPolicy(BaseModel):
    """How an orchestrator retries a task that failed with a retryable error."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_attempts: int
    interval_seconds: float
    backoff_rate: float
    max_delay_seconds: float

    def delay_before_retry(self, retry_number: int) -> float:
        """Seconds to wait before retry ``retry_number`` (1-based)."""
        delay = self.interval_seconds * self.backoff_rate ** (retry_number - 1)
        return float(min(delay, self.max_delay_seconds))


RETRY_POLICY: Final = RetryPolicy(max_attempts=4, interval_seconds=2, backoff_rate=2, max_delay_seconds=60)
