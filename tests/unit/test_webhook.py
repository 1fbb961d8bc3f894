"""Webhook signatures, URL rules, the README's verification snippet and the template's webhook wiring."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from pathlib import Path
from typing import Any

import pytest

from app.aws.events import NotifyEvent, parse_event
from app.aws.notify import backoff_delay, build_payload
from app.cloud.webhook import canonical_body, check_webhook_url, sign, signature_header, verify
from app.errors import WebhookUrlInvalidError
from tests.support import cfn_yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = cfn_yaml.load(ROOT / "infra" / "template.yaml")
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
STATES: dict[str, Any] = RESOURCES["RenderStateMachine"]["Properties"]["Definition"]["States"]
SECRET = "s3cr3t-for-tests"
BODY = canonical_body({"Type": "render.succeeded", "RenderId": "r-1", "Status": "SUCCEEDED"})
NOW = 1_800_000_000

# ----------------------------------------------------------------------------------- signatures


def test_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, BODY, NOW) == expected
    assert signature_header(SECRET, BODY, NOW) == f"t={NOW},v1={expected}"


def test_a_fresh_signature_verifies() -> None:
    assert verify(SECRET, BODY, signature_header(SECRET, BODY, NOW), now=NOW + 10)


@pytest.mark.parametrize(
    ("secret", "body", "header_time", "now"),
    [
        ("wrong-secret", BODY, NOW, NOW),  # wrong secret
        (SECRET, BODY.replace(b"SUCCEEDED", b"FAILED"), NOW, NOW),  # tampered body
        (SECRET, BODY + b" ", NOW, NOW),  # one byte more
        (SECRET, BODY, NOW, NOW + 301),  # replayed after the tolerance
        (SECRET, BODY, NOW, NOW - 301),  # from the future
    ],
)
def test_tampering_a_wrong_secret_or_a_replay_is_rejected(secret: str, body: bytes, header_time: int, now: int) -> None:
    assert not verify(secret, body, signature_header(SECRET, BODY, header_time), now=now)


@pytest.mark.parametrize(
    "header", ["", "garbage", "t=abc,v1=00", f"t={NOW}", "v1=00", f"t={NOW},t={NOW},v1=00", f"t={NOW},v1=" + "0" * 64]
)
def test_malformed_headers_are_rejected(header: str) -> None:
    assert not verify(SECRET, BODY, header, now=NOW)


def test_the_timestamp_is_part_of_what_is_signed() -> None:
    moved = signature_header(SECRET, BODY, NOW).replace(f"t={NOW}", f"t={NOW + 1}")
    assert not verify(SECRET, BODY, moved, now=NOW)


def readme_snippet() -> Any:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### Webhooks") :]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert code, "README's Webhooks section has no python snippet"
    lines = [line for line in code.group(1).splitlines() if line.strip()]
    assert len(lines) <= 11, "the README promises a ten-line check"
    namespace: dict[str, Any] = {}
    exec(compile(code.group(1), "README.md", "exec"), namespace)
    return namespace["verify_framecast"]


def test_the_readme_snippet_accepts_a_real_signature_and_rejects_a_bad_one() -> None:
    import time

    verify_framecast = readme_snippet()
    now = int(time.time())
    good = signature_header(SECRET, BODY, now)
    assert verify_framecast(SECRET, BODY, good)
    assert not verify_framecast("other", BODY, good)
    assert not verify_framecast(SECRET, BODY + b"x", good)
    assert not verify_framecast(SECRET, BODY, signature_header(SECRET, BODY, now - 3600))
    assert not verify_framecast(SECRET, BODY, "nonsense")


# ------------------------------------------------------------------------------------------ URLs


@pytest.mark.parametrize(
    "url",
    ["https://example.com/hook", "https://example.com:8443/a?b=c", "http://127.0.0.1:8080/x", "http://localhost/y"],
)
def test_https_and_loopback_http_urls_are_accepted(url: str) -> None:
    assert check_webhook_url(url) == url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://example.com/hook", "must use https"),
        ("http://10.0.0.5/hook", "must use https"),
        ("ftp://example.com/x", "must use https"),
        ("file:///etc/passwd", "has no host"),
        ("https://user:pw@example.com/hook", "carries credentials"),
        ("https://token@example.com/hook", "carries credentials"),
        ("https://example.com/hook#frag", "fragment"),
        ("https://example.com/ho ok", "whitespace"),
        ("https://example.com:99999/x", "not a valid URL"),
        ("https://" + "a" * 3000 + ".com", "at most 2048"),
        ("not a url", "whitespace"),
        ("example.com/hook", "has no host"),
    ],
)
def test_unsafe_or_malformed_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(WebhookUrlInvalidError, match=message):
        check_webhook_url(url)


def test_a_refused_url_never_echoes_its_credentials() -> None:
    with pytest.raises(WebhookUrlInvalidError) as caught:
        check_webhook_url("http://user:hunter2@example.com/hook")
    assert "hunter2" not in caught.value.message


# ------------------------------------------------------------------------------------ notify model


def test_backoff_doubles_up_to_its_cap() -> None:
    assert [backoff_delay(n) for n in range(1, 8)] == [1.0, 2.0, 4.0, 8.0, 16.0, 16.0, 16.0]


def test_the_payload_carries_outcome_but_never_a_secret_or_url() -> None:
    event = parse_event(json.loads((ROOT / "tests" / "events" / "notify.json").read_text()))
    assert isinstance(event, NotifyEvent)
    payload = build_payload(event, event.render_id)
    assert payload["Type"] == "render.succeeded" and payload["Output"]["FramesEncoded"] == 150
    assert "example.com" not in json.dumps(payload)


# ------------------------------------------------------------------------------------- template


def role_statements(role: str) -> list[dict[str, Any]]:
    return [s for p in RESOURCES[role]["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]


def test_the_secret_is_generated_at_deploy_and_named_for_the_stack() -> None:
    secret = RESOURCES["WebhookSecret"]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    assert secret["Properties"]["Name"] == {"Fn::Sub": "${AWS::StackName}-webhook-secret"}
    assert secret["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32
    assert "SecretString" not in secret["Properties"]


def test_only_the_function_role_may_read_the_secret() -> None:
    readers = {
        name
        for name, res in RESOURCES.items()
        if res["Type"] == "AWS::IAM::Role"
        for s in role_statements(name)
        if "secretsmanager:GetSecretValue" in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert readers == {"RenderFunctionRole"}
    grant = next(s for s in role_statements("RenderFunctionRole") if s["Action"] == "secretsmanager:GetSecretValue")
    assert grant["Resource"] == {"Ref": "WebhookSecret"}
    env = RESOURCES["RenderFunction"]["Properties"]["Environment"]["Variables"]
    assert env["FRAMECAST_WEBHOOK_SECRET_ARN"] == {"Ref": "WebhookSecret"}


def test_the_secret_never_enters_the_state_machine() -> None:
    text = json.dumps(RESOURCES["RenderStateMachine"])
    assert "WebhookSecret" not in text and "secretsmanager" not in text


def test_every_working_state_notifies_on_failure_and_the_failure_keeps_its_error() -> None:
    for name in ("Plan", "RenderChunks", "RenderChunksDistributed", "Assemble"):
        catch = STATES[name]["Catch"]
        assert catch == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.Error", "Next": "FailureWebhookRequested"}]
    assert STATES["RenderFailed"] == {"Type": "Fail", "ErrorPath": "$.Error.Error", "CausePath": "$.Error.Cause"}
    for choice in ("WebhookRequested", "FailureWebhookRequested"):
        rule = STATES[choice]["Choices"][0]
        assert (rule["Variable"], rule["IsPresent"]) == ("$$.Execution.Input.WebhookUrl", True)
    assert STATES["FailureWebhookRequested"]["Default"] == "RenderFailed"
    assert STATES["WebhookRequested"]["Default"] == "Rendered"


def test_notify_gets_the_url_from_the_input_and_cannot_change_the_outcome() -> None:
    notify = STATES["Notify"]
    payload = notify["Parameters"]["Payload"]
    assert payload["Action"] == "notify"
    assert payload["WebhookUrl.$"] == "$$.Execution.Input.WebhookUrl"
    assert notify["Catch"][0]["Next"] == notify["Next"] == "RenderOutcome"
    assert notify["ResultPath"] == "$.Webhook"  # keeps $.Error for RenderFailed


def test_a_timed_out_execution_reaches_notify_through_eventbridge() -> None:
    rule = RESOURCES["TimeoutNotifyRule"]["Properties"]
    assert rule["EventPattern"]["detail"] == {
        "status": ["TIMED_OUT"],
        "stateMachineArn": [{"Ref": "RenderStateMachine"}],
    }
    target = rule["Targets"][0]
    assert target["Arn"] == {"Fn::GetAtt": ["RenderFunction", "Arn"]}
    # EventBridge substitutes <executionArn> as a JSON string: the result must be a valid notify event.
    arn = "arn:aws:states:us-east-1:123456789012:execution:prod-render:r-1"
    event = json.loads(target["InputTransformer"]["InputTemplate"].replace("<executionArn>", json.dumps(arn)))
    parsed = parse_event(event)
    assert isinstance(parsed, NotifyEvent) and parsed.outcome.status == "TIMED_OUT" and parsed.webhook_url is None
    permission = RESOURCES["TimeoutNotifyPermission"]["Properties"]
    assert permission["Principal"] == "events.amazonaws.com"
    assert permission["SourceArn"] == {"Fn::GetAtt": ["TimeoutNotifyRule", "Arn"]}
