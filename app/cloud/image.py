"""The container image: build with docker or podman (whichever answers), push to ECR, pin by digest.

The engine CLI runs through a ``Runner`` (argv + optional stdin → return code, stdout, stderr) so tests
pass a fake that records every command. Sequence (``build_and_push``): find the tool (``<tool> version``
must answer), build for the stack's architecture, create the ECR repository when missing, log in with
the password from ``ecr:GetAuthorizationToken`` (through stdin, never argv), push, then read the pushed
digest from ECR: the function is pinned to ``repo@sha256:...`` so every new image updates it.
"""

from __future__ import annotations

import base64
import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from app.cloud.session import AwsClients, aws_call, error_code
from app.errors import ImageBuildFailedError, ImageNotFoundError, ImageToolMissingError

TOOLS: Final = ("docker", "podman")
PLATFORMS: Final = {"x86_64": "linux/amd64", "arm64": "linux/arm64"}


@dataclass(frozen=True)
class CommandResult:
    returncode: int
    stdout: str = ""
    stderr: str = ""


Runner = Callable[[Sequence[str], str | None], CommandResult]


def run_command(argv: Sequence[str], stdin: str | None = None) -> CommandResult:
    """The real runner: no shell; a missing executable is return code 127."""
    try:
        done = subprocess.run(list(argv), input=stdin, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        return CommandResult(127, "", str(exc))
    return CommandResult(done.returncode, done.stdout, done.stderr)


class PushedImage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    image_uri: str  # repo@sha256:...
    digest: str
    tag: str
    tool: str


def find_tool(runner: Runner, candidates: Sequence[str] = TOOLS) -> str:
    """The first of ``candidates`` whose engine answers ``version``; IMAGE_TOOL_MISSING otherwise."""
    tried: list[str] = []
    for tool in candidates:
        result = runner([tool, "version"], None)
        if result.returncode == 0:
            return tool
        tried.append(f"{tool}: {(result.stderr or result.stdout).strip().splitlines()[-1:] or ['no answer']}")
    raise ImageToolMissingError(
        "neither docker nor podman answers ('docker version' / 'podman version' failed: "
        f"{'; '.join(tried)}); install and start one, or pass --image-uri with an image already in ECR"
    )


def _check(result: CommandResult, what: str) -> None:
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip()[-800:]
        raise ImageBuildFailedError(f"{what} failed (exit {result.returncode}): {tail}")


def ensure_repository(aws: AwsClients, name: str) -> str:
    """The repository's URI, creating the repository (scan on push, tagged) when it is missing."""
    ecr = aws.ecr
    with aws_call("ecr:DescribeRepositories"):
        try:
            found = ecr.describe_repositories(repositoryNames=[name])["repositories"]
            return str(found[0]["repositoryUri"])
        except ecr.exceptions.RepositoryNotFoundException:
            pass
    with aws_call("ecr:CreateRepository"):
        created = ecr.create_repository(
            repositoryName=name,
            imageScanningConfiguration={"scanOnPush": True},
            tags=[{"Key": "Project", "Value": "framecast"}],
        )
    return str(created["repository"]["repositoryUri"])


def _login(aws: AwsClients, tool: str, registry: str, runner: Runner) -> None:
    with aws_call("ecr:GetAuthorizationToken"):
        data = aws.ecr.get_authorization_token()["authorizationData"][0]
    user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    _check(
        runner([tool, "login", "--username", user, "--password-stdin", registry], password), f"{tool} login {registry}"
    )


def _digest(aws: AwsClients, repository: str, tag: str) -> str:
    with aws_call("ecr:DescribeImages"):
        try:
            details = aws.ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])["imageDetails"]
        except ClientError as exc:
            if error_code(exc) != "ImageNotFoundException":
                raise
            raise ImageBuildFailedError(f"ECR has no image {repository}:{tag} after the push; push again") from exc
    return str(details[0]["imageDigest"])


_ECR_TAGGED = re.compile(
    r"^(?P<registry>\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?)/(?P<repo>[a-z0-9._/-]+):(?P<tag>[\w.-]+)$"
)


def pin_by_digest(aws: AwsClients, image_uri: str) -> tuple[str, str | None]:
    """``(uri, digest)``: a tagged ECR URI becomes ``repo@sha256:...`` (so a re-pushed tag updates the function).

    A digest URI is returned as it is; a tag ECR does not know is IMAGE_NOT_FOUND.
    """
    if "@sha256:" in image_uri:
        return image_uri, image_uri.rsplit("@", 1)[1]
    match = _ECR_TAGGED.match(image_uri)
    if match is None:
        return image_uri, None  # not an ECR URI: CloudFormation's AllowedPattern has the last word
    repository, tag = match["repo"], match["tag"]
    with aws_call("ecr:DescribeImages"):
        try:
            details = aws.ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])["imageDetails"]
        except ClientError as exc:
            if error_code(exc) not in {"ImageNotFoundException", "RepositoryNotFoundException"}:
                raise
            raise ImageNotFoundError(
                f"--image-uri {image_uri}: ECR has no image {repository}:{tag} in {aws.region}; "
                "push it first, or omit --image-uri to build and push one"
            ) from exc
    digest = str(details[0]["imageDigest"])
    return f"{match['registry']}/{repository}@{digest}", digest


def build_and_push(
    aws: AwsClients,
    *,
    repository: str,
    tag: str,
    arch: str,
    context_dir: Path,
    runner: Runner = run_command,
) -> PushedImage:
    """Build ``context_dir``'s Dockerfile, push it to ECR ``repository`` as ``tag``; return it pinned by digest."""
    tool = find_tool(runner)
    dockerfile = context_dir / "Dockerfile"
    if not dockerfile.is_file():
        raise ImageBuildFailedError(
            f"no Dockerfile at {dockerfile}; run deploy from a framecast checkout or pass --image-uri"
        )
    repository_uri = ensure_repository(aws, repository)
    image = f"{repository_uri}:{tag}"
    build = [tool, "build", "--platform", PLATFORMS[arch], "-t", image, "-f", str(dockerfile)]
    # Lambda takes a single-platform image manifest: no provenance attestation index (docker), docker format (podman).
    build += ["--provenance=false"] if tool == "docker" else ["--format", "docker"]
    _check(runner([*build, str(context_dir)], None), f"{tool} build")
    _login(aws, tool, repository_uri.split("/", 1)[0], runner)
    _check(runner([tool, "push", image], None), f"{tool} push {image}")
    digest = _digest(aws, repository, tag)
    return PushedImage(image_uri=f"{repository_uri}@{digest}", digest=digest, tag=tag, tool=tool)
