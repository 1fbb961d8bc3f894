"""The container's command, ``python -m awslambdaric app.aws.handler.handler``, against a Runtime API stub.

Proves what Step Functions sees: a FramecastError comes back as an /error whose errorType is the code
itself (that is what Retry/Catch match), with the original message, and the runtime keeps serving
the next invocation in the same (warm) process. S3 is moto's server, reached through AWS_ENDPOINT_URL.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from app.distributed.manifest import MANIFEST_NAME
from tests.support import moto_server
from tests.support.moto_server import S3Sandbox
from tests.support.runtime_api_stub import LambdaProcess, lambda_runtime

moto_endpoint = moto_server.moto_endpoint  # pytest fixtures this module uses
s3 = moto_server.s3


@pytest.fixture
def function(s3: S3Sandbox) -> Iterator[LambdaProcess]:
    with lambda_runtime(os.environ) as running:  # the s3 fixture put endpoint, credentials, allowlist there
        yield running


def plan_event(s3: S3Sandbox, project_uri: str) -> dict[str, object]:
    return {
        "Action": "plan",
        "ProjectS3Uri": project_uri,
        "PlanOutputS3Prefix": s3.uri("renders/e1/plan/"),
        "Config": {"fps": 30, "format": "mp4"},
    }


def test_an_invalid_event_is_an_error_typed_invalid_event(function: LambdaProcess) -> None:
    outcome = function.invoke({"Action": "explode"})
    assert outcome.kind == "error", function.output()
    assert outcome.error_type == "INVALID_EVENT"
    assert "plan, renderChunk, assemble" in outcome.body["errorMessage"]


def test_an_event_in_another_bucket_is_s3_uri_not_allowed(s3: S3Sandbox, function: LambdaProcess) -> None:
    before = s3.snapshot()
    outcome = function.invoke(plan_event(s3, s3.uri("projects/p.tar.gz", s3.other_bucket)))
    assert outcome.error_type == "S3_URI_NOT_ALLOWED", function.output()
    assert s3.other_bucket in outcome.body["errorMessage"]
    assert s3.snapshot() == before


def test_one_warm_process_serves_successive_invocations_and_reaches_s3(s3: S3Sandbox, function: LambdaProcess) -> None:
    missing_project = function.invoke({"Payload": plan_event(s3, s3.uri("projects/none.tar.gz"))})
    assert missing_project.error_type == "INVALID_EVENT", function.output()
    assert "does not exist" in missing_project.body["errorMessage"]
    chunk = {
        "Action": "renderChunk",
        "PlanHash": "0" * 64,
        "ChunkIndex": 0,
        "ChunkOutputS3Prefix": s3.uri("renders/e1/chunks/"),
        "Format": "mp4",
        "PlanManifestS3Uri": s3.uri(f"renders/e1/plan/{MANIFEST_NAME}"),
    }
    assert function.invoke(chunk).error_type == "MISSING_PLAN_ARTIFACT"
    assert function.invoke({**chunk, "ChunkIndex": -1}).error_type == "INVALID_EVENT"
    assert function.proc.poll() is None, "the runtime must keep running between invocations"
    assert function.api.init_errors == []
