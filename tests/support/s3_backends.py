"""S3 servers for tests: moto's server mode (always) and LocalStack (when a Docker engine answers).

Import the ``s3_endpoint`` fixture into a conftest (``from tests.support.s3_backends import
s3_endpoint``) and every test that takes it runs once per backend. Each backend is a real HTTP
endpoint, so code under test talks to it exactly as it talks to AWS: through ``endpoint_url`` or the
``AWS_ENDPOINT_URL`` environment variable (``S3Endpoint.env()``).

The LocalStack image is read from docker-compose.yml, so the offline stack and these tests always
run the same pinned build.
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.config import Config

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
REGION = "us-east-1"
ACCESS_KEY = "test"
SECRET_KEY = "test"  # LocalStack and moto accept any credentials
MOTO_START_TIMEOUT_S = 30.0
DOCKER_PING_TIMEOUT_S = 3
BACKENDS = ("moto", "localstack")


@dataclass(frozen=True)
class S3Endpoint:
    """One running S3-compatible server and how to reach it."""

    backend: str
    endpoint_url: str
    region: str = REGION
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    # Whether PutObject honours If-None-Match: "*" (S3 conditional writes, answered with 412).
    supports_conditional_writes: bool = True

    def client(self, service: str = "s3", **config: Any) -> Any:
        """A boto3 client bound to this endpoint; keyword arguments go to botocore's ``Config``."""
        # boto3's stubs overload client() per literal service name; this factory takes any name.
        make_client: Any = boto3.client
        return make_client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(**{"retries": {"max_attempts": 2, "mode": "standard"}, **config}),
        )

    def env(self) -> dict[str, str]:
        """Environment variables that point boto3 in a subprocess (or a container) at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }


def localstack_image() -> str:
    """The LocalStack image pinned in docker-compose.yml (services.localstack.image)."""
    compose = yaml.safe_load(COMPOSE_FILE.read_text())
    return str(compose["services"]["localstack"]["image"])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def moto_server() -> Iterator[S3Endpoint]:
    """Run ``moto_server`` on a free loopback port for the duration of the block."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        # `python -m moto.server` is the moto_server console script, minus the PATH lookup.
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        try:
            _wait_until_serving(url, proc, log)
            yield S3Endpoint(backend="moto", endpoint_url=url)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def _wait_until_serving(url: str, proc: subprocess.Popen[bytes], log: Any) -> None:
    deadline = time.monotonic() + MOTO_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            tail = log.read()[-2000:].decode(errors="replace")
            raise RuntimeError(f"moto_server exited with {proc.returncode} before serving {url}:\n{tail}")
        try:
            with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise RuntimeError(f"moto_server did not answer on {url} within {MOTO_START_TIMEOUT_S:.0f} s")


@functools.cache
def docker_unavailable_reason() -> str | None:
    """None when a Docker engine answers a ping, else why not (used as the skip reason); asked once."""
    try:
        import docker
    except ImportError:
        return "the docker Python SDK is not installed (pip install '.[dev]')"
    try:
        client = docker.from_env(timeout=DOCKER_PING_TIMEOUT_S)
        try:
            client.ping()
        finally:
            client.close()
    # The SDK raises its own DockerException or a bare requests/OSError depending on where the
    # connection fails; any of them means the same thing here.
    except Exception as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return f"no Docker engine answers ({first_line}); LocalStack tests need one"
    return None


@contextlib.contextmanager
def localstack_server() -> Iterator[S3Endpoint]:
    """Start the compose-pinned LocalStack image with testcontainers (S3 only)."""
    try:
        from testcontainers.community.localstack import LocalStackContainer
    except ImportError:  # testcontainers < 4.14 kept it at the top level
        from testcontainers.localstack import LocalStackContainer

    container = LocalStackContainer(image=localstack_image(), region_name=REGION).with_services("s3")
    with container:
        yield S3Endpoint(backend="localstack", endpoint_url=container.get_url())


@contextlib.contextmanager
def s3_server(backend: str) -> Iterator[S3Endpoint]:
    if backend == "moto":
        with moto_server() as endpoint:
            yield endpoint
    elif backend == "localstack":
        reason = docker_unavailable_reason()
        if reason is not None:
            pytest.skip(reason)
        with localstack_server() as endpoint:
            yield endpoint
    else:
        raise ValueError(f"unknown S3 backend {backend!r}; use one of {', '.join(BACKENDS)}")


@pytest.fixture(
    scope="session",
    params=[
        pytest.param("moto", id="moto"),
        pytest.param("localstack", id="localstack", marks=pytest.mark.docker),
    ],
)
def s3_endpoint(request: pytest.FixtureRequest) -> Iterator[S3Endpoint]:
    """A running S3 server, once per backend; LocalStack is skipped when no Docker engine answers."""
    with s3_server(request.param) as endpoint:
        yield endpoint
