"""scripts/deploy.sh against fake ``aws`` and ``docker`` commands on PATH.

Each fake appends its arguments to a log and answers like the real tool would, so the tests see the
exact commands, their order and what went through the login pipe. PATH holds only the fakes and
the couple of system tools the script needs, so "aws is missing" is real, whatever this machine has.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BASH = shutil.which("bash") or "/bin/bash"
ACCOUNT = "123456789012"
DIGEST = "sha256:" + "ab" * 32
REGISTRY = f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com"

FAKE_AWS = r"""#!{bash}
printf 'aws %s\n' "$*" >>"$FAKE_LOG"
[[ -n "${{FAKE_FAIL:-}}" && "aws $*" == "$FAKE_FAIL"* ]] && {{ echo "fake failure" >&2; exit 255; }}
case "$1 $2" in
  "sts get-caller-identity") echo {account} ;;
  "configure get") exit 1 ;;
  "ecr describe-repositories")
    [[ "${{FAKE_REPO_EXISTS:-0}}" == 1 ]] || {{ echo "RepositoryNotFoundException" >&2; exit 254; }} ;;
  "ecr get-login-password") echo fake-ecr-password ;;
  "ecr describe-images") echo {digest} ;;
  "cloudformation describe-stacks") echo "| BucketName | framecast-demo-renderbucket-1 |" ;;
esac
exit 0
"""

FAKE_DOCKER = r"""#!{bash}
printf 'docker %s\n' "$*" >>"$FAKE_LOG"
[[ -n "${{FAKE_FAIL:-}}" && "docker $*" == "$FAKE_FAIL"* ]] && {{ echo "fake failure" >&2; exit 1; }}
case "$1" in
  info) [[ "${{FAKE_ENGINE_DOWN:-0}}" == 1 ]] && {{ echo "Cannot connect to the Docker daemon" >&2; exit 1; }} ;;
  login) read -r password; printf 'docker login got stdin %s\n' "$password" >>"$FAKE_LOG" ;;
esac
exit 0
"""


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    calls: list[str]

    def planned(self) -> list[str]:
        """The commands --dry-run printed, without the '+ ' marker."""
        return [line[2:] for line in self.stdout.splitlines() if line.startswith("+ ")]


@dataclass
class Sandbox:
    repo: Path
    bin_dir: Path
    log: Path

    def run(self, *args: str, **env: str) -> Run:
        environ = {"PATH": str(self.bin_dir), "HOME": str(self.repo), "FAKE_LOG": str(self.log), **env}
        result = subprocess.run(
            [BASH, str(self.repo / "scripts" / "deploy.sh"), *args],
            cwd=self.repo,
            env=environ,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        calls = self.log.read_text().splitlines() if self.log.exists() else []
        return Run(result.returncode, result.stdout, result.stderr, calls)


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    (repo / "infra").mkdir()
    shutil.copy(ROOT / "scripts" / "deploy.sh", repo / "scripts" / "deploy.sh")
    (repo / "Dockerfile").write_text("FROM scratch\n")
    (repo / "infra" / "template.yaml").write_text("Resources: {}\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("date",):  # the only external tool the script uses besides aws and docker
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    for name, text in (("aws", FAKE_AWS), ("docker", FAKE_DOCKER)):
        fake = bin_dir / name
        fake.write_text(text.format(bash=BASH, account=ACCOUNT, digest=DIGEST))
        fake.chmod(0o755)
    return Sandbox(repo=repo, bin_dir=bin_dir, log=tmp_path / "calls.log")


def without_fake(sandbox: Sandbox, name: str) -> None:
    (sandbox.bin_dir / name).unlink()


def index_of(calls: list[str], prefix: str) -> int:
    matches = [i for i, call in enumerate(calls) if call.startswith(prefix)]
    assert len(matches) == 1, f"expected one call starting with {prefix!r} in {calls}"
    return matches[0]


def command_of(line: str) -> str:
    words = line.split()
    return " ".join(words[:3] if words[0] == "aws" else words[:2])


DEPLOY_ARGS = ("--stack", "Demo", "--region", "eu-west-1", "--tag", "v1")


def test_deploy_checks_builds_pushes_deploys_and_prints_outputs_in_that_order(sandbox: Sandbox) -> None:
    run = sandbox.run(*DEPLOY_ARGS, "--alarm-email", "ops@example.com")

    assert run.returncode == 0, run.stderr
    # The login pipe's two ends start together, so only their place relative to the rest is fixed.
    order = [
        "aws sts get-caller-identity",
        "docker info",
        "docker build",
        "aws ecr describe-repositories",
        "aws ecr create-repository",
        "aws ecr get-login-password",
        "docker login got stdin fake-ecr-password",
        "docker push",
        "aws ecr describe-images",
        "aws cloudformation deploy",
        "aws cloudformation describe-stacks",
    ]
    positions = [index_of(run.calls, prefix) for prefix in order]
    assert positions == sorted(positions), run.calls
    login = index_of(run.calls, "docker login --")
    assert positions[4] < login < positions[7]
    assert run.calls[login] == f"docker login --username AWS --password-stdin {REGISTRY}"
    image = f"{REGISTRY}/framecast-demo:v1"
    build = run.calls[positions[2]]
    assert f"-t {image}" in build and "--platform linux/amd64" in build and "--provenance=false" in build
    assert run.calls[positions[7]] == f"docker push {image}"
    deploy = run.calls[positions[9]].split()
    for expected in (
        "--stack-name Demo",
        "--template-file infra/template.yaml",
        "--capabilities CAPABILITY_NAMED_IAM",
        "--region eu-west-1",
    ):
        assert expected in " ".join(deploy), expected
    assert "--no-fail-on-empty-changeset" in deploy
    # Pinned by digest, so pushing a new image always updates the function.
    assert f"ImageUri={REGISTRY}/framecast-demo@{DIGEST}" in deploy
    assert "Architecture=x86_64" in deploy and "AlarmEmail=ops@example.com" in deploy
    assert "framecast-demo-renderbucket-1" in run.stdout


def test_existing_repository_is_reused(sandbox: Sandbox) -> None:
    run = sandbox.run(*DEPLOY_ARGS, FAKE_REPO_EXISTS="1")

    assert run.returncode == 0, run.stderr
    assert not any(call.startswith("aws ecr create-repository") for call in run.calls)
    assert not any("AlarmEmail=" in call for call in run.calls)


def test_arm64_builds_for_the_arm64_platform(sandbox: Sandbox) -> None:
    run = sandbox.run(*DEPLOY_ARGS, "--arch", "arm64")

    assert run.returncode == 0, run.stderr
    assert "--platform linux/arm64" in run.calls[index_of(run.calls, "docker build")]
    assert "Architecture=arm64" in run.calls[index_of(run.calls, "aws cloudformation deploy")]


def test_dry_run_prints_every_change_in_order_and_runs_only_read_only_checks(sandbox: Sandbox) -> None:
    run = sandbox.run(*DEPLOY_ARGS, "--dry-run")

    assert run.returncode == 0, run.stderr
    assert run.calls == [
        "aws sts get-caller-identity --region eu-west-1 --query Account --output text",
        "docker info",
        "aws ecr describe-repositories --region eu-west-1 --repository-names framecast-demo",
    ]
    planned = run.planned()
    assert [command_of(line) for line in planned] == [
        "docker build",
        "aws ecr create-repository",
        "aws ecr get-login-password",
        "docker push",
        "aws ecr describe-images",
        "aws cloudformation deploy",
        "aws cloudformation describe-stacks",
    ]
    assert planned[2].endswith(f" | docker login --username AWS --password-stdin {REGISTRY}")
    assert planned[3] == f"docker push {REGISTRY}/framecast-demo:v1"
    assert "--no-fail-on-empty-changeset" in planned[5] and "CAPABILITY_NAMED_IAM" in planned[5]
    assert "nothing was changed" in run.stderr


def test_dry_run_still_plans_when_the_docker_engine_is_down(sandbox: Sandbox) -> None:
    run = sandbox.run(*DEPLOY_ARGS, "--dry-run", FAKE_ENGINE_DOWN="1")

    assert run.returncode == 0, run.stderr
    assert "Docker engine is not reachable" in run.stderr
    assert len(run.planned()) == 7


def test_missing_aws_cli_fails_clearly_before_doing_anything(sandbox: Sandbox) -> None:
    without_fake(sandbox, "aws")

    run = sandbox.run(*DEPLOY_ARGS)

    assert run.returncode == 3
    assert "AWS CLI ('aws') is not on PATH" in run.stderr and "install" in run.stderr
    assert run.calls == []


def test_missing_aws_cli_fails_the_dry_run_too(sandbox: Sandbox) -> None:
    without_fake(sandbox, "aws")

    run = sandbox.run(*DEPLOY_ARGS, "--dry-run")

    assert run.returncode == 3
    assert run.planned() == []


def test_missing_credentials_exit_4(sandbox: Sandbox) -> None:
    run = sandbox.run(*DEPLOY_ARGS, FAKE_FAIL="aws sts get-caller-identity")

    assert run.returncode == 4
    assert "no usable AWS credentials" in run.stderr
    assert not any(call.startswith("docker") for call in run.calls)


def test_missing_docker_cli_exit_5(sandbox: Sandbox) -> None:
    without_fake(sandbox, "docker")

    run = sandbox.run(*DEPLOY_ARGS)

    assert run.returncode == 5
    assert "Docker CLI ('docker') is not on PATH" in run.stderr


def test_unreachable_docker_engine_exit_5_before_any_change(sandbox: Sandbox) -> None:
    run = sandbox.run(*DEPLOY_ARGS, FAKE_ENGINE_DOWN="1")

    assert run.returncode == 5
    assert "Docker engine is not reachable" in run.stderr
    assert run.calls[-1] == "docker info"


def test_failed_push_exit_6_and_skips_the_stack(sandbox: Sandbox) -> None:
    run = sandbox.run(*DEPLOY_ARGS, FAKE_FAIL="docker push")

    assert run.returncode == 6
    assert "docker push" in run.stderr
    assert not any(call.startswith("aws cloudformation") for call in run.calls)


def test_failed_stack_deploy_exit_7_with_a_pointer_to_the_events(sandbox: Sandbox) -> None:
    run = sandbox.run(*DEPLOY_ARGS, FAKE_FAIL="aws cloudformation deploy")

    assert run.returncode == 7
    assert "describe-stack-events" in run.stderr
    assert not any(call.startswith("aws cloudformation describe-stacks") for call in run.calls)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "--stack NAME is required"),
        (("--stack",), "--stack needs a value"),
        (("--stack", "9lives"), "must be 1-48 letters"),
        (("--stack", "a" * 49), "must be 1-48 letters"),
        (("--stack", "demo", "--arch", "sparc"), "--arch must be x86_64 or arm64"),
        (("--stack", "demo", "--alarm-email", "nobody"), "is not an e-mail address"),
        (("--stack", "demo", "--bogus"), "unknown argument '--bogus'"),
    ],
)
def test_bad_arguments_exit_2_before_any_command(sandbox: Sandbox, args: tuple[str, ...], message: str) -> None:
    run = sandbox.run(*args)

    assert run.returncode == 2
    assert message in run.stderr
    assert run.calls == []


def test_region_comes_from_the_environment_when_not_given(sandbox: Sandbox) -> None:
    run = sandbox.run("--stack", "demo", "--tag", "v1", "--dry-run", AWS_REGION="ap-south-1")

    assert run.returncode == 0, run.stderr
    assert "--region ap-south-1" in run.calls[0]


def test_help_documents_the_exit_codes(sandbox: Sandbox) -> None:
    run = sandbox.run("--help")

    assert run.returncode == 0
    assert "--dry-run" in run.stdout and "7 CloudFormation deploy failed" in run.stdout


def test_script_is_strict_bash() -> None:
    text = (ROOT / "scripts" / "deploy.sh").read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    assert os.access(ROOT / "scripts" / "deploy.sh", os.R_OK)
