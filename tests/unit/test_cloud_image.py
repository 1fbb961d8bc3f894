"""The image adapter (app.cloud.image) with a fake command runner and ECR in moto: exact commands, order, secrets.

The fake runner records every argv (and stdin) and answers like the engine would; its ``push`` puts a
manifest into moto's ECR, so the digest the adapter pins comes from the registry, as it does on AWS.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from app.cloud.image import CommandResult, build_and_push, find_tool, pin_by_digest
from app.cloud.session import AwsClients, AwsTarget
from app.errors import ImageBuildFailedError, ImageNotFoundError, ImageToolMissingError

REGION = "us-east-1"
REGISTRY = f"123456789012.dkr.ecr.{REGION}.amazonaws.com"
MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 2,
            "digest": "sha256:" + "1" * 64,
        },
        "layers": [],
    }
)


@dataclass
class FakeEngine:
    """Answers ``<tool> version`` only for ``working`` tools; fails the first argv starting with ``fail``."""

    working: set[str]
    fail: tuple[str, ...] = ()
    calls: list[tuple[list[str], str | None]] = field(default_factory=list)

    def __call__(self, argv: Sequence[str], stdin: str | None) -> CommandResult:
        argv = list(argv)
        self.calls.append((argv, stdin))
        if argv[0] not in self.working:
            return CommandResult(127, "", f"{argv[0]}: not found")
        if self.fail and tuple(argv[: len(self.fail)]) == self.fail:
            return CommandResult(1, "", "step 3/9: no space left on device")
        if argv[1] == "push":
            repository, tag = argv[2].split("/", 1)[1].rsplit(":", 1)
            boto3.client("ecr", region_name=REGION).put_image(
                repositoryName=repository, imageManifest=MANIFEST, imageTag=tag
            )
        return CommandResult(0, "ok", "")

    def argvs(self) -> list[list[str]]:
        return [argv for argv, _ in self.calls]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[AwsClients]:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with mock_aws():
        yield AwsClients(AwsTarget(stack="demo", region=REGION))


@pytest.fixture
def context(tmp_path: Path) -> Path:
    folder = tmp_path / "checkout"
    folder.mkdir()
    (folder / "Dockerfile").write_text("FROM scratch\n")
    return folder


def _password() -> str:
    token = boto3.client("ecr", region_name=REGION).get_authorization_token()["authorizationData"][0]
    return base64.b64decode(token["authorizationToken"]).decode().partition(":")[2]


def test_docker_builds_logs_in_through_stdin_pushes_and_pins_the_digest(aws: AwsClients, context: Path) -> None:
    engine = FakeEngine({"docker", "podman"})

    pushed = build_and_push(
        aws, repository="framecast-demo", tag="v1", arch="x86_64", context_dir=context, runner=engine
    )

    image = f"{REGISTRY}/framecast-demo:v1"
    assert engine.argvs() == [
        ["docker", "version"],
        ["docker", "build", "--platform", "linux/amd64", "-t", image, "-f", str(context / "Dockerfile"),
         "--provenance=false", str(context)],
        ["docker", "login", "--username", "AWS", "--password-stdin", REGISTRY],
        ["docker", "push", image],
    ]  # fmt: skip
    login_stdin = engine.calls[2][1]
    assert login_stdin and login_stdin == _password()
    assert not any(login_stdin in " ".join(argv) for argv in engine.argvs()), "the password never goes in argv"
    images = boto3.client("ecr", region_name=REGION).describe_images(repositoryName="framecast-demo")["imageDetails"]
    assert pushed.digest == images[0]["imageDigest"] and pushed.digest.startswith("sha256:")
    assert pushed.image_uri == f"{REGISTRY}/framecast-demo@{pushed.digest}" and pushed.tool == "docker"
    repo = boto3.client("ecr", region_name=REGION).describe_repositories()["repositories"][0]
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}


def test_podman_is_used_when_docker_does_not_answer_and_arm64_builds_for_arm64(aws: AwsClients, context: Path) -> None:
    engine = FakeEngine({"podman"})

    pushed = build_and_push(
        aws, repository="framecast-demo", tag="v2", arch="arm64", context_dir=context, runner=engine
    )

    assert [argv[:2] for argv in engine.argvs()] == [
        ["docker", "version"],
        ["podman", "version"],
        ["podman", "build"],
        ["podman", "login"],
        ["podman", "push"],
    ]
    build = engine.argvs()[2]
    assert "linux/arm64" in build and build[-3:-1] == ["--format", "docker"] and "--provenance=false" not in build
    assert pushed.tool == "podman"


def test_an_existing_repository_is_reused(aws: AwsClients, context: Path) -> None:
    boto3.client("ecr", region_name=REGION).create_repository(repositoryName="framecast-demo")
    engine = FakeEngine({"docker"})

    build_and_push(aws, repository="framecast-demo", tag="v3", arch="x86_64", context_dir=context, runner=engine)

    assert len(boto3.client("ecr", region_name=REGION).describe_repositories()["repositories"]) == 1


def test_neither_engine_answering_is_a_typed_input_error_before_any_aws_change(aws: AwsClients, context: Path) -> None:
    engine = FakeEngine(set())

    with pytest.raises(ImageToolMissingError, match="neither docker nor podman answers") as raised:
        build_and_push(aws, repository="framecast-demo", tag="v1", arch="x86_64", context_dir=context, runner=engine)

    assert raised.value.exit_code == 2 and "--image-uri" in raised.value.message
    assert engine.argvs() == [["docker", "version"], ["podman", "version"]]
    assert boto3.client("ecr", region_name=REGION).describe_repositories()["repositories"] == []


def test_a_failed_build_stops_before_login_and_push_with_the_engine_output(aws: AwsClients, context: Path) -> None:
    engine = FakeEngine({"docker"}, fail=("docker", "build"))

    with pytest.raises(ImageBuildFailedError, match="no space left on device") as raised:
        build_and_push(aws, repository="framecast-demo", tag="v1", arch="x86_64", context_dir=context, runner=engine)

    assert raised.value.code == "IMAGE_BUILD_FAILED" and raised.value.exit_code == 1
    assert [argv[1] for argv in engine.argvs()] == ["version", "build"]


def test_a_failed_push_is_reported_and_no_digest_is_invented(aws: AwsClients, context: Path) -> None:
    engine = FakeEngine({"docker"}, fail=("docker", "push"))

    with pytest.raises(ImageBuildFailedError, match="docker push"):
        build_and_push(aws, repository="framecast-demo", tag="v1", arch="x86_64", context_dir=context, runner=engine)


def test_find_tool_prefers_docker_when_both_answer() -> None:
    assert find_tool(FakeEngine({"docker", "podman"})) == "docker"


def test_a_tagged_image_uri_is_pinned_to_its_digest_and_an_unknown_one_refused(aws: AwsClients) -> None:
    ecr = boto3.client("ecr", region_name=REGION)
    ecr.create_repository(repositoryName="framecast-demo")
    digest = ecr.put_image(repositoryName="framecast-demo", imageManifest=MANIFEST, imageTag="v1")["image"]["imageId"][
        "imageDigest"
    ]

    assert pin_by_digest(aws, f"{REGISTRY}/framecast-demo:v1") == (f"{REGISTRY}/framecast-demo@{digest}", digest)
    pinned = f"{REGISTRY}/framecast-demo@sha256:{'cd' * 32}"
    assert pin_by_digest(aws, pinned) == (pinned, "sha256:" + "cd" * 32)
    for missing in (f"{REGISTRY}/framecast-demo:v9", f"{REGISTRY}/no-such-repo:v1"):
        with pytest.raises(ImageNotFoundError, match="push it first") as err:
            pin_by_digest(aws, missing)
        assert err.value.exit_code == 2
