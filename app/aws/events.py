"""Wire models of the Lambda function: the four events it accepts and the small results it returns.

``notify`` posts the completion webhook (app.aws.notify); the other three are the render's activities.

JSON is PascalCase (compatible with HyperFrames' sample events); Python attributes are snake_case.
Every model is frozen and forbids unknown fields. ``parse_event`` is the only way in: it unwraps up
to ``MAX_ENVELOPES`` ``{"Payload": ...}`` envelopes (Step Functions' lambda:invoke wraps results that
way), selects the model by ``Action`` and raises INVALID_EVENT naming every bad field (INVALID_CONFIG
when only ``Config`` is wrong). Results stay tiny: Step Functions keeps them in its history and caps a
payload at 256 KiB.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Final, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_pascal

from app.aws.s3_uri import S3Uri, parse_object_uri, parse_prefix_uri
from app.aws.webhook_signing import check_webhook_url
from app.distributed.config import RenderConfig
from app.distributed.manifest import MANIFEST_NAME
from app.engine.formats import Format
from app.engine.frame_rate import FrameRate
from app.errors import InvalidConfigError, InvalidEventError, WebhookUrlInvalidError

Action = Literal["plan", "renderChunk", "assemble", "notify"]
ACTIONS: Final[tuple[str, ...]] = get_args(Action)
MAX_ENVELOPES: Final = 3


def _object_uri(text: str) -> str:
    parse_object_uri(text)
    return text


def _prefix_uri(text: str) -> str:
    parse_prefix_uri(text)
    return text


def _manifest_uri(text: str) -> str:
    key = parse_object_uri(text).key
    if key != MANIFEST_NAME and not key.endswith("/" + MANIFEST_NAME):
        raise ValueError(f"must be the plan's {MANIFEST_NAME} (as plan returned it in PlanManifestS3Uri)")
    return text


ObjectUri = Annotated[str, AfterValidator(_object_uri)]
PrefixUri = Annotated[str, AfterValidator(_prefix_uri)]
ManifestUri = Annotated[str, AfterValidator(_manifest_uri)]
PlanHash = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_pascal, populate_by_name=True)

    def dump(self) -> dict[str, Any]:
        """The JSON-ready dict, PascalCase keys."""
        return self.model_dump(mode="json", by_alias=True)


class PlanEvent(_Wire):
    action: Literal["plan"]
    project_s3_uri: ObjectUri
    plan_output_s3_prefix: PrefixUri
    config: RenderConfig = Field(default_factory=RenderConfig)

    @field_validator("config", mode="before")
    @classmethod
    def _null_config_means_defaults(cls, value: Any) -> Any:
        return {} if value is None else value

    def s3_uris(self) -> list[tuple[str, S3Uri]]:
        return [
            ("ProjectS3Uri", S3Uri.parse(self.project_s3_uri)),
            ("PlanOutputS3Prefix", S3Uri.parse(self.plan_output_s3_prefix)),
        ]


class RenderChunkEvent(_Wire):
    action: Literal["renderChunk"]
    plan_hash: PlanHash
    chunk_index: int = Field(ge=0, strict=True)
    chunk_output_s3_prefix: PrefixUri
    format: Format
    plan_manifest_s3_uri: ManifestUri

    def s3_uris(self) -> list[tuple[str, S3Uri]]:
        return [
            ("PlanManifestS3Uri", S3Uri.parse(self.plan_manifest_s3_uri)),
            ("ChunkOutputS3Prefix", S3Uri.parse(self.chunk_output_s3_prefix)),
        ]


class AssembleEvent(_Wire):
    action: Literal["assemble"]
    plan_hash: PlanHash
    plan_manifest_s3_uri: ManifestUri
    chunk_s3_uris: tuple[ObjectUri, ...] = Field(min_length=1)
    # A file for video formats; a prefix (ending in '/') for png-sequence, whose frames land under it.
    output_s3_uri: str
    format: Format

    @model_validator(mode="after")
    def _output_matches_format(self) -> AssembleEvent:
        try:
            if self.format == "png-sequence":
                parse_prefix_uri(self.output_s3_uri)
            else:
                parse_object_uri(self.output_s3_uri)
        except ValueError as exc:
            raise ValueError(f"OutputS3Uri for format {self.format}: {exc}") from exc
        return self

    def s3_uris(self) -> list[tuple[str, S3Uri]]:
        chunks = [(f"ChunkS3Uris[{i}]", S3Uri.parse(uri)) for i, uri in enumerate(self.chunk_s3_uris)]
        return [
            ("PlanManifestS3Uri", S3Uri.parse(self.plan_manifest_s3_uri)),
            *chunks,
            ("OutputS3Uri", S3Uri.parse(self.output_s3_uri)),
        ]


def _webhook_url(text: str) -> str:
    try:
        return check_webhook_url(text)
    except WebhookUrlInvalidError as exc:
        raise ValueError(exc.message) from exc


WebhookUrl = Annotated[str, AfterValidator(_webhook_url)]
RenderStatus = Literal["SUCCEEDED", "FAILED", "TIMED_OUT"]


class RenderFailure(_Wire):
    """A Catch's ``{"Error", "Cause"}`` (Cause is often a Lambda error document as a JSON string)."""

    error: str = Field(max_length=256)
    cause: str | None = None


class RenderOutput(_Wire):
    """The trimmed assemble result the state machine keeps in ``$.Output``."""

    output_s3_uri: str
    frames_encoded: int
    file_size: int
    duration_ms: int


class NotifyOutcome(_Wire):
    status: RenderStatus
    output: RenderOutput | None = None
    error: RenderFailure | None = None


class NotifyEvent(_Wire):
    """Post the completion webhook. From the state machine: every field; from the TIMED_OUT EventBridge rule:
    ExecutionArn and Outcome only (the function reads RenderId and WebhookUrl from the execution's input)."""

    action: Literal["notify"]
    execution_arn: str = Field(pattern=r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:execution:[^:]+:[^:]+$")
    render_id: str | None = Field(default=None, max_length=128)
    webhook_url: WebhookUrl | None = None
    outcome: NotifyOutcome

    def s3_uris(self) -> list[tuple[str, S3Uri]]:
        return []  # touches no bucket


Event = Annotated[PlanEvent | RenderChunkEvent | AssembleEvent | NotifyEvent, Field(discriminator="action")]
AnyEvent = PlanEvent | RenderChunkEvent | AssembleEvent | NotifyEvent
EVENT_MODELS: Final[dict[str, type[AnyEvent]]] = {
    "plan": PlanEvent,
    "renderChunk": RenderChunkEvent,
    "assemble": AssembleEvent,
    "notify": NotifyEvent,
}


class PlanResultOut(_Wire):
    plan_hash: str
    chunk_count: int
    chunk_indexes: list[int]  # 0..n-1: what the state machine's Map iterates over
    total_frames: int
    fps: FrameRate  # an int for whole rates (as before), else "30000/1001"
    width: int
    height: int
    format: str
    has_audio: bool
    plan_manifest_s3_uri: str
    duration_ms: int


class ChunkResultOut(_Wire):
    chunk_s3_uri: str
    chunk_index: int
    sha256: str
    frames_encoded: int
    duration_ms: int
    boot_ms: int = 0  # browser ready → first frame; small when the container was warm


class AssembleResultOut(_Wire):
    output_s3_uri: str
    frames_encoded: int
    file_size: int
    duration_ms: int


class NotifyResultOut(_Wire):
    delivered: bool
    attempts: int
    status_code: int | None
    detail: str


def unwrap(raw: Any) -> dict[str, Any]:
    """The event object inside up to MAX_ENVELOPES ``{"Payload": ...}`` envelopes."""
    if isinstance(raw, str | bytes):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise InvalidEventError(f"the event is not valid JSON: {str(exc)[:200]}") from exc
        except RecursionError as exc:  # the json module recurses once per nested array or object
            raise InvalidEventError("the event is nested too deeply to be a framecast event") from exc
    for depth in range(MAX_ENVELOPES + 1):
        if not isinstance(raw, dict):
            raise InvalidEventError(f"the event must be a JSON object, got {type(raw).__name__}")
        if "Action" in raw or "action" in raw or "Payload" not in raw:
            return raw
        if depth == MAX_ENVELOPES:
            break
        raw = raw["Payload"]
    raise InvalidEventError(
        f"the event is nested in more than {MAX_ENVELOPES} Payload envelopes; pass the event object itself"
    )


def action_of(raw: Any) -> str | None:
    """The Action a raw event names, if it names one (for logging before validation)."""
    try:
        value = unwrap(raw).get("Action")
    except InvalidEventError:
        return None
    return value if isinstance(value, str) else None


def parse_event(raw: Any) -> AnyEvent:
    """Validate an untrusted event; raise INVALID_EVENT (or INVALID_CONFIG) naming every bad field."""
    data = unwrap(raw)
    action = data.get("Action", data.get("action"))
    if action is None:
        raise InvalidEventError(f"the event has no Action; use one of: {', '.join(ACTIONS)}")
    if not isinstance(action, str) or action not in EVENT_MODELS:
        raise InvalidEventError(f"Action {str(action)[:40]!r} is not one of: {', '.join(ACTIONS)}")
    try:
        return EVENT_MODELS[action].model_validate(data)
    except RecursionError as exc:
        raise InvalidEventError(f"the {action} event is nested too deeply (in Config.Variables?)") from exc
    except ValidationError as exc:
        errors = exc.errors()
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'event'}: {e['msg']}" for e in errors)
        if all(e["loc"][:1] in (("Config",), ("config",)) for e in errors):
            raise InvalidConfigError(f"invalid render config in the {action} event: {problems}") from exc
        raise InvalidEventError(f"invalid {action} event: {problems}") from exc
