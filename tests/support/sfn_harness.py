"""Run the REAL state machine from infra/template.yaml in moto, with its Lambda invokes routed to Python.

moto (``stepfunctions.execute_state_machine``) interprets the Amazon States Language definition:
Choice, Map (inline and distributed), Retry, ``arn:aws:states:::lambda:invoke``. Its Lambda backend
without Docker never runs code, so this harness replaces ``LambdaSimpleBackend.invoke`` with a call to
``handler(event, context)``; everything between the state machine and the handler is moto's.

How a handler's outcome reaches Step Functions (the same as awslambdaric does on AWS):

* a return value is JSON-encoded and becomes the task's ``Payload`` (a value JSON cannot encode
  fails as ``Runtime.MarshalError``);
* a raised exception becomes a function error: the response carries ``X-Amz-Function-Error:
  Unhandled`` and the body ``{"errorType": type(exc).__name__, "errorMessage": str(exc),
  "stackTrace": [...]}``. moto's interpreter then fails the task with error name = ``errorType``,
  which is what ``Retry``/``ErrorEquals`` match. So to fail with ``PLAN_HASH_MISMATCH`` a handler
  raises an exception whose class is *named* ``PLAN_HASH_MISMATCH`` (what app.aws.handler does).

Usage::

    outcome = run_state_machine(TEMPLATE, handler, {"ProjectS3Uri": ..., "RenderId": ...})
    status, output, error, cause, invocations = outcome   # or outcome.status, ...

The function's environment variables from the template are set while the execution runs (``!Ref`` to
the bucket resolves to the mocked bucket), plus ``AWS_REGION``/``AWS_DEFAULT_REGION`` as Lambda sets
them, so a real handler sees what it would see on AWS. Retry waits are recorded, not slept
(``fast_retries``).
"""

from __future__ import annotations

import functools
import io
import json
import os
import re
import threading
import time
import traceback
import uuid
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import boto3
from moto import mock_aws
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.stepfunctions.parser.asl.component.common.path import result_path
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.utils import json_path

from tests.support import cfn_yaml

Handler = Callable[[dict[str, Any], Any], Any]

ACCOUNT_ID = "123456789012"  # moto's default account
DEFAULT_REGION = "us-east-1"
DEFAULT_BUCKET = "framecast-test-renders"
FUNCTION_NAME = "framecast-test-render"
# The stack's webhook signing secret as the harness creates it (``AWS::SecretsManager::Secret`` in the template).
WEBHOOK_SECRET = "harness-webhook-secret-0123456789abcdef"
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}

_UNRESOLVED = re.compile(r"\$\{[A-Za-z0-9_]+\}")

# jsonpath_ng rebuilds its LALR tables on every parse (~40 ms a path, most of a run's time); parsed
# paths are never mutated, so one cache serves every run in the process.
_JSON_PATH_PARSE = functools.lru_cache(maxsize=None)(json_path.parse)
_RESULT_PATH_PARSE = functools.lru_cache(maxsize=None)(result_path.parse)


@dataclass(frozen=True)
class Invocation:
    """One call of the handler; ``invocations`` lists them in the order they returned."""

    event: dict[str, Any]
    result: Any = None
    error_type: str | None = None
    error_message: str | None = None

    @property
    def action(self) -> str | None:
        return self.event.get("Action")


@dataclass(frozen=True)
class ExecutionOutcome:
    """How an execution ended. Unpacks as ``(status, output, error, cause, invocations)``."""

    status: str
    output: Any
    error: str | None
    cause: str | None
    invocations: list[Invocation]
    history: list[dict[str, Any]] = field(default_factory=list)
    retry_delays: list[float] = field(default_factory=list)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.status, self.output, self.error, self.cause, self.invocations))

    def calls(self, action: str) -> list[Invocation]:
        return [inv for inv in self.invocations if inv.action == action]

    def entered_states(self) -> list[str]:
        """Names of the states entered, inline Map iterations included, in history order.

        Distributed Map children run as child executions, so their states are not in this history.
        """
        return [
            event["stateEnteredEventDetails"]["name"] for event in self.history if "stateEnteredEventDetails" in event
        ]


@dataclass(frozen=True)
class MockStack:
    """What the harness created inside the mock; handed to ``setup``."""

    region: str
    bucket: str
    function_arn: str
    role_arn: str
    webhook_secret_arn: str = ""


@dataclass(frozen=True)
class FakeLambdaContext:
    """The attributes of awslambdaric's LambdaContext that handlers and Powertools read."""

    function_name: str
    invoked_function_arn: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    memory_limit_in_mb: str = "10240"
    function_version: str = "$LATEST"
    log_group_name: str = f"/aws/lambda/{FUNCTION_NAME}"
    log_stream_name: str = "harness"
    deadline_epoch_ms: int = field(default_factory=lambda: int(time.time() * 1000) + 900_000)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.deadline_epoch_ms - int(time.time() * 1000))


def state_machine_resource(template: Mapping[str, Any]) -> dict[str, Any]:
    """The template's one ``AWS::StepFunctions::StateMachine`` resource."""
    found = [res for res in template["Resources"].values() if res["Type"] == "AWS::StepFunctions::StateMachine"]
    if len(found) != 1:
        raise ValueError(f"expected one AWS::StepFunctions::StateMachine, found {len(found)}")
    return found[0]


def load_definition(template_path: str | Path, substitutions: Mapping[str, str]) -> dict[str, Any]:
    """The state machine definition with its ``DefinitionSubstitutions`` replaced by ``substitutions``."""
    resource = state_machine_resource(cfn_yaml.load(template_path))
    declared = set(resource["Properties"].get("DefinitionSubstitutions", {}))
    missing = declared - set(substitutions)
    if missing:
        raise ValueError(f"no value for DefinitionSubstitutions {sorted(missing)}")
    text = json.dumps(resource["Properties"]["Definition"])
    for key, value in substitutions.items():
        # Substitute the JSON-escaped form: the placeholder sits inside a JSON string.
        text = text.replace("${" + key + "}", json.dumps(value)[1:-1])
    leftover = _UNRESOLVED.findall(text)
    if leftover:
        raise ValueError(f"unresolved placeholders {sorted(set(leftover))} in the definition")
    definition: dict[str, Any] = json.loads(text)
    return definition


def function_environment(template_path: str | Path, bucket: str, secret_arn: str = "") -> dict[str, str]:
    """The render function's environment variables, with ``!Ref`` to the bucket (and secret) resolved."""
    template = cfn_yaml.load(template_path)
    functions = [res for res in template["Resources"].values() if res["Type"] == "AWS::Lambda::Function"]
    if len(functions) != 1:
        raise ValueError(f"expected one AWS::Lambda::Function, found {len(functions)}")
    buckets = {name for name, res in template["Resources"].items() if res["Type"] == "AWS::S3::Bucket"}
    secrets = {name for name, res in template["Resources"].items() if res["Type"] == "AWS::SecretsManager::Secret"}
    variables = functions[0]["Properties"].get("Environment", {}).get("Variables", {})
    env: dict[str, str] = {}
    for name, value in variables.items():
        if isinstance(value, str):
            env[name] = value
        elif isinstance(value, dict) and value.get("Ref") in buckets:
            env[name] = bucket
        elif isinstance(value, dict) and value.get("Ref") in secrets and secret_arn:
            env[name] = secret_arn
        else:
            raise ValueError(f"cannot resolve environment variable {name}={value!r} outside CloudFormation")
    return env


def lambda_error_payload(exc: BaseException, request_id: str) -> dict[str, Any]:
    """The body awslambdaric posts for an unhandled exception."""
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_list(traceback.extract_tb(exc.__traceback__)),
    }


class _Router:
    """Stands in for ``LambdaSimpleBackend.invoke``: calls the handler and records each call."""

    def __init__(self, handler: Handler, function_arn: str) -> None:
        self._handler = handler
        self._function_arn = function_arn
        self._lock = threading.Lock()
        self.invocations: list[Invocation] = []

    def invoke(self, body: Any, response_headers: dict[str, str]) -> bytes:
        raw = body.decode("utf-8") if isinstance(body, bytes) else (body or "{}")
        event = json.loads(raw)
        context = FakeLambdaContext(function_name=FUNCTION_NAME, invoked_function_arn=self._function_arn)
        try:
            result = self._handler(event, context)
        except Exception as exc:
            return self._fail(event, lambda_error_payload(exc, context.aws_request_id), response_headers)
        try:
            payload = json.dumps(result).encode("utf-8")
        except (TypeError, ValueError) as exc:
            error = {"errorMessage": f"Unable to marshal response: {exc}", "errorType": "Runtime.MarshalError"}
            return self._fail(event, error, response_headers)
        self._record(Invocation(event, result))
        return payload

    def _fail(self, event: dict[str, Any], error: dict[str, Any], response_headers: dict[str, str]) -> bytes:
        self._record(Invocation(event, None, error["errorType"], error["errorMessage"]))
        response_headers["x-amz-function-error"] = "Unhandled"
        return json.dumps(error).encode("utf-8")

    def _record(self, invocation: Invocation) -> None:
        with self._lock:
            self.invocations.append(invocation)


class _ClientCache:
    """moto's interpreter builds a new boto3 client for every Lambda task (~70 ms each); reuse one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str], Any] = {}
        self._build = lambda_eval_utils.boto_client_for

    def __call__(self, region: str, service: str, state_credentials: Any = None) -> Any:
        with self._lock:
            key = (region, service)
            if key not in self._clients:
                self._clients[key] = self._build(region=region, service=service, state_credentials=None)
            return self._clients[key]


def _history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events.extend(page["events"])
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def _create_stack(region: str, bucket: str, create_bucket: bool) -> MockStack:
    iam = boto3.client("iam", region_name=region)
    role_arn = iam.create_role(
        RoleName="framecast-test-role",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("handler.py", "def handler(event, context):\n    return event\n")
    function_arn = boto3.client("lambda", region_name=region).create_function(
        FunctionName=FUNCTION_NAME,
        Runtime="python3.11",
        Role=role_arn,
        Handler="handler.handler",
        Code={"ZipFile": archive.getvalue()},
    )["FunctionArn"]
    if create_bucket:
        s3 = boto3.client("s3", region_name=region)
        if region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    secret_arn = boto3.client("secretsmanager", region_name=region).create_secret(
        Name="framecast-test-webhook-secret", SecretString=WEBHOOK_SECRET
    )["ARN"]
    return MockStack(
        region=region, bucket=bucket, function_arn=function_arn, role_arn=role_arn, webhook_secret_arn=secret_arn
    )


def run_state_machine(
    template_path: str | Path,
    handler: Handler,
    execution_input: Mapping[str, Any],
    *,
    region: str = DEFAULT_REGION,
    bucket: str = DEFAULT_BUCKET,
    create_bucket: bool = True,
    setup: Callable[[MockStack], None] | None = None,
    after: Callable[[MockStack], None] | None = None,
    fast_retries: bool = True,
    timeout_s: float = 30.0,
) -> ExecutionOutcome:
    """Start one execution of the template's state machine in moto and wait for it to end.

    ``handler`` is any ``(event, context) -> result`` callable, e.g. ``app.aws.handler.handler``; it
    is called from moto's worker threads, concurrently for Map iterations. ``setup`` runs inside the
    mock after the role, function and bucket exist (upload a project there); ``after`` runs inside the
    mock once the execution ended (read what it wrote to S3). Raises ``TimeoutError``
    if the execution is still running after ``timeout_s``.
    """
    retry_delays: list[float] = []
    sleeper = SimpleNamespace(sleep=retry_delays.append) if fast_retries else time
    with (
        mock_aws(config=MOTO_CONFIG),
        mock.patch.object(retrier_decl, "time", sleeper),
        mock.patch.object(lambda_eval_utils, "boto_client_for", _ClientCache()),
        mock.patch.object(json_path, "parse", _JSON_PATH_PARSE),
        mock.patch.object(result_path, "parse", _RESULT_PATH_PARSE),
    ):
        stack = _create_stack(region, bucket, create_bucket)
        router = _Router(handler, stack.function_arn)
        environ = {
            **function_environment(template_path, bucket, stack.webhook_secret_arn),
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
        }

        def routed_invoke(
            self: LambdaSimpleBackend,
            function_name: str,
            qualifier: str | None,
            body: Any,
            headers: Any,
            response_headers: dict[str, str],
        ) -> bytes:
            return router.invoke(body, response_headers)

        with (
            mock.patch.object(LambdaSimpleBackend, "invoke", routed_invoke),
            mock.patch.dict(os.environ, environ),
        ):
            if setup is not None:
                setup(stack)
            definition = load_definition(
                template_path, {"RenderFunctionArn": stack.function_arn, "RenderBucketName": bucket}
            )
            sfn = boto3.client("stepfunctions", region_name=region)
            machine_arn = sfn.create_state_machine(
                name="framecast-test-render",
                definition=json.dumps(definition),
                roleArn=stack.role_arn,
                type="STANDARD",
            )["stateMachineArn"]
            execution_arn = sfn.start_execution(stateMachineArn=machine_arn, input=json.dumps(execution_input))[
                "executionArn"
            ]
            deadline = time.monotonic() + timeout_s
            while (described := sfn.describe_execution(executionArn=execution_arn))["status"] == "RUNNING":
                if time.monotonic() > deadline:
                    sfn.stop_execution(executionArn=execution_arn)
                    raise TimeoutError(f"execution still RUNNING after {timeout_s} s")
                time.sleep(0.1)
            history = _history(sfn, execution_arn)
            if after is not None:
                after(stack)
    output = json.loads(described["output"]) if described.get("output") else None
    return ExecutionOutcome(
        status=described["status"],
        output=output,
        error=described.get("error"),
        cause=described.get("cause"),
        invocations=list(router.invocations),
        history=history,
        retry_delays=retry_delays,
    )
