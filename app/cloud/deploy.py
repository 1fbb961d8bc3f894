"""Deploy and destroy a stack: infra/template.yaml through CloudFormation change sets, then the state file.

``deploy``: credentials first; the image (``--image-uri`` as given, else built and pushed by
``app.cloud.image`` and pinned by digest); one change set (CREATE for a new stack, UPDATE otherwise),
waited for. A change set with no changes is not an error (the stack is already what was asked). A
failed execution lists each failed resource with CloudFormation's reason. On success the outputs
(bucket, function, state machine) are recorded by ``save_stack``.

``destroy``: deletes the stack and waits; the render bucket is retained by the template
(``DeletionPolicy: Retain``), so final outputs survive unless ``delete_bucket`` empties and removes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from app.cloud.image import PLATFORMS, Runner, build_and_push, pin_by_digest, run_command
from app.cloud.session import AwsClients, aws_call, error_code
from app.cloud.sites import delete_prefix
from app.cloud.stack import StackState, check_stack_name, delete_stack_state, save_stack
from app.errors import DeployFailedError, InputError

ROOT: Final = Path(__file__).resolve().parents[2]
TEMPLATE: Final = ROOT / "infra" / "template.yaml"
CAPABILITIES: Final = ["CAPABILITY_NAMED_IAM"]
_NO_CHANGES: Final = ("didn't contain changes", "No updates are to be performed")
_GOOD: Final = {"CREATE_COMPLETE", "UPDATE_COMPLETE"}
_CAN_UPDATE: Final = _GOOD | {"UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE", "IMPORT_ROLLBACK_COMPLETE"}
Log = Callable[[str], None]


class DeployOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    image_uri: str | None = None
    memory_mb: int = Field(default=10240, ge=2048, le=10240)
    concurrency: int | None = Field(default=None, ge=1)
    timeout_seconds: int = Field(default=900, ge=60, le=900)
    arch: str = "x86_64"
    tag: str | None = None
    alarm_email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class DeployResult(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    state: StackState
    changed: bool
    created: bool
    state_file: str


def _stack_status(aws: AwsClients, stack: str) -> dict[str, Any] | None:
    with aws_call("cloudformation:DescribeStacks"):
        try:
            return dict(aws.cloudformation.describe_stacks(StackName=stack)["Stacks"][0])
        except ClientError as exc:
            if error_code(exc) == "ValidationError" and "does not exist" in str(exc):
                return None
            raise


def stack_outputs(aws: AwsClients, stack: str) -> dict[str, str] | None:
    """The stack's outputs, or None when there is no such stack."""
    described = _stack_status(aws, stack)
    if described is None:
        return None
    return {str(o["OutputKey"]): str(o["OutputValue"]) for o in described.get("Outputs", [])}


def _wait(poll: Callable[[], str], done: Callable[[str], bool], sleep: Callable[[float], None]) -> str:
    delay = 0.2
    while not done(status := poll()):
        sleep(delay)
        delay = min(delay * 2, 5.0)
    return status


def _failed_reasons(aws: AwsClients, stack: str, since: datetime) -> str:
    with aws_call("cloudformation:DescribeStackEvents"):
        events = aws.cloudformation.describe_stack_events(StackName=stack)["StackEvents"]
    reasons = [
        f"{e['LogicalResourceId']} ({e.get('ResourceType', '?')}): {e.get('ResourceStatusReason', 'no reason given')}"
        for e in events
        if str(e.get("ResourceStatus", "")).endswith("_FAILED") and e["Timestamp"] >= since
    ]
    return "; ".join(reversed(reasons)) or "CloudFormation gave no resource-level reason"


def _parameters(image_uri: str, options: DeployOptions) -> list[dict[str, str]]:
    values = {
        "ImageUri": image_uri,
        "MemorySize": str(options.memory_mb),
        "Timeout": str(options.timeout_seconds),
        "Architecture": options.arch,
        "ReservedConcurrency": str(options.concurrency or ""),
        "AlarmEmail": options.alarm_email or "",
    }
    return [{"ParameterKey": key, "ParameterValue": value} for key, value in values.items()]


def _change_set(
    aws: AwsClients, stack: str, kind: str, parameters: list[dict[str, str]], sleep: Callable[[float], None]
) -> str | None:
    """Create the change set; its name, or None when it holds no changes (it is then deleted)."""
    name = f"framecast-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    cfn = aws.cloudformation
    with aws_call("cloudformation:CreateChangeSet"):
        cfn.create_change_set(
            StackName=stack,
            ChangeSetName=name,
            ChangeSetType=kind,
            TemplateBody=TEMPLATE.read_text(encoding="utf-8"),
            Parameters=parameters,
            Capabilities=CAPABILITIES,
            Tags=[{"Key": "Project", "Value": "framecast"}],
        )

    def describe() -> dict[str, Any]:
        with aws_call("cloudformation:DescribeChangeSet"):
            return dict(cfn.describe_change_set(StackName=stack, ChangeSetName=name))

    status = _wait(lambda: str(describe()["Status"]), lambda s: not s.endswith(("_PENDING", "_IN_PROGRESS")), sleep)
    if status == "FAILED":
        reason = str(describe().get("StatusReason", ""))
        if any(marker in reason for marker in _NO_CHANGES):
            with aws_call("cloudformation:DeleteChangeSet"):
                cfn.delete_change_set(StackName=stack, ChangeSetName=name)
            return None
        raise DeployFailedError(f"CloudFormation refused the change set for stack {stack}: {reason}")
    return name


def deploy(
    aws: AwsClients,
    stack: str,
    options: DeployOptions,
    *,
    log: Log = lambda _message: None,
    runner: Runner = run_command,
    sleep: Callable[[float], None] = time.sleep,
) -> DeployResult:
    """Create or update ``stack`` (see the module docstring); write and return its state."""
    check_stack_name(stack)
    if options.arch not in PLATFORMS:
        raise InputError(f"--arch must be one of {', '.join(PLATFORMS)}, not {options.arch!r}")
    if not TEMPLATE.is_file():
        raise InputError(f"the template {TEMPLATE} is missing; run deploy from a framecast checkout")
    aws.require_credentials()
    account = aws.account_id()
    log(f"account {account}, region {aws.region}, stack {stack}")
    image_uri, digest = options.image_uri, None
    if image_uri is None:
        tag = options.tag or datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        pushed = build_and_push(
            aws, repository=f"framecast-{stack.lower()}", tag=tag, arch=options.arch, context_dir=ROOT, runner=runner
        )
        image_uri, digest = pushed.image_uri, pushed.digest
        log(f"pushed {image_uri} ({pushed.tool})")
    else:
        image_uri, digest = pin_by_digest(aws, image_uri)
    existing = _stack_status(aws, stack)
    if existing is not None and existing["StackStatus"] not in _CAN_UPDATE:
        raise DeployFailedError(
            f"stack {stack} is {existing['StackStatus']} and cannot be updated; "
            f"wait for it, or remove it with 'framecast lambda destroy --stack {stack}' and deploy again"
        )
    kind = "UPDATE" if existing is not None else "CREATE"
    started = datetime.now(UTC)
    change_set = _change_set(aws, stack, kind, _parameters(image_uri, options), sleep)
    if change_set is None:
        log("no changes: the stack is already up to date")
    else:
        log(f"executing change set {change_set} ({kind.lower()})")
        with aws_call("cloudformation:ExecuteChangeSet"):
            aws.cloudformation.execute_change_set(StackName=stack, ChangeSetName=change_set)
        status = _wait(
            lambda: str((_stack_status(aws, stack) or {}).get("StackStatus", "DELETE_COMPLETE")),
            lambda s: not s.endswith("_IN_PROGRESS"),
            sleep,
        )
        if status not in _GOOD:
            raise DeployFailedError(f"stack {stack} ended {status}: {_failed_reasons(aws, stack, started)}")
    state = _state(aws, stack, account, image_uri, digest, options)
    path = save_stack(state)
    return DeployResult(state=state, changed=change_set is not None, created=kind == "CREATE", state_file=str(path))


def _state(
    aws: AwsClients, stack: str, account: str, image_uri: str, digest: str | None, options: DeployOptions
) -> StackState:
    described = _stack_status(aws, stack) or {}
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    missing = {"BucketName", "FunctionName", "FunctionArn", "StateMachineArn"} - set(outputs)
    if missing:
        raise DeployFailedError(f"stack {stack} has no outputs {sorted(missing)}; is it a framecast stack?")
    return StackState(
        stack=stack,
        region=aws.region,
        account_id=account,
        stack_id=str(described["StackId"]),
        bucket=outputs["BucketName"],
        state_machine_arn=outputs["StateMachineArn"],
        function_name=outputs["FunctionName"],
        function_arn=outputs["FunctionArn"],
        memory_mb=options.memory_mb,
        timeout_seconds=options.timeout_seconds,
        architecture=options.arch,
        reserved_concurrency=options.concurrency,
        image_uri=image_uri,
        image_digest=digest,
        deployed_at=datetime.now(UTC).replace(microsecond=0),
    )


class DestroyResult(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    stack: str
    stack_deleted: bool
    bucket: str | None
    bucket_deleted: bool
    objects_deleted: int
    state_file_removed: bool


def destroy(
    aws: AwsClients,
    stack: str,
    *,
    bucket: str | None,
    delete_bucket: bool = False,
    log: Log = lambda _message: None,
    sleep: Callable[[float], None] = time.sleep,
) -> DestroyResult:
    """Delete ``stack`` and wait; keep its bucket unless ``delete_bucket``; remove the state file."""
    check_stack_name(stack)
    aws.require_credentials()
    existing = _stack_status(aws, stack)
    started = datetime.now(UTC)
    if existing is not None:
        with aws_call("cloudformation:DeleteStack"):
            aws.cloudformation.delete_stack(StackName=stack)
        status = _wait(
            lambda: str((_stack_status(aws, stack) or {}).get("StackStatus", "DELETE_COMPLETE")),
            lambda s: not s.endswith("_IN_PROGRESS"),
            sleep,
        )
        if status != "DELETE_COMPLETE":
            raise DeployFailedError(f"deleting stack {stack} ended {status}: {_failed_reasons(aws, stack, started)}")
        log(f"stack {stack} deleted")
    objects = 0
    if delete_bucket and bucket:
        objects = delete_prefix(aws, bucket, "")
        with aws_call("s3:DeleteBucket"):
            try:
                aws.s3.delete_bucket(Bucket=bucket)
            except ClientError as exc:
                if error_code(exc) != "NoSuchBucket":
                    raise
        log(f"bucket {bucket} emptied ({objects} objects) and deleted")
    removed = delete_stack_state(stack)
    return DestroyResult(
        stack=stack,
        stack_deleted=existing is not None,
        bucket=bucket,
        bucket_deleted=delete_bucket and bucket is not None,
        objects_deleted=objects,
        state_file_removed=removed,
    )
