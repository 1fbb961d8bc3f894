"""moto S3 in server mode for the AWS adapter's tests: a real HTTP endpoint, reached through AWS_ENDPOINT_URL.

The server itself comes from ``tests.support.s3_backends.moto_server`` (one per test module that
imports ``moto_endpoint``). ``s3`` points the environment of one test at it (endpoint, fake
credentials, region, ``FRAMECAST_BUCKET_ALLOWLIST``), creates a fresh allowed bucket plus a fresh
*other* bucket that is not allowed, and clears the cached settings and default handler deps so code
under test reads that environment. ``snapshot()`` lists every object of both buckets with its ETag,
which is how tests prove that a rejected event wrote nothing.

Use it from a test module (assigning the fixtures makes pytest register them there)::

    from tests.support import moto_server

    moto_endpoint = moto_server.moto_endpoint
    s3 = moto_server.s3
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.s3_backends import S3Endpoint, moto_server


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[S3Endpoint]:
    with moto_server() as endpoint:
        yield endpoint


@dataclass
class S3Sandbox:
    endpoint: S3Endpoint
    client: Any
    bucket: str  # allowed
    other_bucket: str  # exists, but not in the allowlist

    def uri(self, key: str, bucket: str | None = None) -> str:
        return f"s3://{bucket or self.bucket}/{key}"

    def put(self, key: str, data: bytes, bucket: str | None = None) -> None:
        self.client.put_object(Bucket=bucket or self.bucket, Key=key, Body=data)

    def get(self, key: str, bucket: str | None = None) -> bytes:
        return bytes(self.client.get_object(Bucket=bucket or self.bucket, Key=key)["Body"].read())

    def upload(self, path: Path, key: str) -> str:
        self.client.upload_file(str(path), self.bucket, key)
        return self.uri(key)

    def list_keys(self, bucket: str | None = None) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket or self.bucket)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def etag(self, key: str) -> str:
        return str(self.client.head_object(Bucket=self.bucket, Key=key)["ETag"])

    def snapshot(self) -> dict[str, str]:
        """``bucket/key`` → ETag for every object in both buckets."""
        found = {}
        for bucket in (self.bucket, self.other_bucket):
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for page in pages:
                for item in page.get("Contents", []):
                    found[f"{bucket}/{item['Key']}"] = item["ETag"]
        return found


def _clear_process_caches() -> None:
    from app.aws.handler import default_deps
    from app.aws.settings import get_settings

    get_settings.cache_clear()
    default_deps.cache_clear()


@pytest.fixture
def s3(moto_endpoint: S3Endpoint, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[S3Sandbox]:
    for name, value in moto_endpoint.env().items():
        monkeypatch.setenv(name, value)
    # Never let a developer's ~/.aws profile leak into a test.
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    suffix = uuid.uuid4().hex[:12]
    sandbox = S3Sandbox(moto_endpoint, moto_endpoint.client(), f"fc-allowed-{suffix}", f"fc-other-{suffix}")
    sandbox.client.create_bucket(Bucket=sandbox.bucket)
    sandbox.client.create_bucket(Bucket=sandbox.other_bucket)
    monkeypatch.setenv("FRAMECAST_BUCKET_ALLOWLIST", sandbox.bucket)
    monkeypatch.delenv("FRAMECAST_ALLOW_ANY_BUCKET", raising=False)
    monkeypatch.setenv("FRAMECAST_WORK_ROOT", str(tmp_path / "lambda-tmp"))
    _clear_process_caches()
    yield sandbox
    _clear_process_caches()
