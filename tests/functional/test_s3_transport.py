"""The S3 adapter against moto's server (real HTTP): plan publication, integrity, error translation."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from app.aws.archive import extract_archive
from app.aws.s3_transport import S3ArtifactStore, S3Transport
from app.aws.s3_uri import S3Uri, check_allowed
from app.aws.settings import Settings
from app.distributed.manifest import (
    MANIFEST_NAME,
    ROLE_ALL_CHUNKS,
    ROLE_ASSEMBLE,
    LocalBlobStore,
    build_manifest,
    chunk_role,
    manifest_bytes,
    materialize,
    publish,
    write_atomic,
)
from app.errors import (
    InvalidEventError,
    MissingPlanArtifactError,
    PlanArtifactDigestMismatchError,
    S3UriNotAllowedError,
    StorageError,
)
from tests.support import moto_server
from tests.support.moto_server import S3Sandbox
from tests.support.s3_backends import free_port

moto_endpoint = moto_server.moto_endpoint  # pytest fixtures this module uses
s3 = moto_server.s3
PREFIX = "renders/r-1/plan/"


def make_plan(root: Path) -> Path:
    """A small finished plan: shared files, a per-chunk frame, an assembler-only audio file, a manifest."""
    plan_dir = root / "plan"
    files = {
        "project/index.html": b"<div id='root'></div>",
        "meta/plan.json": b'{"fps": 30}',
        "frames/v0/000001.jpg": b"frame-for-chunk-0",
        "frames/v0/000002.jpg": b"frame-for-chunk-1",
        "audio.m4a": b"\0audio" * 100,
        "copy-of-index.html": b"<div id='root'></div>",  # same bytes as another file: one blob
    }
    for name, data in files.items():
        write_atomic(plan_dir / name, data)
    roles = {
        "frames/v0/000001.jpg": (chunk_role(0),),
        "frames/v0/000002.jpg": (chunk_role(1),),
        "audio.m4a": (ROLE_ASSEMBLE,),
        "meta/plan.json": (ROLE_ALL_CHUNKS, ROLE_ASSEMBLE),
    }
    manifest = build_manifest(plan_dir, roles, chunk_count=2)
    write_atomic(plan_dir / MANIFEST_NAME, manifest_bytes(manifest))
    return plan_dir


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def store_for(s3: S3Sandbox) -> S3ArtifactStore:
    return S3ArtifactStore(s3.bucket, PREFIX, S3Transport())


def test_publish_and_materialize_round_trip_like_the_local_store(s3: S3Sandbox, tmp_path: Path) -> None:
    plan_dir = make_plan(tmp_path)
    store = store_for(s3)
    ref = publish(plan_dir, store)
    assert ref == s3.uri(PREFIX + MANIFEST_NAME)
    manifest = store.get_manifest(ref)
    blob_keys = {f"{PREFIX}blobs/{entry.sha256}" for entry in manifest.entries}
    assert s3.list_keys() == sorted([*blob_keys, PREFIX + MANIFEST_NAME])
    assert len(blob_keys) == len(manifest.entries) - 1  # identical files share one content-addressed blob

    local = LocalBlobStore(tmp_path / "local-store")
    local_ref = publish(plan_dir, local)
    for role in (chunk_role(0), chunk_role(1), ROLE_ASSEMBLE):
        from_s3 = materialize(store, ref, role, tmp_path / "s3" / role.replace(":", "-"))
        from_local = materialize(local, local_ref, role, tmp_path / "local" / role.replace(":", "-"))
        assert from_s3 == from_local
        assert tree(tmp_path / "s3" / role.replace(":", "-")) == tree(tmp_path / "local" / role.replace(":", "-"))
    chunk0 = tree(tmp_path / "s3" / "chunk-0")
    assert "frames/v0/000001.jpg" in chunk0 and "frames/v0/000002.jpg" not in chunk0 and "audio.m4a" not in chunk0
    assert "audio.m4a" in tree(tmp_path / "s3" / "assemble")


def test_a_corrupt_blob_is_caught_on_materialize(s3: S3Sandbox, tmp_path: Path) -> None:
    store = store_for(s3)
    ref = publish(make_plan(tmp_path), store)
    entry = next(e for e in store.get_manifest(ref).entries if e.path == "meta/plan.json")
    s3.put(f"{PREFIX}blobs/{entry.sha256}", b'{"fps": 60}')
    with pytest.raises(PlanArtifactDigestMismatchError, match=r"meta/plan\.json"):
        materialize(store, ref, chunk_role(0), tmp_path / "dest")
    assert not (tmp_path / "dest" / "meta" / "plan.json").exists()


def test_a_missing_blob_or_manifest_is_a_missing_plan_artifact(s3: S3Sandbox, tmp_path: Path) -> None:
    store = store_for(s3)
    ref = publish(make_plan(tmp_path), store)
    entry = next(e for e in store.get_manifest(ref).entries if e.path == "audio.m4a")
    s3.client.delete_object(Bucket=s3.bucket, Key=f"{PREFIX}blobs/{entry.sha256}")
    materialize(store, ref, chunk_role(0), tmp_path / "chunk")  # chunks do not need the audio
    with pytest.raises(MissingPlanArtifactError, match="publish the plan again") as caught:
        materialize(store, ref, ROLE_ASSEMBLE, tmp_path / "assemble")
    assert isinstance(caught.value.__cause__, ClientError)
    with pytest.raises(MissingPlanArtifactError, match="run plan first"):
        store.get_manifest(s3.uri("renders/nothing-here/" + MANIFEST_NAME))


def test_conditional_create_twice_keeps_the_first_blob(s3: S3Sandbox, tmp_path: Path) -> None:
    store = store_for(s3)
    first, second = tmp_path / "first", tmp_path / "second"
    first.write_bytes(b"content")
    second.write_bytes(b"other bytes under the same name")
    sha = hashlib.sha256(b"content").hexdigest()
    store.put_blob(sha, first)
    etag = s3.etag(f"{PREFIX}blobs/{sha}")
    store.put_blob(sha, first)  # the second writer of a blob gets 412 and treats it as done
    store.put_blob(sha, second)  # If-None-Match held: nothing was overwritten
    assert s3.get(f"{PREFIX}blobs/{sha}") == b"content"
    assert s3.etag(f"{PREFIX}blobs/{sha}") == etag
    assert store.has_blob(sha) and not store.has_blob("0" * 64)


class _NoConditionalWrites:
    """Wraps a client like an S3-compatible endpoint that does not implement If-None-Match."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.refused = 0

    def put_object(self, **kwargs: Any) -> Any:
        if "IfNoneMatch" in kwargs:
            self.refused += 1
            error = {"Error": {"Code": "NotImplemented", "Message": "no conditional writes"}}
            raise ClientError(error, "PutObject")  # type: ignore[arg-type]
        return self._client.put_object(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_conditional_create_falls_back_to_head_then_put(s3: S3Sandbox, tmp_path: Path) -> None:
    client = _NoConditionalWrites(S3Transport().client)
    store = S3ArtifactStore(s3.bucket, PREFIX, S3Transport(client))
    source = tmp_path / "blob"
    source.write_bytes(b"payload")
    sha = hashlib.sha256(b"payload").hexdigest()
    store.put_blob(sha, source)
    store.put_blob(sha, source)
    assert client.refused == 2
    assert s3.get(f"{PREFIX}blobs/{sha}") == b"payload"


def test_a_uri_in_another_bucket_is_not_allowed(s3: S3Sandbox) -> None:
    settings = Settings()  # reads FRAMECAST_BUCKET_ALLOWLIST, which the fixture set to s3.bucket
    check_allowed([("OutputS3Uri", S3Uri(s3.bucket, "outputs/a.mp4"))], settings)
    with pytest.raises(S3UriNotAllowedError) as caught:
        check_allowed([("OutputS3Uri", S3Uri(s3.other_bucket, "outputs/a.mp4"))], settings)
    assert s3.other_bucket in caught.value.message and "FRAMECAST_BUCKET_ALLOWLIST" in caught.value.message


def test_project_upload_download_and_extract(s3: S3Sandbox, tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "assets").mkdir(parents=True)
    (project / "index.html").write_text("<div id='root'></div>")
    (project / "assets" / "a.css").write_text("body{}")
    (project / "node_modules").mkdir()
    (project / "node_modules" / "big.js").write_text("x" * 1000)
    transport = S3Transport()
    uri = S3Uri(s3.bucket, "projects/p.tar.gz")
    transport.upload_project(project, uri)
    etag = s3.etag("projects/p.tar.gz")
    transport.upload_project(project, uri)
    assert s3.etag("projects/p.tar.gz") == etag  # reproducible archive: same object
    transport.download_file(uri, tmp_path / "p.tar.gz")
    out = extract_archive(tmp_path / "p.tar.gz", tmp_path / "out", max_bytes=10**6, max_members=10)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "assets/a.css",
        "index.html",
    ]


def test_a_failed_download_leaves_no_file(s3: S3Sandbox, tmp_path: Path) -> None:
    dest = tmp_path / "dl" / "x.mp4"

    def missing(uri: str) -> InvalidEventError:
        return InvalidEventError(f"{uri} is gone")

    with pytest.raises(InvalidEventError, match="is gone"):
        S3Transport().download_file(S3Uri(s3.bucket, "no/such.mp4"), dest, missing=missing)
    assert list(dest.parent.iterdir()) == []


def test_other_s3_failures_become_retryable_storage_errors(s3: S3Sandbox, tmp_path: Path) -> None:
    source = tmp_path / "f.bin"
    source.write_bytes(b"x")
    with pytest.raises(StorageError, match="NoSuchBucket") as caught:
        S3Transport().upload_file_atomic(source, S3Uri("fc-no-such-bucket", "k.bin"))
    assert caught.value.retryable and caught.value.__cause__ is not None
    with pytest.raises(StorageError, match="NoSuchBucket"):
        S3Transport().put_bytes(S3Uri("fc-no-such-bucket", "k.json"), b"{}")


def test_an_unreachable_endpoint_is_a_storage_error(s3: S3Sandbox, tmp_path: Path) -> None:
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=1),
    )
    with pytest.raises(StorageError, match="check the endpoint") as caught:
        S3Transport(client).download_file(S3Uri(s3.bucket, "k"), tmp_path / "k")
    assert caught.value.code == "STORAGE_ERROR"
