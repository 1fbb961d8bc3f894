"""Which AWS account, region and endpoint the client talks to, and its boto3 clients.

``AwsTarget`` is what every ``framecast lambda`` verb resolves from ``--stack/--region/--profile`` and
the environment (argument > ``AWS_PROFILE``/``AWS_REGION``/``AWS_DEFAULT_REGION``/``AWS_ENDPOINT_URL`` >
the profile's config). ``clients(target)`` returns one ``AwsClients`` per target, cached for the
process, whose boto3 clients are built on first use (thread-safe: render-batch calls from threads).
Missing credentials, an unknown profile and an unknown region become typed InputErrors that say how
to set them. ``aws_call`` is the one place a botocore failure becomes ``AWS_REQUEST_FAILED``.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ProfileNotFound
from pydantic import BaseModel, ConfigDict, Field

from app.errors import AwsCredentialsMissingError, AwsRegionInvalidError, AwsRequestFailedError

if TYPE_CHECKING:
    from botocore.config import Config
    from mypy_boto3_s3 import S3Client

_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_PARTITIONS = ("aws", "aws-cn", "aws-us-gov")
_HOW_TO_SET_CREDENTIALS = (
    "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, run 'aws configure' or 'aws sso login', "
    "or pass --profile NAME (or set AWS_PROFILE)"
)


# boto3 and botocore.config cost about 0.3 s to import: they are imported by the first AWS call, not by
# every command that imports this module (a local render never makes one).
@functools.cache
def _boto_config() -> Config:
    from botocore.config import Config

    return Config(retries={"max_attempts": 8, "mode": "adaptive"}, user_agent_extra="framecast")


def _env_endpoint() -> str | None:
    return os.environ.get("AWS_ENDPOINT_URL") or None


class AwsTarget(BaseModel):
    """Where a verb acts: the stack name plus the account/region/endpoint settings to reach it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stack: str
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = Field(default_factory=_env_endpoint)


def known_regions() -> frozenset[str]:
    import boto3

    session = boto3.session.Session()
    found: set[str] = set()
    for partition in _PARTITIONS:
        found.update(session.get_available_regions("cloudformation", partition_name=partition))
    return frozenset(found)


def check_region(region: str, where: str) -> str:
    """``region`` if AWS knows it (any well-formed name when an endpoint override is set), else AWS_REGION_INVALID."""
    if not _REGION.match(region) or (_env_endpoint() is None and region not in known_regions()):
        raise AwsRegionInvalidError(
            f"region {region!r} ({where}) is not an AWS region; pass --region with one such as us-east-1 or eu-west-1"
        )
    return region


class AwsClients:
    """The boto3 clients of one target, built on first use and shared by every caller."""

    def __init__(self, target: AwsTarget) -> None:
        import boto3

        self.target = target
        try:
            self._session = boto3.session.Session(profile_name=target.profile, region_name=target.region)
        except ProfileNotFound as exc:
            raise AwsCredentialsMissingError(
                f"AWS profile {target.profile!r} is not configured; run 'aws configure --profile {target.profile}' "
                "or pass an existing --profile"
            ) from exc
        region = self._session.region_name
        if not region:
            raise AwsRegionInvalidError(
                "no AWS region is set; pass --region (e.g. --region eu-west-1), set AWS_REGION, "
                "or run 'aws configure set region REGION'"
            )
        self.region = check_region(region, "--region" if target.region else "from the environment or profile")
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}

    def require_credentials(self) -> None:
        """Raise AWS_CREDENTIALS_MISSING (saying how to set them) when boto3 finds none."""
        try:
            credentials = self._session.get_credentials()
        except BotoCoreError as exc:
            raise AwsCredentialsMissingError(
                f"AWS credentials could not be loaded ({exc}); {_HOW_TO_SET_CREDENTIALS}"
            ) from exc
        if credentials is None:
            raise AwsCredentialsMissingError(f"no AWS credentials found; {_HOW_TO_SET_CREDENTIALS}")

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                self.require_credentials()
                self._clients[service] = self._session.client(
                    service,  # type: ignore[call-overload]
                    region_name=self.region,
                    endpoint_url=self.target.endpoint_url,
                    config=_boto_config(),
                )
            return self._clients[service]

    @property
    def s3(self) -> S3Client:
        client: S3Client = self.client("s3")
        return client

    @property
    def sfn(self) -> Any:
        return self.client("stepfunctions")

    @property
    def cloudformation(self) -> Any:
        return self.client("cloudformation")

    @property
    def ecr(self) -> Any:
        return self.client("ecr")

    @property
    def sts(self) -> Any:
        return self.client("sts")

    @property
    def lambda_(self) -> Any:
        return self.client("lambda")

    def account_id(self) -> str:
        with aws_call("sts:GetCallerIdentity"):
            return str(self.sts.get_caller_identity()["Account"])


@functools.lru_cache(maxsize=32)
def _cached(target: AwsTarget) -> AwsClients:
    return AwsClients(target)


def clients(target: AwsTarget) -> AwsClients:
    """The (process-wide, cached) clients for ``target``; raises the typed errors described above."""
    return _cached(target)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextmanager
def aws_call(operation: str) -> Iterator[None]:
    """Translate a botocore failure of ``operation`` into AWS_REQUEST_FAILED (or the credentials error)."""
    try:
        yield
    except NoCredentialsError as exc:
        raise AwsCredentialsMissingError(f"no AWS credentials found; {_HOW_TO_SET_CREDENTIALS}") from exc
    except ClientError as exc:
        code = error_code(exc)
        if code in {"UnrecognizedClientException", "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException"}:
            raise AwsCredentialsMissingError(
                f"AWS rejected the credentials for {operation} ({code}); {_HOW_TO_SET_CREDENTIALS}"
            ) from exc
        message = exc.response.get("Error", {}).get("Message", str(exc))
        raise AwsRequestFailedError(f"{operation} failed: {code}: {message}") from exc
    except BotoCoreError as exc:
        raise AwsRequestFailedError(f"{operation} failed: {exc}; check the network and AWS_ENDPOINT_URL") from exc
