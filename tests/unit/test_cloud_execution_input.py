"""The execution input a render starts with: the webhook URL goes in, checked; its secret never does."""

from __future__ import annotations

import json

import pytest

from app.cloud.renders import execution_input
from app.errors import WebhookUrlInvalidError
from tests.support.stacks import sample_stack

STATE = sample_stack("prod", "us-east-1")
SITE = "s-" + "0" * 20


def _input(**extra: str) -> dict[str, object]:
    text = execution_input(STATE, site_id=SITE, config={}, output_key="outputs/r/x.mp4", render_id="r-1", **extra)
    document: dict[str, object] = json.loads(text)
    return document


def test_a_webhook_url_is_carried_in_the_input_and_nothing_else_about_it() -> None:
    assert "WebhookUrl" not in _input()
    with_hook = _input(webhook_url="https://hooks.example.com/framecast")
    assert with_hook["WebhookUrl"] == "https://hooks.example.com/framecast"
    assert set(with_hook) == {"ProjectS3Uri", "OutputS3Uri", "RenderId", "Config", "WebhookUrl"}


@pytest.mark.parametrize(
    "url", ["ftp://example.com/h", "https://user:pw@example.com/h", "http://example.com/h", "not a url", ""]
)
def test_a_bad_webhook_url_is_refused_before_any_execution_input_exists(url: str) -> None:
    with pytest.raises(WebhookUrlInvalidError):
        _input(webhook_url=url)
