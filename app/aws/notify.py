"""The ``notify`` action: post ONE signed completion webhook for a render, retried with backoff.

Called by the state machine after Assemble (SUCCEEDED) and from its Catch (FAILED), and by the
stack's EventBridge rule when an execution TIMED_OUT (that event carries only the execution ARN, so
the RenderId and WebhookUrl are read from the execution's input with ``states:DescribeExecution``).

Delivery: the body is ``canonical_body(payload)``, the same bytes on every attempt; each attempt is
signed afresh (``X-Framecast-Signature: t=...,v1=...``, app.aws.webhook_signing) so a late retry still
falls inside a receiver's tolerance. A 2xx ends it; 408, 425, 429, any 5xx and network errors are
retried up to ``MAX_ATTEMPTS`` times with exponential backoff; any other answer (a 4xx, or a
redirect, which is never followed) ends it undelivered. The action returns the outcome instead of
raising: a webhook that cannot be delivered never changes the render's own result.

The secret is read from Secrets Manager (``FRAMECAST_WEBHOOK_SECRET_ARN``) once per container and is
never logged, returned or put in the body; the URL is not logged either (its query may hold a token).
"""

from __future__ import annotations

import functools
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from app.aws.events import NotifyEvent, NotifyResultOut
from app.aws.settings import Settings
from app.aws.webhook_signing import EVENT_HEADER, SIGNATURE_HEADER, canonical_body, check_webhook_url, signature_header
from app.errors import InvalidEventError, WebhookSecretUnavailableError

MAX_ATTEMPTS: Final = 5
BASE_DELAY_SECONDS: Final = 1.0
MAX_DELAY_SECONDS: Final = 16.0
POST_TIMEOUT_SECONDS: Final = 10.0
MAX_MESSAGE_CHARS: Final = 1000
RETRY_STATUSES: Final = frozenset({408, 425, 429})
EVENT_TYPES: Final = {"SUCCEEDED": "render.succeeded", "FAILED": "render.failed", "TIMED_OUT": "render.timed_out"}

Post = Callable[[str, bytes, dict[str, str], float], int]


@dataclass(frozen=True)
class NotifyDeps:
    """The outside world of ``run_notify``; tests replace any part."""

    secret: Callable[[], str]
    execution_input: Callable[[str], dict[str, Any]]
    post: Post
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect could send the signed body somewhere the user never named: treat it as an answer.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def http_post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST ``body``; the HTTP status (3xx/4xx/5xx included). Network failures raise OSError."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return int(exc.code)


def _secret_reader(secret_arn: str | None) -> Callable[[], str]:
    @functools.cache
    def read() -> str:
        if not secret_arn:
            raise WebhookSecretUnavailableError(
                "FRAMECAST_WEBHOOK_SECRET_ARN is not set; deploy the stack from infra/template.yaml, which sets it"
            )
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            value = boto3.client("secretsmanager").get_secret_value(SecretId=secret_arn).get("SecretString")
        except (BotoCoreError, ClientError) as exc:
            raise WebhookSecretUnavailableError(
                f"cannot read the webhook secret {secret_arn.rsplit(':', 1)[-1]} ({type(exc).__name__}); check that "
                "the function's role may secretsmanager:GetSecretValue on it"
            ) from exc
        if not value:
            raise WebhookSecretUnavailableError("the webhook secret has no SecretString; redeploy the stack")
        return str(value)

    return read


def _execution_input(execution_arn: str) -> dict[str, Any]:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        described = boto3.client("stepfunctions").describe_execution(executionArn=execution_arn)
    except (BotoCoreError, ClientError) as exc:
        raise InvalidEventError(f"cannot describe execution {execution_arn} ({exc}); check the ExecutionArn") from exc
    loaded = json.loads(described.get("input") or "{}")
    return loaded if isinstance(loaded, dict) else {}


@functools.cache
def _default_deps(secret_arn: str | None) -> NotifyDeps:
    return NotifyDeps(secret=_secret_reader(secret_arn), execution_input=_execution_input, post=http_post)


def default_notify_deps(settings: Settings) -> NotifyDeps:
    """The real secret reader, execution reader and HTTP poster (built once per container)."""
    return _default_deps(settings.webhook_secret_arn)


def _error_message(cause: str | None) -> str | None:
    """A Lambda failure's Cause is its error document as JSON: keep errorMessage, never the stack trace."""
    if cause is None:
        return None
    try:
        document = json.loads(cause)
    except ValueError:
        document = None
    if isinstance(document, dict) and isinstance(document.get("errorMessage"), str):
        cause = document["errorMessage"]
    return cause[:MAX_MESSAGE_CHARS]


def build_payload(event: NotifyEvent, render_id: str | None) -> dict[str, Any]:
    """The JSON a receiver gets (PascalCase, like every framecast wire document)."""
    outcome = event.outcome
    error = None
    if outcome.error is not None:
        error = {"Code": outcome.error.error, "Message": _error_message(outcome.error.cause)}
    elif outcome.status == "TIMED_OUT":
        error = {"Code": "States.Timeout", "Message": "the render exceeded the state machine's TimeoutSeconds"}
    return {
        "Type": EVENT_TYPES[outcome.status],
        "RenderId": render_id,
        "ExecutionArn": event.execution_arn,
        "Status": outcome.status,
        "Output": outcome.output.dump() if outcome.output is not None else None,
        "Error": error,
    }


def backoff_delay(attempt: int) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1-based): 1, 2, 4, 8, 16, 16, ..."""
    return float(min(MAX_DELAY_SECONDS, BASE_DELAY_SECONDS * 2 ** (attempt - 1)))


def deliver(url: str, payload: dict[str, Any], deps: NotifyDeps) -> NotifyResultOut:
    """POST ``payload`` to ``url``, signed, with retries; the outcome (never raises for the receiver)."""
    body = canonical_body(payload)
    secret = deps.secret()
    status: int | None = None
    detail = ""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "framecast-webhook/1",
            EVENT_HEADER: str(payload["Type"]),
            SIGNATURE_HEADER: signature_header(secret, body, int(deps.clock())),
        }
        try:
            status = deps.post(url, body, headers, POST_TIMEOUT_SECONDS)
        except OSError as exc:
            status, detail = None, f"network error: {type(exc).__name__}"
        else:
            if 200 <= status < 300:
                return NotifyResultOut(delivered=True, attempts=attempt, status_code=status, detail="delivered")
            detail = f"HTTP {status}"
            if status < 500 and status not in RETRY_STATUSES:
                return NotifyResultOut(delivered=False, attempts=attempt, status_code=status, detail=detail)
        if attempt < MAX_ATTEMPTS:
            deps.sleep(backoff_delay(attempt))
    return NotifyResultOut(
        delivered=False, attempts=MAX_ATTEMPTS, status_code=status, detail=f"gave up after {MAX_ATTEMPTS}: {detail}"
    )


def run_notify(event: NotifyEvent, settings: Settings, deps: NotifyDeps | None = None) -> NotifyResultOut:
    deps = deps or default_notify_deps(settings)
    url, render_id = event.webhook_url, event.render_id
    if url is None:  # the EventBridge rule knows only the execution: its input says where to post
        execution_input = deps.execution_input(event.execution_arn)
        raw_url = execution_input.get("WebhookUrl")
        if not isinstance(raw_url, str):
            return NotifyResultOut(
                delivered=False, attempts=0, status_code=None, detail="the execution asked for no webhook"
            )
        url = check_webhook_url(raw_url)
        found = execution_input.get("RenderId")
        render_id = render_id or (found if isinstance(found, str) else None)
    return deliver(url, build_payload(event, render_id), deps)
