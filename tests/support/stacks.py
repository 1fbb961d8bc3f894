"""A recorded stack for tests that need one without deploying (the client's state file contents)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.cloud.stack import StackState

DEPLOYED_AT = datetime(2026, 12, 2, 15, 30, 12, tzinfo=UTC)


def sample_stack(name: str = "prod", region: str = "eu-west-1", **overrides: Any) -> StackState:
    fields: dict[str, Any] = {
        "stack": name,
        "region": region,
        "account_id": "123456789012",
        "stack_id": f"arn:aws:cloudformation:{region}:123456789012:stack/{name}/x",
        "bucket": f"{name}-renderbucket-1",
        "state_machine_arn": f"arn:aws:states:{region}:123456789012:stateMachine:{name}-render",
        "function_name": f"{name}-render",
        "function_arn": f"arn:aws:lambda:{region}:123456789012:function:{name}-render",
        "memory_mb": 10240,
        "timeout_seconds": 900,
        "architecture": "x86_64",
        "image_uri": f"123456789012.dkr.ecr.{region}.amazonaws.com/framecast-{name}@sha256:" + "ab" * 32,
        "image_digest": "sha256:" + "ab" * 32,
        "deployed_at": DEPLOYED_AT,
    }
    return StackState(**(fields | overrides))
