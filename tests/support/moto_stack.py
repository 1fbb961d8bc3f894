"""A moto server that deploys the REAL infra/template.yaml and runs renders through the REAL handler.

What it changes in moto, in this process (the server runs on a thread here, so patches apply), per
../shared/reference/moto-aws.md:

1. ``LambdaBackend.invoke`` (the backend CloudFormation and the API share) runs each invocation as a
   fresh ``python -m tests.support._lambda_invoke`` subprocess (a cold Lambda; no Playwright browser
   shared between the interpreter's Map threads), with the function's own environment variables plus
   this server as ``AWS_ENDPOINT_URL``. A raised error is answered as awslambdaric does:
   ``x-amz-function-error: Unhandled`` and ``{"errorType", "errorMessage"}``.
2. ``StateMachine.create/update/delete_from_cloudformation_json`` build the definition from
   ``Definition`` + ``DefinitionSubstitutions`` (values arrive resolved) and keep the machine in the
   executing backend (``stepfunctions_parser_backends``), the one the API serves once
   ``stepfunctions.execute_state_machine`` is on.
3. ``execute_change_set`` also rebuilds the stack's outputs and exports (moto fills them on CreateStack/UpdateStack
   only, so a stack made through a change set had none).
4. ``start_execution`` clones the state machine without its past executions: moto deep-copies the
   machine for every execution, and a finished execution holds locks that cannot be copied, so a
   second render on one machine failed with HTTP 500.
5. ``MOTO_PORT`` is this server's port: the interpreter calls Lambda at ``http://localhost:$MOTO_PORT``.

Test seams on ``MotoStack``: ``action_env`` adds environment variables to the invocations of one
action (e.g. a bucket allowlist that makes the real handler refuse a chunk with a typed error);
``hold()`` makes invocations wait until ``release()``, so a render stays RUNNING while a test looks
at it (released invocations do not run the handler); ``invocations`` records (action, error type).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import tempfile
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import boto3
from moto.awslambda.models import LambdaBackend
from moto.cloudformation import models as cfn_models
from moto.server import ThreadedMotoServer
from moto.stepfunctions import models as sfn_models
from moto.stepfunctions.parser import models as parser_models
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from tests.support.s3_backends import free_port

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "template.yaml"
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
IMAGE_URI = f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/framecast-test@sha256:{'ab' * 32}"
INVOKE_TIMEOUT_S = 300


@dataclass
class MotoStack:
    endpoint_url: str
    port: int
    region: str = REGION
    action_env: dict[str, dict[str, str]] = field(default_factory=dict)
    invocations: list[tuple[str, str | None]] = field(default_factory=list)
    _gate: threading.Event = field(default_factory=threading.Event)
    _held: frozenset[str] = frozenset()
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def env(self) -> dict[str, str]:
        """What a client process needs to talk to this server (fake credentials, region, endpoint)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
        }

    def client(self, service: str) -> Any:
        make: Any = boto3.client
        return make(
            service,
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def hold(self, actions: set[str] | frozenset[str] = frozenset({"plan", "renderChunk", "assemble"})) -> None:
        """Invocations of ``actions`` wait until ``release()`` and then fail without running."""
        self._gate.clear()
        self._held = frozenset(actions)

    def release(self) -> None:
        self._held = frozenset()
        self._gate.set()

    def _record(self, action: str, error: str | None) -> None:
        with self._lock:
            self.invocations.append((action, error))

    def invoke(
        self, backend: LambdaBackend, function_name: str, qualifier: str | None, body: Any, headers: dict[str, str]
    ) -> bytes:
        raw = body.decode("utf-8") if isinstance(body, bytes) else (body or "{}")
        event = json.loads(raw)
        action = str(event.get("Action", "unknown")) if isinstance(event, dict) else "unknown"
        if action in self._held:
            self._gate.wait(INVOKE_TIMEOUT_S)
            return self._fail(action, {"errorType": "HELD", "errorMessage": "held by the test, never run"}, headers)
        fn = backend.get_function(function_name, qualifier)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FRAMECAST_"))},
            **(fn.environment_vars or {}),
            **self.env(),
            "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
            **self.action_env.get(action, {}),
        }
        with tempfile.TemporaryDirectory(prefix="moto-lambda-") as work:
            result_path = Path(work) / "result.json"
            env["FRAMECAST_WORK_ROOT"] = str(Path(work) / "tmp")
            proc = subprocess.run(
                [sys.executable, "-m", "tests.support._lambda_invoke", str(result_path)],
                input=raw.encode("utf-8"),
                cwd=ROOT,
                env=env,
                capture_output=True,
                timeout=INVOKE_TIMEOUT_S,
                check=False,
            )
            if not result_path.exists():
                tail = (proc.stderr or b"")[-1500:].decode(errors="replace")
                return self._fail(action, {"errorType": "Runtime.ExitError", "errorMessage": tail}, headers)
            outcome = json.loads(result_path.read_text())
        if not outcome["ok"]:
            return self._fail(action, outcome, headers)
        self._record(action, None)
        payload = json.dumps(outcome["result"]).encode("utf-8")
        headers["Content-Length"] = str(len(payload))
        return payload

    def _fail(self, action: str, error: dict[str, Any], headers: dict[str, str]) -> bytes:
        self._record(action, str(error["errorType"]))
        payload = json.dumps({"errorType": error["errorType"], "errorMessage": error["errorMessage"]}).encode()
        headers["x-amz-function-error"] = "Unhandled"
        headers["Content-Length"] = str(len(payload))
        return payload


def _definition(properties: dict[str, Any]) -> str:
    definition = properties.get("DefinitionString") or json.dumps(properties.get("Definition", {}))
    for name, value in (properties.get("DefinitionSubstitutions") or {}).items():
        definition = definition.replace("${" + name + "}", json.dumps(str(value))[1:-1])
    return str(definition)


def _create_machine(
    cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
) -> Any:
    properties = cloudformation_json["Properties"]
    backend = stepfunctions_parser_backends[account_id][region_name]
    return backend.create_state_machine(
        name=properties.get("StateMachineName", resource_name),
        definition=_definition(properties),
        roleArn=properties.get("RoleArn", ""),
    )


def _update_machine(
    cls: Any, original: Any, new_resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
) -> Any:
    backend = stepfunctions_parser_backends[account_id][region_name]
    backend.delete_state_machine(original.arn)
    return _create_machine(cls, new_resource_name, cloudformation_json, account_id, region_name)


def _delete_machine(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str) -> None:
    backend = stepfunctions_parser_backends[account_id][region_name]
    arn = resource_name
    if not arn.startswith("arn:"):
        arn = f"arn:aws:states:{region_name}:{account_id}:stateMachine:{resource_name}"
    backend.delete_state_machine(arn)


_ORIGINAL_EXECUTE = cfn_models.CloudFormationBackend.execute_change_set


def _execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
    _ORIGINAL_EXECUTE(self, change_set_name, stack_name)
    for stack in self.stacks.values():
        if stack.name == stack_name or stack.stack_id == stack_name or stack_name is None:
            stack._parse_template()
            stack.output_map = stack._create_output_map()
            for export in stack.exports:
                self.exports[export.name] = export


def _clone_without_executions(machine: Any, memo: Any = None) -> Any:
    executions = getattr(machine, "executions", None)
    if not isinstance(executions, list):
        return copy.deepcopy(machine, memo)
    machine.executions = []
    try:
        return copy.deepcopy(machine, memo)
    finally:
        machine.executions = executions


@contextmanager
def moto_stack_server() -> Iterator[MotoStack]:
    """Start the patched server on a free loopback port; stop it (and undo the patches) afterwards."""
    port = free_port()
    stack = MotoStack(endpoint_url=f"http://127.0.0.1:{port}", port=port)

    def invoke(
        self: LambdaBackend, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
    ) -> bytes:
        return stack.invoke(self, function_name, qualifier, body, response_headers)

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    with (
        mock.patch.object(LambdaBackend, "invoke", invoke),
        mock.patch.object(cfn_models.CloudFormationBackend, "execute_change_set", _execute_change_set),
        mock.patch.object(sfn_models.StateMachine, "create_from_cloudformation_json", classmethod(_create_machine)),
        mock.patch.object(sfn_models.StateMachine, "update_from_cloudformation_json", classmethod(_update_machine)),
        mock.patch.object(sfn_models.StateMachine, "delete_from_cloudformation_json", classmethod(_delete_machine)),
        mock.patch.object(parser_models, "copy", SimpleNamespace(deepcopy=_clone_without_executions)),
        mock.patch.dict(os.environ, {"MOTO_PORT": str(port)}),
    ):
        server.start()
        try:
            request = urllib.request.Request(
                f"{stack.endpoint_url}/moto-api/config",
                data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
                method="POST",
            )
            urllib.request.urlopen(request, timeout=10).close()
            yield stack
        finally:
            stack.release()
            server.stop()
