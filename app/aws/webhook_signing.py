"""The completion webhook's wire contract: which URLs may receive it, how its body is signed.

Shared by the function that posts (app.aws.notify) and the client that checks a URL before a render
starts and verifies deliveries (app.cloud.webhook), so the rules exist once.

Signature: ``HMAC-SHA256(secret, f"{timestamp}." + body)`` in hex, sent as
``X-Framecast-Signature: t=<unix seconds>,v1=<hex>``. Signing the timestamp with the body lets a
receiver refuse replays older than its tolerance.

URLs: https only (http is allowed for 127.0.0.1 and localhost, for tests and local tools), no
user:password in them, no fragment, at most ``MAX_URL_LENGTH`` characters.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
from typing import Any, Final
from urllib.parse import urlsplit

from app.errors import WebhookUrlInvalidError

SIGNATURE_HEADER: Final = "X-Framecast-Signature"
EVENT_HEADER: Final = "X-Framecast-Event"
SIGNATURE_VERSION: Final = "v1"
MAX_URL_LENGTH: Final = 2048
_LOOPBACK_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1"})


def canonical_body(payload: dict[str, Any]) -> bytes:
    """The exact bytes posted (and signed): compact JSON with sorted keys."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode("utf-8")


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """Hex HMAC-SHA256 of ``f"{timestamp}."`` + ``body`` under ``secret``."""
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int) -> str:
    """The value of ``X-Framecast-Signature`` for ``body`` sent at ``timestamp``."""
    return f"t={timestamp},{SIGNATURE_VERSION}={sign(secret, body, timestamp)}"


def parse_signature_header(header: str) -> tuple[int, list[str]] | None:
    """``(timestamp, v1 signatures)`` from a header value, or None when it is malformed."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            return None
        if key == "t":
            if not value.isdigit() or timestamp is not None:
                return None
            timestamp = int(value)
        elif key == SIGNATURE_VERSION:
            signatures.append(value)
    if timestamp is None or not signatures:
        return None
    return timestamp, signatures


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_webhook_url(url: str) -> str:
    """``url`` if it may receive the webhook, else WEBHOOK_URL_INVALID saying what to change."""
    if len(url) > MAX_URL_LENGTH:
        raise WebhookUrlInvalidError(f"webhook URL is {len(url)} characters; use one of at most {MAX_URL_LENGTH}")
    if any(ch.isspace() or ord(ch) < 0x20 for ch in url):
        raise WebhookUrlInvalidError("webhook URL contains whitespace or control characters; pass a plain URL")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebhookUrlInvalidError(f"webhook URL {url[:80]!r} is not a valid URL ({exc})") from exc
    host = (parts.hostname or "").lower()
    if not host:
        raise WebhookUrlInvalidError(f"webhook URL {url[:80]!r} has no host; pass e.g. https://example.com/hook")
    if parts.username is not None or parts.password is not None:
        raise WebhookUrlInvalidError(
            "webhook URL carries credentials (user:password@); remove them: deliveries are signed with the "
            "stack's secret, verify the X-Framecast-Signature header instead"
        )
    if parts.fragment:
        raise WebhookUrlInvalidError("webhook URL has a #fragment, which is never sent; remove it")
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and _is_loopback(host):
        return url
    shown = f"{parts.scheme}://{host}{f':{port}' if port else ''}"
    raise WebhookUrlInvalidError(
        f"webhook URL {shown} must use https (http only for 127.0.0.1 or localhost); pass an https:// URL"
    )
