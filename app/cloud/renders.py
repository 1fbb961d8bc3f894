"""Renders on a deployed stack: start one execution, read its progress, wait, cancel, download the output.

A render id reads like ``r-20261202-153012-ab12cd`` (UTC time plus 6 random hex digits) and IS the
execution's name, so ``progress``/``cancel`` find the execution from the id and the stack's state
machine ARN alone. Layout in the stack's bucket:

* ``sites/<site id>/project.tar.gz``: the project (``app.cloud.sites``);
* ``renders/<render id>/``: plan and chunks (intermediates; expire after 7 days; ``cancel`` removes them);
* ``outputs/<render id>/<name><ext>`` (a prefix ending in ``/`` for png-sequence): the final output.

``start_render`` is deterministic and idempotent: the same execution name with the same input returns
the same execution (Step Functions' own rule, enforced here too), another input under that name is
RENDER_ALREADY_EXISTS. The execution input is ``{ProjectS3Uri, OutputS3Uri, RenderId, Config}``
(infra/template.yaml) with Config in camelCase and sorted keys.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from app.aws.s3_transport import S3Transport
from app.aws.s3_uri import S3Uri
from app.aws.webhook_signing import check_webhook_url
from app.cloud.render_progress import RenderProgress, build_progress
from app.cloud.session import AwsClients, aws_call, error_code
from app.cloud.sites import archive_key, check_site_id, delete_prefix
from app.cloud.stack import StackState, stack_clients
from app.distributed.config import RenderConfig
from app.engine import scratch
from app.engine.formats import format_spec
from app.engine.output_path import MARKER_NAME, mark_output_folder
from app.engine.render import replace_dir
from app.errors import AwsRequestFailedError, RenderAlreadyExistsError, RenderIdInvalidError, RenderNotFoundError

__all__ = [
    "CancelledRender",
    "RenderProgress",
    "StartedRender",
    "cancel_render",
    "check_render_id",
    "download_output",
    "get_progress",
    "new_render_id",
    "start_render",
    "wait_for_render",
]

RENDER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$")
"""Execution names allow 80 characters; we keep to letters, digits, '-' and '_' so ids stay shell-safe."""
RENDERS_PREFIX: Final = "renders/"
OUTPUTS_PREFIX: Final = "outputs/"
DEFAULT_POLL_SECONDS: Final = 2.0
MAX_FAILED_POLLS: Final = 5


class StartedRender(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    render_id: str
    execution_arn: str
    output_uri: str
    started: bool = True  # False: an execution with this name and input was already running or done


class CancelledRender(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    render_id: str
    status_before: str
    stopped: bool
    intermediates_deleted: int


def new_render_id(now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    return f"r-{stamp}-{secrets.token_hex(3)}"


def check_render_id(render_id: str) -> str:
    if not RENDER_ID.match(render_id):
        raise RenderIdInvalidError(
            f"render id {render_id[:100]!r} is not a render id (1-80 letters, digits, '-' or '_', "
            "e.g. r-20261202-153012-ab12cd); copy it from the render command's output"
        )
    return render_id


def execution_arn(state: StackState, render_id: str) -> str:
    """``arn:...:stateMachine:<name>`` → ``arn:...:execution:<name>:<render id>``."""
    return state.state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":" + check_render_id(render_id)


def execution_input(
    state: StackState,
    *,
    site_id: str,
    config: dict[str, Any],
    output_key: str,
    render_id: str,
    webhook_url: str | None = None,
) -> str:
    settings = RenderConfig.parse(config).model_dump(mode="json", by_alias=True, exclude_defaults=True)
    document = {
        "ProjectS3Uri": f"s3://{state.bucket}/{archive_key(check_site_id(site_id))}",
        "OutputS3Uri": f"s3://{state.bucket}/{output_key}",
        "RenderId": render_id,
        "Config": settings,
    }
    if webhook_url is not None:  # only the URL: the signing secret never enters the execution
        document["WebhookUrl"] = check_webhook_url(webhook_url)
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def default_output_key(render_id: str, name: str, fmt: str) -> str:
    spec = format_spec(fmt)
    return f"{OUTPUTS_PREFIX}{render_id}/{name}{'/' if spec.is_sequence else spec.extension}"


def start_render(
    state: StackState,
    *,
    site_id: str,
    config: dict[str, Any],
    output_key: str | None = None,
    render_id: str | None = None,
    execution_name: str | None = None,
    name: str = "output",
    webhook_url: str | None = None,
    aws: AwsClients | None = None,
) -> StartedRender:
    """Start one execution rendering site ``site_id`` with ``config`` (RenderConfig fields, either case).

    The render id defaults to ``execution_name``, else a new readable id; the execution name is the
    render id. ``output_key`` defaults to ``outputs/<render id>/<name><ext>``.
    """
    aws = aws or stack_clients(state)
    render_id = check_render_id(render_id or execution_name or new_render_id())
    if execution_name is not None and execution_name != render_id:
        raise RenderIdInvalidError(
            f"execution name {execution_name!r} must equal the render id {render_id!r}; pass only one of them"
        )
    fmt = RenderConfig.parse(config).format
    key = output_key or default_output_key(render_id, name, fmt)
    document = execution_input(
        state, site_id=site_id, config=config, output_key=key, render_id=render_id, webhook_url=webhook_url
    )
    output_uri = f"s3://{state.bucket}/{key}"
    with aws_call("states:StartExecution"):
        try:
            arn = aws.sfn.start_execution(stateMachineArn=state.state_machine_arn, name=render_id, input=document)[
                "executionArn"
            ]
        except ClientError as exc:
            if error_code(exc) != "ExecutionAlreadyExists":
                raise
            return _existing(state, aws, render_id, document, output_uri)
    return StartedRender(render_id=render_id, execution_arn=str(arn), output_uri=output_uri)


def _existing(state: StackState, aws: AwsClients, render_id: str, document: str, output_uri: str) -> StartedRender:
    described = _describe(state, aws, render_id)
    if json.loads(described.get("input") or "{}") != json.loads(document):
        raise RenderAlreadyExistsError(
            f"render {render_id} already exists on stack {state.stack} with another input; "
            "use a new render id (or omit it to get one)"
        )
    return StartedRender(
        render_id=render_id, execution_arn=str(described["executionArn"]), output_uri=output_uri, started=False
    )


def _describe(state: StackState, aws: AwsClients, render_id: str) -> dict[str, Any]:
    arn = execution_arn(state, render_id)
    with aws_call("states:DescribeExecution"):
        try:
            described: dict[str, Any] = aws.sfn.describe_execution(executionArn=arn)
        except ClientError as exc:
            if error_code(exc) not in {"ExecutionDoesNotExist", "StateMachineDoesNotExist"}:
                raise
            raise RenderNotFoundError(
                f"no render {render_id} on stack {state.stack} ({state.region}); "
                "check the id, or pass the --stack and --region it was started on"
            ) from exc
    return described


def _history(aws: AwsClients, arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": arn, "maxResults": 1000}
    with aws_call("states:GetExecutionHistory"):
        while True:
            page = aws.sfn.get_execution_history(**kwargs)
            events.extend(page["events"])
            if not page.get("nextToken"):
                return events
            kwargs["nextToken"] = page["nextToken"]


def _keys(aws: AwsClients, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    with aws_call("s3:ListObjectsV2"):
        for page in aws.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys.extend(item["Key"] for item in page.get("Contents", []) if "Key" in item)
    return keys


def get_progress(state: StackState, render_id: str, *, aws: AwsClients | None = None) -> RenderProgress:
    """Where render ``render_id`` is now (RENDER_NOT_FOUND when the stack has no such execution)."""
    aws = aws or stack_clients(state)
    described = _describe(state, aws, render_id)
    history = _history(aws, str(described["executionArn"]))
    chunk_keys = _keys(aws, state.bucket, f"{RENDERS_PREFIX}{render_id}/chunks/")
    return build_progress(
        render_id=render_id, described=described, history=history, chunk_keys=chunk_keys, memory_mb=state.memory_mb
    )


def cancel_render(state: StackState, render_id: str, *, aws: AwsClients | None = None) -> CancelledRender:
    """Stop the execution (when running) and delete ``renders/<id>/``; outputs are kept."""
    aws = aws or stack_clients(state)
    described = _describe(state, aws, render_id)
    stopped = False
    if described["status"] == "RUNNING":
        with aws_call("states:StopExecution"):
            aws.sfn.stop_execution(
                executionArn=described["executionArn"],
                error="CANCELLED",
                cause="cancelled with framecast lambda cancel",
            )
        stopped = True
    deleted = delete_prefix(aws, state.bucket, f"{RENDERS_PREFIX}{render_id}/")
    return CancelledRender(
        render_id=render_id, status_before=str(described["status"]), stopped=stopped, intermediates_deleted=deleted
    )


def wait_for_render(
    state: StackState,
    render_id: str,
    on_progress: Callable[[RenderProgress], None] | None = None,
    poll_seconds: float = DEFAULT_POLL_SECONDS,
    *,
    aws: AwsClients | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> RenderProgress:
    """Poll until the render ends; call ``on_progress`` with every snapshot; return the last one.

    A failed poll (AWS_REQUEST_FAILED: throttling, a dropped connection) is retried at the next tick;
    ``MAX_FAILED_POLLS`` in a row give up with the last error (the render itself keeps running).
    """
    failures = 0
    while True:
        try:
            progress = get_progress(state, render_id, aws=aws)
        except AwsRequestFailedError:
            failures += 1
            if failures >= MAX_FAILED_POLLS:
                raise
            sleep(poll_seconds)
            continue
        failures = 0
        if on_progress is not None:
            on_progress(progress)
        if progress.finished:
            return progress
        sleep(poll_seconds)


def download_output(state: StackState, progress: RenderProgress, dest: Path, *, aws: AwsClients | None = None) -> int:
    """Fetch a SUCCEEDED render's output to ``dest`` (checked by the caller), atomically; return bytes."""
    aws = aws or stack_clients(state)
    if progress.status != "SUCCEEDED" or not progress.output_uri:
        raise RenderNotFoundError(
            f"render {progress.render_id} has no output ({progress.status}); wait for it to succeed"
        )
    transport = S3Transport(aws.s3)
    uri = S3Uri.parse(progress.output_uri)
    if not progress.output_uri.endswith("/"):
        return transport.download_file(uri, dest)
    names = sorted(key[len(uri.key) :] for key in _keys(aws, uri.bucket, uri.key))
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = scratch.staging_name(dest, "partial")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        size = sum(transport.download_file(uri.child(name), staging / name) for name in names if name)
        mark_output_folder(staging)
        size += (staging / MARKER_NAME).stat().st_size
        replace_dir(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return size
