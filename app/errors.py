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
    │   ├── VideoSourceUnrenderableError VIDEO_SOURCE_UNRENDERABLE
    │   ├── RemoteAssetRefusedError      REMOTE_ASSET_REFUSED (a remote file: 4xx, too large, not http(s))
    │   ├── BatchInvalidError            BATCH_INVALID (render-batch input file)
    │   ├── BatchManifestError           BATCH_MANIFEST_INVALID (render-batch --resume)
    │   ├── CostLimitExceededError       COST_LIMIT_EXCEEDED (render-batch cost gate)
    │   ├── OutputPathUnsafeError        OUTPUT_PATH_UNSAFE (an output would replace an input or a non-file)
    │   ├── StackNotFoundError           STACK_NOT_FOUND (framecast lambda: no state file / stack by that name)
    │   ├── AwsCredentialsMissingError   AWS_CREDENTIALS_MISSING
    │   ├── AwsRegionInvalidError        AWS_REGION_INVALID (none set, or not a region AWS knows)
    │   ├── RegionMismatchError          REGION_MISMATCH (--region differs from the stack's)
    │   ├── RenderNotFoundError          RENDER_NOT_FOUND
    │   ├── RenderIdInvalidError         RENDER_ID_INVALID
    │   ├── RenderAlreadyExistsError     RENDER_ALREADY_EXISTS (same execution name, other input)
    │   ├── SiteNotFoundError            SITE_NOT_FOUND
    │   ├── ImageToolMissingError        IMAGE_TOOL_MISSING (neither docker nor podman answers)
    │   ├── ImageNotFoundError           IMAGE_NOT_FOUND (--image-uri names no image in ECR)
    │   ├── WebhookUrlInvalidError       WEBHOOK_URL_INVALID (not https, credentials in it, ...)
    │   └── PolicyInvalidError           POLICY_INVALID (policies validate: unreadable or not an IAM policy)
    ├── PlanIntegrityError            the plan or chunks a worker was given cannot be trusted: never retried
    │   ├── PlanInvalidError             PLAN_INVALID (plan files that break the plan's invariants)
    │   ├── ChunkInvalidError            CHUNK_INVALID (not a chunk, or not the frames it claims)
    │   ├── ChunkPlanMismatchError       CHUNK_PLAN_MISMATCH (a chunk of another plan or index)
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
        ├── StorageError                 STORAGE_ERROR
        ├── OutputFrameCountError        OUTPUT_FRAME_COUNT_MISMATCH (the assembled output is short)
        ├── InternalError                INTERNAL_ERROR (an unexpected exception: logged, retried)
        ├── WebhookSecretUnavailableError WEBHOOK_SECRET_UNAVAILABLE (the stack's signing secret)
        └── RemoteAssetFailedError       REMOTE_ASSET_FAILED (a remote file: timeout, connection, 5xx)
    └── CloudError                    the user's machine talking to AWS failed (framecast lambda): exit 1
        ├── AwsRequestFailedError        AWS_REQUEST_FAILED (retryable)
        ├── DeployFailedError            DEPLOY_FAILED (CloudFormation rolled back; reasons listed)
        └── ImageBuildFailedError        IMAGE_BUILD_FAILED (build, login or push)

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


class RemoteAssetRefusedError(InputError):
    code = "REMOTE_ASSET_REFUSED"


class BatchInvalidError(InputError):
    code = "BATCH_INVALID"


class BatchManifestError(InputError):
    code = "BATCH_MANIFEST_INVALID"


class CostLimitExceededError(InputError):
    code = "COST_LIMIT_EXCEEDED"


class OutputPathUnsafeError(InputError):
    code = "OUTPUT_PATH_UNSAFE"


class StackNotFoundError(InputError):
    code = "STACK_NOT_FOUND"


class AwsCredentialsMissingError(InputError):
    code = "AWS_CREDENTIALS_MISSING"


class AwsRegionInvalidError(InputError):
    code = "AWS_REGION_INVALID"


class RegionMismatchError(InputError):
    code = "REGION_MISMATCH"


class RenderNotFoundError(InputError):
    code = "RENDER_NOT_FOUND"


class RenderIdInvalidError(InputError):
    code = "RENDER_ID_INVALID"


class RenderAlreadyExistsError(InputError):
    code = "RENDER_ALREADY_EXISTS"


class SiteNotFoundError(InputError):
    code = "SITE_NOT_FOUND"


class ImageToolMissingError(InputError):
    code = "IMAGE_TOOL_MISSING"


class ImageNotFoundError(InputError):
    code = "IMAGE_NOT_FOUND"


class WebhookUrlInvalidError(InputError):
    code = "WEBHOOK_URL_INVALID"


class PolicyInvalidError(InputError):
    code = "POLICY_INVALID"


class PlanIntegrityError(FramecastError):
    code = "PLAN_INTEGRITY"


class PlanInvalidError(PlanIntegrityError):
    code = "PLAN_INVALID"


class ChunkInvalidError(PlanIntegrityError):
    code = "CHUNK_INVALID"


class ChunkPlanMismatchError(PlanIntegrityError):
    code = "CHUNK_PLAN_MISMATCH"


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


class OutputFrameCountError(RenderError):
    code = "OUTPUT_FRAME_COUNT_MISMATCH"


class InternalError(RenderError):
    code = "INTERNAL_ERROR"


class WebhookSecretUnavailableError(RenderError):
    code = "WEBHOOK_SECRET_UNAVAILABLE"


class RemoteAssetFailedError(RenderError):
    code = "REMOTE_ASSET_FAILED"


class CloudError(FramecastError):
    code = "CLOUD_ERROR"


class AwsRequestFailedError(CloudError):
    code = "AWS_REQUEST_FAILED"
    retryable = True


class DeployFailedError(CloudError):
    code = "DEPLOY_FAILED"


class ImageBuildFailedError(CloudError):
    code = "IMAGE_BUILD_FAILED"


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
