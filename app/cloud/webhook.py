"""Completion webhooks on the user's side: check a URL before a render, verify a delivery, read the secret.

The function posts the webhook (app.aws.notify); the signing rules live in app.aws.webhook_signing and
are re-exported here. ``verify`` is what a receiver runs (README "Webhooks" has the same check in ten
lines of standard library); ``read_secret`` fetches the stack's signing secret from Secrets Manager
(``secretsmanager:GetSecretValue`` on ``<stack>-webhook-secret``) for ``framecast lambda webhook-secret``.
"""

from __future__ import annotations

import hmac
import time
from typing import Final

from app.aws.webhook_signing import (
    SIGNATURE_HEADER,
    canonical_body,
    check_webhook_url,
    parse_signature_header,
    sign,
    signature_header,
)
from app.cloud.session import aws_call
from app.cloud.stack import StackState, stack_clients

__all__ = [
    "DEFAULT_TOLERANCE_SECONDS",
    "SIGNATURE_HEADER",
    "canonical_body",
    "check_webhook_url",
    "read_secret",
    "secret_name",
    "sign",
    "signature_header",
    "verify",
]

DEFAULT_TOLERANCE_SECONDS: Final = 300.0


def verify(
    secret: str, body: bytes, header: str, tolerance: float = DEFAULT_TOLERANCE_SECONDS, now: float | None = None
) -> bool:
    """True when ``header`` signs exactly ``body`` under ``secret`` and is at most ``tolerance`` s old (or ahead)."""
    parsed = parse_signature_header(header)
    if parsed is None:
        return False
    timestamp, signatures = parsed
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp)
    # Constant-time comparison: a timing difference would let an attacker guess the signature bytewise.
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)


def secret_name(stack: str) -> str:
    """The Secrets Manager name infra/template.yaml gives the stack's webhook secret."""
    return f"{stack}-webhook-secret"


def read_secret(state: StackState, profile: str | None = None) -> str:
    """The stack's webhook signing secret (needs secretsmanager:GetSecretValue on it)."""
    client = stack_clients(state, profile).client("secretsmanager")
    with aws_call("secretsmanager:GetSecretValue"):
        value = client.get_secret_value(SecretId=secret_name(state.stack))
    return str(value["SecretString"])
