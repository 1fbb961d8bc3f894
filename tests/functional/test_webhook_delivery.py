"""The completion webhook end to end: a receiver on 127.0.0.1 gets ONE correctly signed POST.

The notify action runs through the REAL handler (secret read from moto's Secrets Manager), the state
machine path through the REAL definition in moto (tests/support/sfn_harness.py) with plan/chunk/assemble
faked and notify real; retries and give-ups through ``deliver`` with a recorded sleep.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import pytest
from moto import mock_aws

from app.aws import handler as handler_module
from app.aws import notify
from app.aws.handler import lambda_error_class
from app.aws.settings import get_settings
from app.cloud import cost
from app.cloud.webhook import SIGNATURE_HEADER, verify
from tests.support import sfn_harness
from tests.support.webhook_receiver import Received, WebhookReceiver

TEMPLATE = Path(__file__).resolve().parents[2] / "infra" / "template.yaml"
SECRET = "unit-secret-for-notify-0123456789"
EXECUTION_ARN = "arn:aws:states:us-east-1:123456789012:execution:prod-render:r-1"
HASH = "a" * 64
FAST_SLEEPS: list[float] = []


@pytest.fixture(autouse=True)
def _fresh_function_state() -> Iterator[None]:
    # The handler caches its settings and deps per container; every test here is a new "container".
    get_settings.cache_clear()
    handler_module.default_deps.cache_clear()
    notify._default_deps.cache_clear()
    yield
    get_settings.cache_clear()
    handler_module.default_deps.cache_clear()
    notify._default_deps.cache_clear()


@pytest.fixture
def secret_env() -> Iterator[str]:
    with mock_aws():
        arn = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
            Name="prod-webhook-secret", SecretString=SECRET
        )["ARN"]
        env = {"FRAMECAST_WEBHOOK_SECRET_ARN": arn, "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"}
        with mock.patch.dict(os.environ, env):
            yield arn


def notify_event(url: str, outcome: dict[str, Any]) -> dict[str, Any]:
    return {"Action": "notify", "ExecutionArn": EXECUTION_ARN, "RenderId": "r-1", "WebhookUrl": url, "Outcome": outcome}


def only_request(receiver: WebhookReceiver) -> tuple[Received, dict[str, Any]]:
    assert len(receiver.requests) == 1, receiver.requests
    received = receiver.requests[0]
    return received, json.loads(received.body)


SUCCESS = {
    "Status": "SUCCEEDED",
    "Output": {"OutputS3Uri": "s3://b/outputs/r-1.mp4", "FramesEncoded": 60, "FileSize": 1234, "DurationMs": 50},
}
LAMBDA_CAUSE = json.dumps(
    {"errorMessage": "plan hash differs; re-plan", "errorType": "PLAN_HASH_MISMATCH", "stackTrace": ["  File x"]}
)


# -------------------------------------------------------------------------------- the real handler


def test_notify_on_success_posts_one_signed_json_through_the_real_handler(secret_env: str) -> None:
    with WebhookReceiver() as receiver:
        result = handler_module.handler(notify_event(receiver.url, SUCCESS), None)

    received, payload = only_request(receiver)
    assert result == {"Delivered": True, "Attempts": 1, "StatusCode": 200, "Detail": "delivered"}
    assert verify(SECRET, received.body, received.headers[SIGNATURE_HEADER])
    assert received.headers["Content-Type"] == "application/json"
    assert payload == {
        "Type": "render.succeeded",
        "RenderId": "r-1",
        "ExecutionArn": EXECUTION_ARN,
        "Status": "SUCCEEDED",
        "Output": SUCCESS["Output"],
        "Error": None,
    }
    assert SECRET not in received.body.decode() and SECRET not in json.dumps(result)


def test_notify_on_failure_posts_the_error_code_and_message_without_the_stack_trace(secret_env: str) -> None:
    outcome = {"Status": "FAILED", "Error": {"Error": "PLAN_HASH_MISMATCH", "Cause": LAMBDA_CAUSE}}
    with WebhookReceiver() as receiver:
        handler_module.handler(notify_event(receiver.url, outcome), None)

    received, payload = only_request(receiver)
    assert verify(SECRET, received.body, received.headers[SIGNATURE_HEADER])
    assert payload["Type"] == "render.failed" and payload["Status"] == "FAILED"
    assert payload["Error"] == {"Code": "PLAN_HASH_MISMATCH", "Message": "plan hash differs; re-plan"}
    assert "stackTrace" not in received.body.decode()


def test_a_timed_out_execution_is_notified_from_its_arn_alone(secret_env: str) -> None:
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    machine = sfn.create_state_machine(
        name="prod-render",
        definition=json.dumps({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}),
        roleArn="arn:aws:iam::123456789012:role/x",
    )["stateMachineArn"]
    with WebhookReceiver() as receiver:
        arn = sfn.start_execution(
            stateMachineArn=machine, name="r-9", input=json.dumps({"RenderId": "r-9", "WebhookUrl": receiver.url})
        )["executionArn"]
        # What the TimeoutNotifyRule's InputTransformer sends (tests/unit/test_webhook_template.py).
        result = handler_module.handler(
            {"Action": "notify", "ExecutionArn": arn, "Outcome": {"Status": "TIMED_OUT"}}, None
        )

    received, payload = only_request(receiver)
    assert result["Delivered"] is True
    assert verify(SECRET, received.body, received.headers[SIGNATURE_HEADER])
    assert (payload["Type"], payload["RenderId"], payload["ExecutionArn"]) == ("render.timed_out", "r-9", arn)
    assert payload["Error"]["Code"] == "States.Timeout"


def test_a_timed_out_execution_without_a_webhook_posts_nothing(secret_env: str) -> None:
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    machine = sfn.create_state_machine(
        name="prod-render",
        definition=json.dumps({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}),
        roleArn="arn:aws:iam::123456789012:role/x",
    )["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"RenderId": "r-2"}))["executionArn"]
    result = handler_module.handler({"Action": "notify", "ExecutionArn": arn, "Outcome": {"Status": "TIMED_OUT"}}, None)
    assert result == {
        "Delivered": False,
        "Attempts": 0,
        "StatusCode": None,
        "Detail": "the execution asked for no webhook",
    }


@pytest.mark.parametrize(
    "url",
    ["http://example.com/hook", "https://user:pw@example.com/hook", "ftp://127.0.0.1/x", "https:///nohost"],
)
def test_the_handler_refuses_an_unsafe_url_before_posting(secret_env: str, url: str) -> None:
    with pytest.raises(Exception) as caught:
        handler_module.handler(notify_event(url, SUCCESS), None)
    assert type(caught.value).__name__ == "INVALID_EVENT"
    assert "WebhookUrl" in str(caught.value)


def test_a_missing_secret_fails_with_its_code_and_posts_nothing(secret_env: str) -> None:
    with (
        mock.patch.dict(os.environ, {"FRAMECAST_WEBHOOK_SECRET_ARN": secret_env + "-gone"}),
        WebhookReceiver() as receiver,
        pytest.raises(Exception) as caught,
    ):
        handler_module.handler(notify_event(receiver.url, SUCCESS), None)
    assert type(caught.value).__name__ == "WEBHOOK_SECRET_UNAVAILABLE"
    assert receiver.requests == []


# ------------------------------------------------------------------------------ retries and give-ups


def fake_deps(sleeps: list[float]) -> notify.NotifyDeps:
    return notify.NotifyDeps(
        secret=lambda: SECRET, execution_input=lambda arn: {}, post=notify.http_post, sleep=sleeps.append
    )


def test_a_500_is_retried_with_exponential_backoff_and_every_attempt_is_signed() -> None:
    sleeps: list[float] = []
    with WebhookReceiver(statuses=[500, 503, 200]) as receiver:
        result = notify.deliver(receiver.url, {"Type": "render.succeeded", "RenderId": "r"}, fake_deps(sleeps))

    assert (result.delivered, result.attempts, result.status_code) == (True, 3, 200)
    assert sleeps == [1.0, 2.0]
    assert len({r.body for r in receiver.requests}) == 1  # the same bytes every time
    assert all(verify(SECRET, r.body, r.headers[SIGNATURE_HEADER]) for r in receiver.requests)


def test_a_receiver_that_keeps_failing_is_given_up_after_the_last_attempt() -> None:
    sleeps: list[float] = []
    with WebhookReceiver(statuses=[502]) as receiver:
        result = notify.deliver(receiver.url, {"Type": "render.failed"}, fake_deps(sleeps))
    assert (result.delivered, result.attempts, result.status_code) == (False, notify.MAX_ATTEMPTS, 502)
    assert len(receiver.requests) == notify.MAX_ATTEMPTS
    assert sleeps == [1.0, 2.0, 4.0, 8.0]


@pytest.mark.parametrize("status", [400, 404, 302])
def test_a_client_error_or_redirect_is_not_retried(status: int) -> None:
    sleeps: list[float] = []
    with WebhookReceiver(statuses=[status]) as receiver:
        result = notify.deliver(receiver.url, {"Type": "render.failed"}, fake_deps(sleeps))
    assert (result.delivered, result.attempts, result.status_code) == (False, 1, status)
    assert len(receiver.requests) == 1 and sleeps == []


def test_an_unreachable_receiver_is_retried_then_given_up() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps: list[float] = []
    result = notify.deliver(f"http://127.0.0.1:{port}/hook", {"Type": "render.failed"}, fake_deps(sleeps))
    assert (result.delivered, result.attempts, result.status_code) == (False, notify.MAX_ATTEMPTS, None)
    assert "network error" in result.detail and len(sleeps) == notify.MAX_ATTEMPTS - 1


# --------------------------------------------------------------------------- the real state machine


def fake_render(chunks: int, fail_chunk: int | None = None) -> sfn_harness.Handler:
    """plan/renderChunk/assemble answered with canned results; notify runs through the REAL handler."""

    def handle(event: dict[str, Any], context: Any) -> Any:
        action = event["Action"]
        if action == "notify":
            return handler_module.handler(event, context)
        if action == "plan":
            return {
                "PlanHash": HASH,
                "ChunkCount": chunks,
                "ChunkIndexes": list(range(chunks)),
                "TotalFrames": chunks * 10,
                "Format": "mp4",
                "PlanManifestS3Uri": "s3://framecast-test-renders/renders/r-1/plan/plan-manifest.json",
            }
        if action == "renderChunk":
            if event["ChunkIndex"] == fail_chunk:
                raise lambda_error_class("PLAN_HASH_MISMATCH")("the event's PlanHash does not match; re-plan")
            return {"ChunkIndex": event["ChunkIndex"], "ChunkS3Uri": f"s3://b/c/{event['ChunkIndex']}.mp4"}
        return {"OutputS3Uri": event["OutputS3Uri"], "FramesEncoded": chunks * 10, "FileSize": 99, "DurationMs": 5}

    return handle


def run(chunks: int, webhook: str | None, fail_chunk: int | None = None) -> sfn_harness.ExecutionOutcome:
    execution_input: dict[str, Any] = {
        "ProjectS3Uri": "s3://framecast-test-renders/renders/r-1/project.tar.gz",
        "OutputS3Uri": "s3://framecast-test-renders/outputs/r-1.mp4",
        "RenderId": "r-1",
        "Config": {},
    }
    if webhook is not None:
        execution_input["WebhookUrl"] = webhook
    return sfn_harness.run_state_machine(TEMPLATE, fake_render(chunks, fail_chunk), execution_input)


def test_a_successful_render_posts_one_signed_webhook_from_the_state_machine() -> None:
    with WebhookReceiver() as receiver:
        outcome = run(3, receiver.url)

    assert outcome.status == "SUCCEEDED", (outcome.error, outcome.cause)
    received, payload = only_request(receiver)
    assert verify(sfn_harness.WEBHOOK_SECRET, received.body, received.headers[SIGNATURE_HEADER])
    assert (payload["Type"], payload["RenderId"], payload["Status"]) == ("render.succeeded", "r-1", "SUCCEEDED")
    assert payload["Output"]["OutputS3Uri"] == "s3://framecast-test-renders/outputs/r-1.mp4"
    assert payload["ExecutionArn"].startswith("arn:aws:states:")
    assert len(outcome.calls("notify")) == 1
    # The secret never enters the execution's input, state or history.
    assert sfn_harness.WEBHOOK_SECRET not in json.dumps(outcome.history, default=str)


def test_a_failed_render_posts_one_webhook_and_still_fails_with_the_original_error() -> None:
    with WebhookReceiver() as receiver:
        outcome = run(3, receiver.url, fail_chunk=1)

    assert outcome.status == "FAILED"
    assert outcome.error == "PLAN_HASH_MISMATCH"
    assert "re-plan" in (outcome.cause or "")
    received, payload = only_request(receiver)
    assert verify(sfn_harness.WEBHOOK_SECRET, received.body, received.headers[SIGNATURE_HEADER])
    assert payload["Status"] == "FAILED" and payload["Error"]["Code"] == "PLAN_HASH_MISMATCH"
    assert "re-plan" in payload["Error"]["Message"]


def test_without_a_webhook_url_nothing_is_posted_and_failures_keep_their_error() -> None:
    ok = run(2, None)
    failed = run(2, None, fail_chunk=0)
    assert ok.status == "SUCCEEDED" and ok.calls("notify") == []
    assert (failed.status, failed.error) == ("FAILED", "PLAN_HASH_MISMATCH")
    assert failed.calls("notify") == []


def test_an_undeliverable_webhook_does_not_fail_a_successful_render(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notify, "MAX_ATTEMPTS", 2)
    monkeypatch.setattr(notify, "BASE_DELAY_SECONDS", 0.01)
    with WebhookReceiver(statuses=[500]) as receiver:
        outcome = run(1, receiver.url)
    assert outcome.status == "SUCCEEDED"
    assert len(receiver.requests) == 2
    assert outcome.output["Webhook"] == {"Delivered": False, "Attempts": 2}


@pytest.mark.parametrize(("chunks", "webhook"), [(1, False), (3, False), (3, True)])
def test_state_transitions_of_a_run_are_what_the_cost_model_counts(chunks: int, webhook: bool) -> None:
    with WebhookReceiver() as receiver:
        outcome = run(chunks, receiver.url if webhook else None)
    assert outcome.status == "SUCCEEDED"
    assert len(outcome.entered_states()) == cost.state_transitions(chunks, webhook=webhook)
