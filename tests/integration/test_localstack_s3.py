"""The S3 behaviour framecast relies on, checked against every S3 backend the tests and compose use.

Each test runs once on moto's server and once on LocalStack (skipped without a Docker engine), so a
difference between the two — or a LocalStack upgrade that changes one — shows up here first.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.s3_backends import S3Endpoint

MIB = 1024 * 1024
PART_SIZE = 5 * MIB  # S3's minimum size for every part but the last


@pytest.fixture
def s3(s3_endpoint: S3Endpoint) -> Any:
    return s3_endpoint.client()


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"framecast-test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def _error_code(exc: ClientError) -> str:
    return str(exc.response["Error"]["Code"])


def test_created_bucket_is_listed(s3: Any, bucket: str) -> None:
    names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert bucket in names


def test_put_then_get_returns_the_same_bytes(s3: Any, bucket: str) -> None:
    body = b"plan manifest \x00\xff" * 100
    s3.put_object(Bucket=bucket, Key="renders/r1/manifest.json", Body=body)

    got = s3.get_object(Bucket=bucket, Key="renders/r1/manifest.json")

    assert got["Body"].read() == body
    assert got["ContentLength"] == len(body)


def test_head_of_a_missing_key_is_404(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as info:
        s3.head_object(Bucket=bucket, Key="renders/none/manifest.json")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_conditional_put_refuses_to_overwrite_an_existing_key(s3_endpoint: S3Endpoint, s3: Any, bucket: str) -> None:
    if not s3_endpoint.supports_conditional_writes:
        pytest.skip(f"{s3_endpoint.backend} ignores If-None-Match on PutObject")
    key = "blobs/sha256/aa"
    s3.put_object(Bucket=bucket, Key=key, Body=b"first", IfNoneMatch="*")

    with pytest.raises(ClientError) as info:
        s3.put_object(Bucket=bucket, Key=key, Body=b"second", IfNoneMatch="*")

    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert _error_code(info.value) == "PreconditionFailed"
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"first"


def test_conditional_put_creates_a_missing_key(s3_endpoint: S3Endpoint, s3: Any, bucket: str) -> None:
    if not s3_endpoint.supports_conditional_writes:
        pytest.skip(f"{s3_endpoint.backend} ignores If-None-Match on PutObject")
    s3.put_object(Bucket=bucket, Key="outputs/once.mp4", Body=b"only", IfNoneMatch="*")
    assert s3.get_object(Bucket=bucket, Key="outputs/once.mp4")["Body"].read() == b"only"


def test_multipart_upload_of_6_mib_reassembles_exactly(s3: Any, bucket: str) -> None:
    # Deterministic, incompressible-looking bytes; 6 MiB = one 5 MiB part + one 1 MiB tail.
    body = b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(6 * MIB // 32))
    assert len(body) == 6 * MIB
    key = "renders/r1/chunks/00000.mp4"

    upload = s3.create_multipart_upload(Bucket=bucket, Key=key)
    parts = []
    for number, start in enumerate(range(0, len(body), PART_SIZE), start=1):
        part = s3.upload_part(
            Bucket=bucket,
            Key=key,
            UploadId=upload["UploadId"],
            PartNumber=number,
            Body=body[start : start + PART_SIZE],
        )
        parts.append({"PartNumber": number, "ETag": part["ETag"]})
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
    )

    assert len(parts) == 2
    assert done["ETag"].strip('"').endswith("-2")  # S3's multipart ETag: md5-of-md5s "-" part count
    got = s3.get_object(Bucket=bucket, Key=key)
    assert got["ContentLength"] == 6 * MIB
    assert hashlib.sha256(got["Body"].read()).digest() == hashlib.sha256(body).digest()
