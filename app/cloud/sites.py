"""Sites: projects uploaded once to a stack's bucket, content-addressed, for renders to reuse.

A site is the project packed by ``pack_project`` (reproducible: same files → same bytes), stored at
``s3://<bucket>/sites/<site id>/project.tar.gz`` with a small ``site.json`` beside it (name, size,
time). The site id is ``s-`` + the first 20 hex digits of the archive's SHA-256, so uploading the same
files again finds the existing site and uploads nothing. ``sites/`` has no lifecycle rule: a site
lives until ``remove_site``.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from pydantic import BaseModel, ConfigDict

from app.aws.archive import pack_project
from app.aws.s3_transport import S3Transport
from app.aws.s3_uri import S3Uri
from app.cloud.session import AwsClients, aws_call
from app.cloud.stack import StackState, stack_clients
from app.errors import InputError, SiteNotFoundError

SITES_PREFIX: Final = "sites/"
ARCHIVE_NAME: Final = "project.tar.gz"
INFO_NAME: Final = "site.json"
SITE_ID = re.compile(r"^s-[0-9a-f]{20}$")


class Site(BaseModel):
    """One uploaded project. ``uploaded`` says whether this call sent the bytes (False: reused)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    site_id: str
    bucket: str
    name: str
    size_bytes: int
    created_at: datetime | None = None
    uploaded: bool = False

    @property
    def project_s3_uri(self) -> str:
        return f"s3://{self.bucket}/{archive_key(self.site_id)}"


def check_site_id(site_id: str) -> str:
    if not SITE_ID.match(site_id):
        raise InputError(
            f"site id {site_id!r} is not a framecast site id (s- and 20 hex digits); "
            "list them with 'framecast lambda sites ls'"
        )
    return site_id


def archive_key(site_id: str) -> str:
    return f"{SITES_PREFIX}{site_id}/{ARCHIVE_NAME}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def create_site(state: StackState, project_dir: Path, *, aws: AwsClients | None = None) -> Site:
    """Upload ``project_dir`` unless a site with exactly these files exists; return the site."""
    aws = aws or stack_clients(state)
    transport = S3Transport(aws.s3)
    archive = pack_project(project_dir)
    try:
        site_id = "s-" + _sha256(archive)[:20]
        uri = S3Uri(state.bucket, archive_key(site_id))
        size = archive.stat().st_size
        name = project_dir.resolve().name
        if transport.exists(uri):
            return Site(site_id=site_id, bucket=state.bucket, name=name, size_bytes=size)
        created = datetime.now(UTC).replace(microsecond=0)
        transport.upload_file_atomic(archive, uri, content_type="application/gzip")
    finally:
        archive.unlink(missing_ok=True)
    info = {"name": name, "sizeBytes": size, "createdAt": created.isoformat()}
    transport.put_bytes(
        S3Uri(state.bucket, f"{SITES_PREFIX}{site_id}/{INFO_NAME}"), json.dumps(info).encode(), "application/json"
    )
    return Site(site_id=site_id, bucket=state.bucket, name=name, size_bytes=size, created_at=created, uploaded=True)


def _read_info(aws: AwsClients, bucket: str, site_id: str) -> dict[str, object]:
    with aws_call("s3:GetObject"):
        try:
            body = aws.s3.get_object(Bucket=bucket, Key=f"{SITES_PREFIX}{site_id}/{INFO_NAME}")["Body"].read()
        except aws.s3.exceptions.NoSuchKey:
            return {}
    try:
        info = json.loads(body)
    except ValueError:
        return {}
    return info if isinstance(info, dict) else {}


def get_site(state: StackState, site_id: str, *, aws: AwsClients | None = None) -> Site:
    """The site ``site_id``; SITE_NOT_FOUND when its archive is not in the bucket."""
    aws = aws or stack_clients(state)
    check_site_id(site_id)
    if not S3Transport(aws.s3).exists(S3Uri(state.bucket, archive_key(site_id))):
        raise SiteNotFoundError(
            f"site {site_id} is not in stack {state.stack}'s bucket {state.bucket}; "
            "list sites with 'framecast lambda sites ls' or create one with 'framecast lambda sites create PROJECT'"
        )
    return _site_from_info(state.bucket, site_id, _read_info(aws, state.bucket, site_id))


def _site_from_info(bucket: str, site_id: str, info: dict[str, object]) -> Site:
    created = info.get("createdAt")
    size = info.get("sizeBytes")
    return Site(
        site_id=site_id,
        bucket=bucket,
        name=str(info.get("name") or "?"),
        size_bytes=size if isinstance(size, int) else 0,
        created_at=datetime.fromisoformat(created) if isinstance(created, str) else None,
    )


def list_sites(state: StackState, *, aws: AwsClients | None = None) -> list[Site]:
    """Every site in the stack's bucket, newest first."""
    aws = aws or stack_clients(state)
    ids: list[str] = []
    with aws_call("s3:ListObjectsV2"):
        pages = aws.s3.get_paginator("list_objects_v2").paginate(
            Bucket=state.bucket, Prefix=SITES_PREFIX, Delimiter="/"
        )
        for page in pages:
            for prefix in page.get("CommonPrefixes", []):
                candidate = prefix.get("Prefix", "")[len(SITES_PREFIX) :].rstrip("/")
                if SITE_ID.match(candidate):
                    ids.append(candidate)
    sites = [_site_from_info(state.bucket, site_id, _read_info(aws, state.bucket, site_id)) for site_id in ids]
    oldest = datetime.min.replace(tzinfo=UTC)
    return sorted(sites, key=lambda site: site.created_at or oldest, reverse=True)


def remove_site(state: StackState, site_id: str, *, aws: AwsClients | None = None) -> int:
    """Delete the site's objects; return how many were deleted (SITE_NOT_FOUND when none existed)."""
    aws = aws or stack_clients(state)
    check_site_id(site_id)
    deleted = delete_prefix(aws, state.bucket, f"{SITES_PREFIX}{site_id}/")
    if deleted == 0:
        raise SiteNotFoundError(
            f"site {site_id} is not in stack {state.stack}'s bucket {state.bucket}; "
            "list sites with 'framecast lambda sites ls'"
        )
    return deleted


def delete_prefix(aws: AwsClients, bucket: str, prefix: str) -> int:
    """Delete every object under ``prefix``; return how many."""
    deleted = 0
    with aws_call("s3:DeleteObjects"):
        for page in aws.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", []) if "Key" in item]
            if keys:
                aws.s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})  # type: ignore[typeddict-item]
                deleted += len(keys)
    return deleted
