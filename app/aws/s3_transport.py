"""The S3 adapter: the only module that speaks boto3, and where its errors become framecast errors.

``S3Transport`` moves files between local paths and ``S3Uri``s through one lazily built client
(boto3 reads ``AWS_ENDPOINT_URL``, credentials and region from the environment, so moto, LocalStack
and AWS need no code change). ``S3ArtifactStore`` implements the plan ``ArtifactStore`` protocol:
immutable blobs at ``<prefix>blobs/<sha256>`` created conditionally (``If-None-Match: *``), and the
manifest at ``<prefix>plan-manifest.json``, written last by ``manifest.publish``.

Every botocore/boto3 exception is translated here, chained: a missing object becomes the error the
caller chose (MISSING_PLAN_ARTIFACT by default), anything else STORAGE_ERROR (retryable). Nothing
above this module catches a botocore type. S3 makes a PUT (and a multipart upload, on completion)
visible all at once, so readers never see a partial object.
"""

from __future__ import annotations

import contextlib
import functools
import mimetypes
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from app.aws.archive import pack_project
from app.aws.s3_uri import S3Uri, parse_object_uri, parse_prefix_uri
from app.distributed.manifest import MANIFEST_NAME, PlanManifest, manifest_bytes, parse_manifest
from app.errors import FramecastError, MissingPlanArtifactError, StorageError

if TYPE_CHECKING:
    from boto3.s3.transfer import TransferConfig
    from mypy_boto3_s3 import S3Client

MissingError = Callable[[str], FramecastError]
MIB = 1024**2
_NOT_FOUND = frozenset({"NoSuchKey", "404", "NotFound"})
_COPY_BLOCK = 1 << 20


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextlib.contextmanager
def _s3_errors(operation: str, uri: S3Uri, missing: MissingError | None = None) -> Iterator[None]:
    """Translate boto3/botocore exceptions raised inside the block (the one place that does)."""
    from boto3.exceptions import Boto3Error  # imported here, not at load: see ``_new_client``

    try:
        yield
    except ClientError as exc:
        code = _error_code(exc)
        if missing is not None and code in _NOT_FOUND:
            raise missing(str(uri)) from exc
        message = exc.response.get("Error", {}).get("Message", "")
        raise StorageError(
            f"S3 {operation} of {uri} failed ({code}: {message}); check that the bucket exists and the function "
            "may access it"
        ) from exc
    except (BotoCoreError, Boto3Error) as exc:
        raise StorageError(
            f"S3 {operation} of {uri} failed: {exc}; check the endpoint, credentials and network"
        ) from exc


# boto3 costs about 0.3 s to import: paid by the first S3 call, not by every process that imports this
# module (the CLI's local renders and their chunk workers never touch S3).
def _new_client() -> S3Client:
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=10, read_timeout=120)
    return boto3.session.Session().client("s3", config=config)


@functools.cache
def _transfer_config() -> TransferConfig:
    from boto3.s3.transfer import TransferConfig

    # Large parts keep ETags plain MD5s for typical chunk sizes and cut request counts for big outputs.
    return TransferConfig(multipart_threshold=64 * MIB, multipart_chunksize=64 * MIB)


def _missing_object(uri: str) -> FramecastError:
    return MissingPlanArtifactError(f"{uri} does not exist; run the step that writes it first")


class S3Transport:
    """File transfers to and from S3 over one client, built on first use and kept (warm containers)."""

    def __init__(self, client: S3Client | None = None) -> None:
        self._client = client
        self._lock = threading.Lock()

    @property
    def client(self) -> S3Client:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    # A private session: boto3's default session is not safe to share between threads.
                    self._client = _new_client()
        return self._client

    def exists(self, uri: S3Uri) -> bool:
        try:
            with _s3_errors("head", uri, missing=_missing_object):
                self.client.head_object(Bucket=uri.bucket, Key=uri.key)
        except MissingPlanArtifactError:
            return False
        return True

    def download_file(self, uri: S3Uri, dest: Path, *, missing: MissingError = _missing_object) -> int:
        """Stream the object to ``dest`` (replaced atomically); return its size."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
        try:
            with os.fdopen(fd, "wb") as out, _s3_errors("download", uri, missing):
                body = self.client.get_object(Bucket=uri.bucket, Key=uri.key)["Body"]
                shutil.copyfileobj(body, out, _COPY_BLOCK)
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return dest.stat().st_size

    def read_bytes(self, uri: S3Uri, *, missing: MissingError = _missing_object) -> bytes:
        with _s3_errors("download", uri, missing):
            return self.client.get_object(Bucket=uri.bucket, Key=uri.key)["Body"].read()

    def put_bytes(self, uri: S3Uri, data: bytes, content_type: str = "application/octet-stream") -> None:
        with _s3_errors("upload", uri):
            self.client.put_object(Bucket=uri.bucket, Key=uri.key, Body=data, ContentType=content_type)

    def upload_file_atomic(self, source: Path, uri: S3Uri, content_type: str | None = None) -> int:
        """Upload ``source`` to ``uri`` (visible all at once, complete or not at all); return its size.

        Idempotent when ``uri`` is deterministic: a retried task overwrites the object with the same bytes.
        """
        kind = content_type or mimetypes.guess_type(source.name)[0] or "application/octet-stream"
        with _s3_errors("upload", uri):
            self.client.upload_file(
                str(source), uri.bucket, uri.key, ExtraArgs={"ContentType": kind}, Config=_transfer_config()
            )
        return source.stat().st_size

    def upload_folder(self, folder: Path, prefix: S3Uri) -> int:
        """Upload every file under ``folder`` below the prefix URI, keeping relative paths; return total bytes."""
        total = 0
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            total += self.upload_file_atomic(path, prefix.child(path.relative_to(folder).as_posix()))
        return total

    def upload_project(self, project_dir: Path, uri: S3Uri) -> int:
        """Pack ``project_dir`` as a reproducible tar.gz and upload it to ``uri``; return the archive size."""
        archive = pack_project(project_dir)
        try:
            return self.upload_file_atomic(archive, uri, content_type="application/gzip")
        finally:
            archive.unlink(missing_ok=True)

    def create_if_absent(self, uri: S3Uri, source: Path) -> None:
        """Create an immutable, content-addressed object; if it already exists it already holds these bytes."""
        with _s3_errors("conditional upload", uri):
            try:
                with source.open("rb") as body:
                    self.client.put_object(Bucket=uri.bucket, Key=uri.key, Body=body, IfNoneMatch="*")
            except ClientError as exc:
                code = _error_code(exc)
                if code == "PreconditionFailed":  # another writer created this exact blob first
                    return
                if code == "ConditionalRequestConflict" and self.exists(uri):  # a concurrent create won
                    return
                if code not in ("NotImplemented", "InvalidArgument", "InvalidRequest"):
                    raise
                # The endpoint lacks conditional writes: head, then put (a race only rewrites equal bytes).
                if not self.exists(uri):
                    with source.open("rb") as body:
                        self.client.put_object(Bucket=uri.bucket, Key=uri.key, Body=body)


class S3ArtifactStore:
    """A plan ``ArtifactStore`` under ``s3://<bucket>/<prefix>`` (prefix empty or ending in '/')."""

    def __init__(self, bucket: str, prefix: str, transport: S3Transport | None = None) -> None:
        self.root = parse_prefix_uri(str(S3Uri(bucket, prefix)))
        self.transport = transport or S3Transport()

    @classmethod
    def for_manifest(cls, manifest_uri: S3Uri, transport: S3Transport | None = None) -> S3ArtifactStore:
        """The store a manifest URI (``<prefix>plan-manifest.json``) belongs to."""
        if not manifest_uri.key.endswith(MANIFEST_NAME):
            raise ValueError(f"{manifest_uri} is not a {MANIFEST_NAME}")
        return cls(manifest_uri.bucket, manifest_uri.key[: -len(MANIFEST_NAME)], transport)

    @property
    def manifest_uri(self) -> S3Uri:
        return self.root.child(MANIFEST_NAME)

    def blob_uri(self, sha256: str) -> S3Uri:
        return self.root.child(f"blobs/{sha256}")

    def has_blob(self, sha256: str) -> bool:
        return self.transport.exists(self.blob_uri(sha256))

    def put_blob(self, sha256: str, source: Path) -> None:
        self.transport.create_if_absent(self.blob_uri(sha256), source)

    def get_blob(self, sha256: str, dest: Path) -> None:
        def missing(uri: str) -> FramecastError:
            return MissingPlanArtifactError(f"plan blob {uri} is missing; publish the plan again (re-run plan)")

        self.transport.download_file(self.blob_uri(sha256), dest, missing=missing)

    def put_manifest(self, manifest: PlanManifest) -> str:
        self.transport.put_bytes(self.manifest_uri, manifest_bytes(manifest), "application/json")
        return str(self.manifest_uri)

    def get_manifest(self, ref: str) -> PlanManifest:
        try:
            uri = parse_object_uri(ref)
        except ValueError as exc:
            raise MissingPlanArtifactError(f"plan manifest reference {ref[:200]!r} is not an S3 URI: {exc}") from exc

        def missing(text: str) -> FramecastError:
            return MissingPlanArtifactError(f"plan manifest {text} does not exist; run plan first")

        return parse_manifest(self.transport.read_bytes(uri, missing=missing), ref)
