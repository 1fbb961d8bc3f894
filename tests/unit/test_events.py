"""The Lambda wire models: sample events parse, envelopes unwrap, bad events name what is wrong."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from app.aws.events import (
    ACTIONS,
    MAX_ENVELOPES,
    AssembleEvent,
    AssembleResultOut,
    ChunkResultOut,
    PlanEvent,
    PlanResultOut,
    RenderChunkEvent,
    parse_event,
)
from app.aws.s3_uri import S3Uri, check_allowed
from app.aws.settings import Settings, load_settings
from app.distributed.config import RenderConfig
from app.errors import InvalidConfigError, InvalidEventError, S3UriNotAllowedError

EVENTS = Path(__file__).resolve().parents[1] / "events"


def sample(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return data


def test_every_sample_event_parses_to_its_model() -> None:
    plan = parse_event(sample("plan.json"))
    chunk = parse_event(sample("render-chunk.json"))
    assemble = parse_event(sample("assemble.json"))
    assert isinstance(plan, PlanEvent)
    assert isinstance(plan.config, RenderConfig)
    assert plan.config.chunk_size == 60
    assert isinstance(chunk, RenderChunkEvent)
    assert chunk.chunk_index == 0
    assert isinstance(assemble, AssembleEvent)
    assert len(assemble.chunk_s3_uris) == 3


def test_sample_files_cover_every_action_and_a_payload_envelope() -> None:
    names = {path.name for path in EVENTS.glob("*.json")}
    assert {"plan.json", "render-chunk.json", "assemble.json", "render-chunk-payload.json"} <= names
    actions = {parse_event(json.loads(path.read_text())).action for path in EVENTS.glob("*.json")}
    assert actions == set(ACTIONS)


def test_payload_envelopes_are_unwrapped_up_to_the_bound() -> None:
    wrapped = sample("render-chunk-payload.json")
    assert parse_event(wrapped) == RenderChunkEvent.model_validate(wrapped["Payload"])
    event: Any = sample("render-chunk.json")
    for _ in range(MAX_ENVELOPES):
        event = {"Payload": event, "StatusCode": 200}  # lambda:invoke results carry siblings of Payload
    assert isinstance(parse_event(event), RenderChunkEvent)
    with pytest.raises(InvalidEventError, match=f"more than {MAX_ENVELOPES} Payload envelopes"):
        parse_event({"Payload": event})


def test_a_json_string_event_is_accepted() -> None:
    assert isinstance(parse_event((EVENTS / "plan.json").read_text()), PlanEvent)


@pytest.mark.parametrize("action", ["render", "Plan", "", 3, None])
def test_an_unknown_action_names_the_allowed_ones(action: object) -> None:
    event = {**sample("plan.json"), "Action": action}
    with pytest.raises(InvalidEventError, match="plan, renderChunk, assemble"):
        parse_event(event)


def test_an_event_without_action_or_not_an_object_is_rejected() -> None:
    with pytest.raises(InvalidEventError, match="no Action"):
        parse_event({"ChunkIndex": 1})
    with pytest.raises(InvalidEventError, match="JSON object"):
        parse_event(["plan"])
    with pytest.raises(InvalidEventError, match="not valid JSON"):
        parse_event("{not json")


def test_missing_fields_are_all_listed() -> None:
    event = sample("render-chunk.json")
    del event["PlanHash"], event["ChunkOutputS3Prefix"]
    with pytest.raises(InvalidEventError) as caught:
        parse_event(event)
    assert "PlanHash: Field required" in caught.value.message
    assert "ChunkOutputS3Prefix: Field required" in caught.value.message


def test_unknown_fields_are_rejected() -> None:
    with pytest.raises(InvalidEventError, match="Surprise"):
        parse_event({**sample("assemble.json"), "Surprise": 1})


@pytest.mark.parametrize(
    ("name", "field", "value"),
    [
        ("plan.json", "ProjectS3Uri", "https://bucket/key.tar.gz"),
        ("plan.json", "ProjectS3Uri", "s3://framecast-example-renders/"),
        ("plan.json", "ProjectS3Uri", "s3://framecast-example-renders"),
        ("plan.json", "ProjectS3Uri", "s3://Bad_Bucket/key.tar.gz"),
        ("plan.json", "PlanOutputS3Prefix", "s3://framecast-example-renders/renders/sample/plan"),
        ("render-chunk.json", "PlanManifestS3Uri", "s3://framecast-example-renders/renders/sample/plan/manifest.json"),
        ("render-chunk.json", "ChunkOutputS3Prefix", "s3://framecast-example-renders/chunk\n/"),
        ("assemble.json", "ChunkS3Uris", ["s3://framecast-example-renders/renders/"]),
        ("assemble.json", "ChunkS3Uris", []),
        ("assemble.json", "OutputS3Uri", "s3://framecast-example-renders/outputs/"),
    ],
)
def test_malformed_uris_are_rejected_naming_the_field(name: str, field: str, value: object) -> None:
    event = {**sample(name), field: value}
    with pytest.raises(InvalidEventError) as caught:
        parse_event(event)
    assert field in caught.value.message or "OutputS3Uri" in caught.value.message


def test_png_sequence_output_must_be_a_prefix() -> None:
    event = {**sample("assemble.json"), "Format": "png-sequence"}
    with pytest.raises(InvalidEventError, match="OutputS3Uri for format png-sequence"):
        parse_event(event)
    event["OutputS3Uri"] = "s3://framecast-example-renders/outputs/sample/"
    assert parse_event(event).output_s3_uri.endswith("/")


@pytest.mark.parametrize(
    ("field", "value"),
    [("PlanHash", "0" * 63), ("PlanHash", "Z" * 64), ("ChunkIndex", -1), ("ChunkIndex", "1"), ("ChunkIndex", True)],
)
def test_plan_hash_and_chunk_index_are_strict(field: str, value: object) -> None:
    with pytest.raises(InvalidEventError, match=field):
        parse_event({**sample("render-chunk.json"), field: value})


def test_an_unsupported_format_is_an_invalid_event() -> None:
    with pytest.raises(InvalidEventError, match="Format"):
        parse_event({**sample("render-chunk.json"), "Format": "gif"})


def test_a_bad_config_alone_is_invalid_config() -> None:
    event = sample("plan.json")
    event["Config"] = {"fps": 121, "surprise": True}
    with pytest.raises(InvalidConfigError) as caught:
        parse_event(event)
    assert "Config.fps" in caught.value.message and "Config.surprise" in caught.value.message


def test_a_null_config_means_the_defaults() -> None:
    event = {**sample("plan.json"), "Config": None}
    parsed = parse_event(event)
    assert isinstance(parsed, PlanEvent) and parsed.config == RenderConfig()


def test_events_are_frozen_and_round_trip_by_alias() -> None:
    event = parse_event(sample("assemble.json"))
    with pytest.raises(ValueError, match="frozen"):
        event.format = "webm"  # type: ignore[misc]
    assert parse_event(event.dump()) == event
    assert event.dump()["ChunkS3Uris"] == sample("assemble.json")["ChunkS3Uris"]


def test_results_dump_pascal_case() -> None:
    plan = PlanResultOut(
        plan_hash="a" * 64,
        chunk_count=2,
        chunk_indexes=[0, 1],
        total_frames=30,
        fps=30,
        width=320,
        height=180,
        format="mp4",
        has_audio=False,
        plan_manifest_s3_uri="s3://b-1/p/plan-manifest.json",
        duration_ms=5,
    )
    assert list(plan.dump()) == [
        "PlanHash",
        "ChunkCount",
        "ChunkIndexes",
        "TotalFrames",
        "Fps",
        "Width",
        "Height",
        "Format",
        "HasAudio",
        "PlanManifestS3Uri",
        "DurationMs",
    ]
    chunk = ChunkResultOut(chunk_s3_uri="s3://b-1/c", chunk_index=1, sha256="b" * 64, frames_encoded=15, duration_ms=3)
    assert set(chunk.dump()) == {"ChunkS3Uri", "ChunkIndex", "Sha256", "FramesEncoded", "DurationMs", "BootMs"}
    output = AssembleResultOut(output_s3_uri="s3://b-1/o.mp4", frames_encoded=30, file_size=9, duration_ms=1)
    assert output.dump() == {"OutputS3Uri": "s3://b-1/o.mp4", "FramesEncoded": 30, "FileSize": 9, "DurationMs": 1}


def test_every_uri_of_an_event_is_offered_to_the_allowlist() -> None:
    assemble = parse_event(sample("assemble.json"))
    names = [name for name, _ in assemble.s3_uris()]
    assert names == ["PlanManifestS3Uri", "ChunkS3Uris[0]", "ChunkS3Uris[1]", "ChunkS3Uris[2]", "OutputS3Uri"]
    other = copy.deepcopy(sample("assemble.json"))
    other["ChunkS3Uris"][1] = "s3://someone-elses-bucket/chunk.mp4"
    settings = Settings(bucket_allowlist=("framecast-example-renders",))
    check_allowed(assemble.s3_uris(), settings)
    with pytest.raises(S3UriNotAllowedError) as caught:
        check_allowed(parse_event(other).s3_uris(), settings)
    assert "ChunkS3Uris[1]" in caught.value.message
    assert "someone-elses-bucket" in caught.value.message
    assert "FRAMECAST_BUCKET_ALLOWLIST" in caught.value.message


def test_buckets_are_denied_by_default_and_any_bucket_needs_an_explicit_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FRAMECAST_BUCKET_ALLOWLIST", raising=False)
    monkeypatch.delenv("FRAMECAST_ALLOW_ANY_BUCKET", raising=False)
    uri = [("ProjectS3Uri", S3Uri.parse("s3://some-bucket/p.tar.gz"))]
    with pytest.raises(S3UriNotAllowedError, match="no bucket is allowed"):
        check_allowed(uri, Settings())
    monkeypatch.setenv("FRAMECAST_ALLOW_ANY_BUCKET", "true")
    check_allowed(uri, Settings())


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("a-bucket", ("a-bucket",)), ("a-bucket, b-bucket", ("a-bucket", "b-bucket")), ('["x-1","y-2"]', ("x-1", "y-2"))],
)
def test_the_allowlist_env_is_comma_separated_or_json(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: tuple[str, ...]
) -> None:
    monkeypatch.setenv("FRAMECAST_BUCKET_ALLOWLIST", raw)
    assert Settings().bucket_allowlist == expected


def test_s3_uri_parsing() -> None:
    uri = S3Uri.parse("s3://my.bucket-1/a/b.mp4")
    assert (uri.bucket, uri.key, str(uri), uri.is_prefix) == (
        "my.bucket-1",
        "a/b.mp4",
        "s3://my.bucket-1/a/b.mp4",
        False,
    )
    prefix = S3Uri.parse("s3://my.bucket-1/renders/")
    assert prefix.child("chunk-00001.mp4") == S3Uri("my.bucket-1", "renders/chunk-00001.mp4")
    with pytest.raises(ValueError, match="not a prefix"):
        uri.child("x")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FRAMECAST_LOG_LEVEL", "LOUD"),
        ("FRAMECAST_MAX_ARCHIVE_BYTES", "0"),
        ("FRAMECAST_MAX_ARCHIVE_MEMBERS", "many"),
        ("FRAMECAST_ALLOW_ANY_BUCKET", "perhaps"),
    ],
)
def test_a_bad_environment_is_invalid_config_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(InvalidConfigError, match=name):
        load_settings()


def test_log_levels_are_normalised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAMECAST_LOG_LEVEL", " debug ")
    assert load_settings().log_level == "DEBUG"
