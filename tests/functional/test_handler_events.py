"""The Lambda dispatcher against moto's S3 server, with fake (deterministic) activities injected.

Proves the handler's contract without Chrome: bad events fail with an exception whose class NAME is
the error code and write nothing to S3; the plan hash is checked before any rendering; outputs land
under deterministic keys, so a retried chunk leaves the same object; work folders are removed.
"""

from __future__ import annotations

import io
import json
import logging
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from app.aws.archive import pack_project
from app.aws.handler import Deps, FramecastLambdaError, default_deps, dispatch, handler, lambda_error_class, logger
from app.aws.s3_transport import S3Transport
from app.aws.settings import Settings, get_settings
from app.distributed.config import RenderConfig
from app.distributed.manifest import (
    MANIFEST_NAME,
    ROLE_ASSEMBLE,
    build_manifest,
    chunk_role,
    manifest_bytes,
    sha256_file,
    verify_plan_files,
    write_atomic,
)
from app.errors import EncodeError, FramecastError
from tests.support import moto_server
from tests.support.moto_server import S3Sandbox

moto_endpoint = moto_server.moto_endpoint  # pytest fixtures this module uses
s3 = moto_server.s3

CHUNKS = 3
FRAMES_PER_CHUNK = 10
INDEX_HTML = b"<div id='root' data-composition-id='t'></div>"


@dataclass(frozen=True)
class FakePlanResult:
    plan_hash: str
    chunk_count: int
    total_frames: int
    fps: int
    width: int
    height: int
    format: str
    has_audio: bool
    duration_ms: int


@dataclass(frozen=True)
class FakeOutput:
    output: Path
    frames: int
    boot_seconds: float = 0.25


def fake_plan(project_dir: Path, config: RenderConfig, plan_dir: Path) -> FakePlanResult:
    """A real plan layout (files, roles, manifest) with made-up content."""
    write_atomic(plan_dir / "project" / "index.html", (project_dir / "index.html").read_bytes())
    write_atomic(plan_dir / "meta" / "plan.json", json.dumps({"format": config.format}).encode())
    roles = {"audio.m4a": (ROLE_ASSEMBLE,)}
    write_atomic(plan_dir / "audio.m4a", b"fake audio")
    for index in range(CHUNKS):
        write_atomic(plan_dir / "frames" / f"{index}.bin", f"frames of chunk {index}".encode())
        roles[f"frames/{index}.bin"] = (chunk_role(index),)
    manifest = build_manifest(plan_dir, roles, CHUNKS)
    write_atomic(plan_dir / MANIFEST_NAME, manifest_bytes(manifest))
    return FakePlanResult(manifest.plan_hash, CHUNKS, CHUNKS * FRAMES_PER_CHUNK, 30, 320, 180, config.format, True, 1)


def fake_render_chunk(plan_dir: Path, index: int, out_path: Path, *, plan_hash: str | None = None) -> FakeOutput:
    verify_plan_files(plan_dir, chunk_role(index), plan_hash)
    out_path.write_bytes(b"segment|" + (plan_dir / "frames" / f"{index}.bin").read_bytes())
    return FakeOutput(out_path, FRAMES_PER_CHUNK)


def fake_assemble(
    plan_dir: Path, chunk_paths: list[Path], out_path: Path, *, plan_hash: str | None = None
) -> FakeOutput:
    verify_plan_files(plan_dir, ROLE_ASSEMBLE, plan_hash)
    if out_path.suffix:
        out_path.write_bytes(b"".join(path.read_bytes() for path in chunk_paths))
    else:  # png-sequence: a folder of frames plus the audio
        out_path.mkdir()
        for index, path in enumerate(chunk_paths):
            (out_path / f"frame-{index:06d}.png").write_bytes(path.read_bytes())
        (out_path / "audio.m4a").write_bytes((plan_dir / "audio.m4a").read_bytes())
    return FakeOutput(out_path, CHUNKS * FRAMES_PER_CHUNK)


@dataclass
class Calls:
    names: list[str] = field(default_factory=list)

    def wrap(self, name: str, activity: Callable[..., Any]) -> Any:
        def recorded(*args: Any, **kwargs: Any) -> Any:
            self.names.append(name)
            return activity(*args, **kwargs)

        return recorded


@pytest.fixture
def calls() -> Calls:
    return Calls()


@pytest.fixture
def deps(s3: S3Sandbox, calls: Calls) -> Deps:
    return Deps(
        settings=Settings(),  # the environment the s3 fixture set: allowlist = s3.bucket, work root under tmp
        transport=S3Transport(),
        plan=calls.wrap("plan", fake_plan),
        render_chunk=calls.wrap("render_chunk", fake_render_chunk),
        assemble=calls.wrap("assemble", fake_assemble),
    )


def upload_project(s3: S3Sandbox, tmp_path: Path, key: str = "projects/p.tar.gz") -> str:
    project = tmp_path / "project-src"
    project.mkdir(exist_ok=True)
    (project / "index.html").write_bytes(INDEX_HTML)
    return s3.upload(pack_project(project, tmp_path / "p.tar.gz"), key)


def plan_event(s3: S3Sandbox, project_uri: str, fmt: str = "mp4", **config: Any) -> dict[str, Any]:
    return {
        "Action": "plan",
        "ProjectS3Uri": project_uri,
        "PlanOutputS3Prefix": s3.uri("renders/r1/plan/"),
        "Config": {"format": fmt, **config},
    }


def chunk_event(s3: S3Sandbox, planned: dict[str, Any], index: int) -> dict[str, Any]:
    return {
        "Action": "renderChunk",
        "PlanHash": planned["PlanHash"],
        "ChunkIndex": index,
        "ChunkOutputS3Prefix": s3.uri("renders/r1/chunks/"),
        "Format": planned["Format"],
        "PlanManifestS3Uri": planned["PlanManifestS3Uri"],
    }


def assemble_event(s3: S3Sandbox, planned: dict[str, Any], chunk_uris: list[str], output: str) -> dict[str, Any]:
    return {
        "Action": "assemble",
        "PlanHash": planned["PlanHash"],
        "PlanManifestS3Uri": planned["PlanManifestS3Uri"],
        "ChunkS3Uris": chunk_uris,
        "OutputS3Uri": output,
        "Format": planned["Format"],
    }


@pytest.fixture
def planned(s3: S3Sandbox, deps: Deps, tmp_path: Path) -> dict[str, Any]:
    return dispatch(plan_event(s3, upload_project(s3, tmp_path)), deps)


def fails_with(code: str, event: Any, deps: Deps) -> FramecastLambdaError:
    with pytest.raises(FramecastLambdaError) as caught:
        dispatch(event, deps)
    error = caught.value
    assert type(error).__name__ == code, f"{type(error).__name__}: {error}"
    assert isinstance(error.__cause__, FramecastError) and error.__cause__.code == code
    assert str(error) == error.__cause__.message
    return error


def test_plan_chunks_assemble_end_to_end_with_fakes(s3: S3Sandbox, deps: Deps, planned: dict[str, Any]) -> None:
    assert planned["ChunkCount"] == CHUNKS and planned["ChunkIndexes"] == [0, 1, 2]
    assert planned["PlanManifestS3Uri"] == s3.uri(f"renders/r1/plan/{MANIFEST_NAME}")
    chunks = [dispatch(chunk_event(s3, planned, i), deps) for i in range(CHUNKS)]
    assert [c["ChunkS3Uri"] for c in chunks] == [s3.uri(f"renders/r1/chunks/chunk-{i:05d}.mp4") for i in range(3)]
    output = dispatch(assemble_event(s3, planned, [c["ChunkS3Uri"] for c in chunks], s3.uri("outputs/r1.mp4")), deps)
    data = s3.get("outputs/r1.mp4")
    assert data == b"".join(s3.get(f"renders/r1/chunks/chunk-{i:05d}.mp4") for i in range(CHUNKS))
    assert output == {
        "OutputS3Uri": s3.uri("outputs/r1.mp4"),
        "FramesEncoded": 30,
        "FileSize": len(data),
        "DurationMs": output["DurationMs"],
    }
    assert list((deps.settings.work_root).iterdir()) == []  # every work folder removed


def test_a_payload_wrapped_event_is_dispatched(s3: S3Sandbox, deps: Deps, planned: dict[str, Any]) -> None:
    result = dispatch({"Payload": {"Payload": chunk_event(s3, planned, 2)}}, deps)
    assert result["ChunkIndex"] == 2


def test_a_chunk_run_twice_leaves_the_same_object(
    s3: S3Sandbox, deps: Deps, planned: dict[str, Any], tmp_path: Path
) -> None:
    first = dispatch(chunk_event(s3, planned, 1), deps)
    key = "renders/r1/chunks/chunk-00001.mp4"
    etag = s3.etag(key)
    second = dispatch(chunk_event(s3, planned, 1), deps)
    assert s3.etag(key) == etag
    assert {**first, "DurationMs": 0} == {**second, "DurationMs": 0}
    (tmp_path / "chunk").write_bytes(s3.get(key))
    assert first["Sha256"] == sha256_file(tmp_path / "chunk")
    assert set(first) == {"ChunkS3Uri", "ChunkIndex", "Sha256", "FramesEncoded", "DurationMs", "BootMs"}


def test_png_sequence_output_is_uploaded_file_by_file_under_the_prefix(
    s3: S3Sandbox, deps: Deps, tmp_path: Path
) -> None:
    planned = dispatch(plan_event(s3, upload_project(s3, tmp_path), fmt="png-sequence"), deps)
    chunks = [dispatch(chunk_event(s3, planned, i), deps)["ChunkS3Uri"] for i in range(CHUNKS)]
    assert chunks[0].endswith("chunk-00000.tar")
    result = dispatch(assemble_event(s3, planned, chunks, s3.uri("outputs/seq/")), deps)
    keys = [key for key in s3.list_keys() if key.startswith("outputs/seq/")]
    assert keys == ["outputs/seq/audio.m4a", *[f"outputs/seq/frame-{i:06d}.png" for i in range(CHUNKS)]]
    assert result["FileSize"] == sum(len(s3.get(key)) for key in keys)


def bad_events(s3: S3Sandbox, planned: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    chunk = chunk_event(s3, planned, 0)
    chunk_uris = [s3.uri(f"renders/r1/chunks/chunk-{i:05d}.mp4") for i in range(CHUNKS)]
    assemble = assemble_event(s3, planned, chunk_uris, s3.uri("outputs/out.mp4"))
    project = s3.uri("projects/p.tar.gz")
    plan = plan_event(s3, project)
    return {
        "unknown action": ("INVALID_EVENT", {**chunk, "Action": "renderEverything"}),
        "missing fields": ("INVALID_EVENT", {"Action": "renderChunk", "ChunkIndex": 0}),
        "malformed chunk prefix": ("INVALID_EVENT", {**chunk, "ChunkOutputS3Prefix": s3.uri("renders/r1/chunks")}),
        "malformed chunk uri": ("INVALID_EVENT", {**assemble, "ChunkS3Uris": ["s3:/nope", *chunk_uris[1:]]}),
        "malformed project uri": ("INVALID_EVENT", {**plan, "ProjectS3Uri": "projects/p.tar.gz"}),
        "bad config": ("INVALID_CONFIG", {**plan, "Config": {"fps": 121}}),
        "project in another bucket": (
            "S3_URI_NOT_ALLOWED",
            {**plan, "ProjectS3Uri": s3.uri("p.tar.gz", s3.other_bucket)},
        ),
        "plan output in another bucket": (
            "S3_URI_NOT_ALLOWED",
            {**plan, "PlanOutputS3Prefix": s3.uri("plans/", s3.other_bucket)},
        ),
        "chunk output in another bucket": (
            "S3_URI_NOT_ALLOWED",
            {**chunk, "ChunkOutputS3Prefix": s3.uri("chunks/", s3.other_bucket)},
        ),
        "assemble output in another bucket": (
            "S3_URI_NOT_ALLOWED",
            {**assemble, "OutputS3Uri": s3.uri("out.mp4", s3.other_bucket)},
        ),
        "tampered chunk plan hash": ("PLAN_HASH_MISMATCH", {**chunk, "PlanHash": "f" * 64}),
        "tampered assemble plan hash": ("PLAN_HASH_MISMATCH", {**assemble, "PlanHash": "f" * 64}),
        "chunk index out of range": ("CHUNK_INDEX_OUT_OF_RANGE", {**chunk, "ChunkIndex": CHUNKS}),
        "too few chunk uris": ("INVALID_EVENT", {**assemble, "ChunkS3Uris": chunk_uris[:2]}),
        "chunk format differs from the plan": ("INVALID_EVENT", {**chunk, "Format": "webm"}),
        "assemble format differs from the plan": ("INVALID_EVENT", {**assemble, "Format": "mov"}),
        "chunks not rendered": ("MISSING_PLAN_ARTIFACT", assemble),
        "missing project": ("INVALID_EVENT", {**plan, "ProjectS3Uri": s3.uri("projects/none.tar.gz")}),
        "missing manifest": (
            "MISSING_PLAN_ARTIFACT",
            {**chunk, "PlanManifestS3Uri": s3.uri(f"renders/none/{MANIFEST_NAME}")},
        ),
    }


BAD_EVENT_CASES = [
    "unknown action",
    "missing fields",
    "malformed chunk prefix",
    "malformed chunk uri",
    "malformed project uri",
    "bad config",
    "project in another bucket",
    "plan output in another bucket",
    "chunk output in another bucket",
    "assemble output in another bucket",
    "tampered chunk plan hash",
    "tampered assemble plan hash",
    "chunk index out of range",
    "too few chunk uris",
    "chunk format differs from the plan",
    "assemble format differs from the plan",
    "chunks not rendered",
    "missing project",
    "missing manifest",
]


@pytest.mark.parametrize("case", BAD_EVENT_CASES)
def test_a_bad_event_fails_with_its_code_and_writes_nothing(
    s3: S3Sandbox, deps: Deps, planned: dict[str, Any], calls: Calls, case: str
) -> None:
    s3.put("p.tar.gz", s3.get("projects/p.tar.gz"), bucket=s3.other_bucket)  # a real project, wrong bucket
    code, event = bad_events(s3, planned)[case]
    before, calls_before = s3.snapshot(), list(calls.names)
    fails_with(code, event, deps)
    assert s3.snapshot() == before
    assert calls.names == calls_before, "no activity may run for a rejected event"
    assert list(deps.settings.work_root.iterdir()) == []


def test_every_bad_event_case_is_exercised(s3: S3Sandbox, planned: dict[str, Any]) -> None:
    assert sorted(bad_events(s3, planned)) == sorted(BAD_EVENT_CASES)


def hostile_tarball(path: Path, extra: tarfile.TarInfo) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("index.html")
        info.size = len(INDEX_HTML)
        tar.addfile(info, io.BytesIO(INDEX_HTML))
        tar.addfile(extra, io.BytesIO(b"evil") if extra.isreg() else None)
    return path


def _parent_entry() -> tarfile.TarInfo:
    info = tarfile.TarInfo("../../escaped.txt")
    info.size = 4
    return info


def _symlink_entry() -> tarfile.TarInfo:
    info = tarfile.TarInfo("assets")
    info.type, info.linkname = tarfile.SYMTYPE, "/etc"
    return info


@pytest.mark.parametrize("make_entry", [_parent_entry, _symlink_entry], ids=["dotdot", "symlink"])
def test_a_hostile_project_tarball_is_unsafe_and_writes_nothing(
    s3: S3Sandbox, deps: Deps, calls: Calls, tmp_path: Path, make_entry: Callable[[], tarfile.TarInfo]
) -> None:
    project_uri = s3.upload(hostile_tarball(tmp_path / "evil.tar.gz", make_entry()), "projects/evil.tar.gz")
    before = s3.snapshot()
    error = fails_with("UNSAFE_ARCHIVE", plan_event(s3, project_uri), deps)
    assert "archive member" in str(error)
    assert s3.snapshot() == before and calls.names == []
    assert not (deps.settings.work_root.parent / "escaped.txt").exists()
    assert list(deps.settings.work_root.iterdir()) == []


def test_an_edited_manifest_in_s3_is_a_plan_hash_mismatch(
    s3: S3Sandbox, deps: Deps, planned: dict[str, Any], calls: Calls
) -> None:
    key = f"renders/r1/plan/{MANIFEST_NAME}"
    manifest = json.loads(s3.get(key))
    manifest["entries"][0]["size"] += 1
    s3.put(key, json.dumps(manifest).encode())
    fails_with("PLAN_HASH_MISMATCH", chunk_event(s3, planned, 0), deps)
    assert calls.names == ["plan"]


def test_activity_errors_keep_their_code_and_retryable_flag(s3: S3Sandbox, deps: Deps, planned: dict[str, Any]) -> None:
    def failing(*args: Any, **kwargs: Any) -> Any:
        raise EncodeError("ffmpeg exited with 1: out of memory")

    before = s3.snapshot()
    error = fails_with("ENCODE_FAILED", chunk_event(s3, planned, 0), Deps(**{**vars(deps), "render_chunk": failing}))
    assert error.retryable and error.code == "ENCODE_FAILED"
    assert s3.snapshot() == before


def test_unknown_exceptions_become_a_retryable_internal_error(
    s3: S3Sandbox, deps: Deps, planned: dict[str, Any]
) -> None:
    def crashing(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("bug")

    with pytest.raises(FramecastLambdaError, match="RuntimeError: bug") as caught:
        dispatch(chunk_event(s3, planned, 0), Deps(**{**vars(deps), "render_chunk": crashing}))
    assert type(caught.value).__name__ == "INTERNAL_ERROR" and caught.value.retryable
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert list(deps.settings.work_root.iterdir()) == []


def test_lambda_error_classes_are_named_by_code_and_built_once() -> None:
    cls = lambda_error_class("PLAN_HASH_MISMATCH")
    assert cls is lambda_error_class("PLAN_HASH_MISMATCH")
    assert (cls.__name__, cls.__qualname__, cls.code, cls.retryable) == (
        "PLAN_HASH_MISMATCH",
        "PLAN_HASH_MISMATCH",
        "PLAN_HASH_MISMATCH",
        False,
    )
    assert issubclass(cls, FramecastLambdaError) and not issubclass(cls, FramecastError)
    assert lambda_error_class("STORAGE_ERROR").retryable


def test_the_handler_entry_point_reads_its_deps_from_the_environment(s3: S3Sandbox) -> None:
    with pytest.raises(FramecastLambdaError) as caught:
        handler({"Action": "plan", "ProjectS3Uri": s3.uri("p.tar.gz", s3.other_bucket)}, None)
    assert type(caught.value).__name__ == "INVALID_EVENT"
    event = plan_event(s3, s3.uri("p.tar.gz", s3.other_bucket))
    with pytest.raises(FramecastLambdaError) as caught:
        handler(event, None)
    assert type(caught.value).__name__ == "S3_URI_NOT_ALLOWED"


def test_a_misconfigured_function_fails_with_invalid_config(
    s3: S3Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRAMECAST_MAX_ARCHIVE_BYTES", "0")
    default_deps.cache_clear()  # the s3 fixture clears it again afterwards
    get_settings.cache_clear()
    with pytest.raises(FramecastLambdaError) as caught:
        handler(plan_event(s3, s3.uri("projects/p.tar.gz")), None)
    assert type(caught.value).__name__ == "INVALID_CONFIG"
    assert "FRAMECAST_MAX_ARCHIVE_BYTES" in str(caught.value)


def test_the_warm_browser_is_never_shut_down(
    s3: S3Sandbox, deps: Deps, planned: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.engine import chrome

    shutdowns: list[str] = []
    monkeypatch.setattr(chrome, "shutdown_browser", lambda: shutdowns.append("shutdown"))
    monkeypatch.setattr(chrome, "_close", lambda warm: shutdowns.append("close"))
    for index in range(CHUNKS):
        dispatch(chunk_event(s3, planned, index), deps)
    with pytest.raises(FramecastLambdaError):
        dispatch({**chunk_event(s3, planned, 0), "PlanHash": "e" * 64}, deps)
    assert shutdowns == []


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """What the handler's Powertools logger writes, as JSON lines."""
    stream = io.StringIO()
    capture = logging.StreamHandler(stream)
    capture.setFormatter(logger.registered_formatter)
    logging.getLogger(logger.name).addHandler(capture)
    try:
        yield stream
    finally:
        logging.getLogger(logger.name).removeHandler(capture)


def test_logs_carry_routing_keys_and_codes_but_never_variables(
    s3: S3Sandbox, deps: Deps, tmp_path: Path, log_stream: io.StringIO
) -> None:
    event = plan_event(s3, upload_project(s3, tmp_path), variables={"password": "hunter2-secret"})
    planned = dispatch(event, deps)
    fails_with("PLAN_HASH_MISMATCH", {**chunk_event(s3, planned, 1), "PlanHash": "d" * 64}, deps)
    text = log_stream.getvalue()
    records = [json.loads(line) for line in text.splitlines()]
    assert "hunter2-secret" not in text
    finished = next(r for r in records if r["message"] == "action finished")
    assert finished["action"] == "plan" and finished["uris"]["ProjectS3Uri"] == event["ProjectS3Uri"]
    failed = next(r for r in records if r["message"] == "action failed")
    assert failed["error_code"] == "PLAN_HASH_MISMATCH" and failed["chunk_index"] == 1
    assert failed["plan_hash"] == "d" * 12
    assert "chunk_index" not in finished  # keys of one invocation do not leak into the next
