"""S3 URIs: parsing ``s3://bucket/key`` and the bucket allowlist every event URI must pass.

Pure (no network). Three shapes are used on the wire: an *object* URI names one object (non-empty
key not ending in ``/``), a *prefix* URI names a folder (key empty or ending in ``/``), and the
plan manifest URI is an object URI whose key ends in ``plan-manifest.json`` (its folder is where
the plan's blobs live).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.errors import S3UriNotAllowedError

if TYPE_CHECKING:
    from app.aws.settings import Settings

SCHEME = "s3://"
# S3's bucket naming rules (lowercase letters, digits, dots, hyphens; 3-63 chars, alphanumeric ends).
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_KEY_BYTES = 1024


@dataclass(frozen=True)
class S3Uri:
    bucket: str
    key: str

    def __str__(self) -> str:
        return f"{SCHEME}{self.bucket}/{self.key}"

    @property
    def is_prefix(self) -> bool:
        return self.key == "" or self.key.endswith("/")

    def child(self, name: str) -> S3Uri:
        """The object ``name`` under this prefix URI."""
        if not self.is_prefix:
            raise ValueError(f"{self} is not a prefix (it must end with '/')")
        return S3Uri(self.bucket, self.key + name)

    @classmethod
    def parse(cls, text: str) -> S3Uri:
        """Parse ``s3://bucket/key``; raise ValueError saying what is wrong (pydantic reports it)."""
        if not text.startswith(SCHEME):
            raise ValueError("must start with s3:// (s3://bucket/key)")
        bucket, slash, key = text[len(SCHEME) :].partition("/")
        if not slash:
            raise ValueError("must name a key or a prefix after the bucket (s3://bucket/key or s3://bucket/)")
        if not _BUCKET.match(bucket) or ".." in bucket:
            raise ValueError(f"bucket {bucket[:80]!r} is not a valid S3 bucket name")
        if _CONTROL.search(key) or len(key.encode()) > MAX_KEY_BYTES:
            raise ValueError("key has control characters or is longer than 1024 bytes")
        return cls(bucket, key)


def parse_object_uri(text: str) -> S3Uri:
    uri = S3Uri.parse(text)
    if uri.is_prefix:
        raise ValueError("must name an object: the key must be non-empty and not end with '/'")
    return uri


def parse_prefix_uri(text: str) -> S3Uri:
    uri = S3Uri.parse(text)
    if not uri.is_prefix:
        raise ValueError("must be a prefix ending with '/'")
    return uri


def check_allowed(uris: Iterable[tuple[str, S3Uri]], settings: Settings) -> None:
    """Raise S3_URI_NOT_ALLOWED for the first (field, uri) whose bucket the settings do not allow."""
    for field, uri in uris:
        if settings.bucket_allowed(uri.bucket):
            continue
        if not settings.bucket_allowlist:
            raise S3UriNotAllowedError(
                f"{field} uses bucket {uri.bucket!r} but no bucket is allowed: set {settings.ALLOWLIST_ENV} "
                f"to the render bucket (comma-separated for several), or {settings.ALLOW_ANY_ENV}=true for local runs"
            )
        raise S3UriNotAllowedError(
            f"{field} uses bucket {uri.bucket!r}, which is not in {settings.ALLOWLIST_ENV} "
            f"({', '.join(settings.bucket_allowlist)}); use an allowed bucket or add it there"
        )
