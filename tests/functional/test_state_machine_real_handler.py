"""The REAL state machine from infra/template.yaml drives the REAL Lambda handler (DESIGN.md §7).

moto interprets the definition (Plan → AssertChunkCount → Map → Assemble, Retry, lambda:invoke) and
its Lambda invokes are routed to ``app.aws.handler.handler`` with S3 in the same mock. This proves
the definition and the handler agree on every event and result field, end to end, with a real render.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import av
import boto3
import pytest

from app.aws import handler as lambda_handler
from app.aws import settings as aws_settings
from app.aws.archive import pack_project
from app.engine import chrome
from tests.support.sfn_harness import MockStack, run_state_machine

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "template.yaml"
TINY = ROOT / "tests" / "fixtures" / "tiny"
BUCKET = "framecast-sfn-e2e"


@pytest.fixture
def one_handler_thread() -> Iterator[Any]:
    """moto calls Lambda from its own threads; Playwright's browser belongs to the thread that made it,
    as a Lambda container's does to its one runtime thread. So every invocation runs on one thread."""
    chrome.shutdown_browser()  # a browser launched by an earlier test belongs to this (main) thread
    lambda_handler.default_deps.cache_clear()
    aws_settings.get_settings.cache_clear()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="lambda-container") as container:

        def invoke(event: dict[str, Any], context: Any) -> Any:
            return container.submit(lambda_handler.handler, event, context).result()

        yield invoke
        container.submit(chrome.shutdown_browser).result()
    lambda_handler.default_deps.cache_clear()
    aws_settings.get_settings.cache_clear()


def _upload_tiny(stack: MockStack) -> None:
    archive = pack_project(TINY)
    try:
        boto3.client("s3", region_name=stack.region).upload_file(str(archive), stack.bucket, "inputs/tiny.tar.gz")
    finally:
        archive.unlink(missing_ok=True)


def test_plan_map_assemble_renders_a_valid_video_through_the_real_handler(one_handler_thread: Any) -> None:
    output_uri = f"s3://{BUCKET}/outputs/sfn-e2e/tiny.mp4"
    videos: list[bytes] = []

    def read_output(stack: MockStack) -> None:
        videos.append(boto3.client("s3").get_object(Bucket=stack.bucket, Key="outputs/sfn-e2e/tiny.mp4")["Body"].read())

    outcome = run_state_machine(
        TEMPLATE,
        one_handler_thread,
        {
            "ProjectS3Uri": f"s3://{BUCKET}/inputs/tiny.tar.gz",
            "OutputS3Uri": output_uri,
            "RenderId": "sfn-e2e",
            "Config": {"maxParallelChunks": 3},
        },
        bucket=BUCKET,
        setup=_upload_tiny,
        after=read_output,
        timeout_s=240,
    )
    assert outcome.status == "SUCCEEDED", f"{outcome.error}: {outcome.cause}"
    assert [call.action for call in outcome.invocations].count("renderChunk") == 3
    assert outcome.output["Output"]["OutputS3Uri"] == output_uri
    assert outcome.output["Output"]["FramesEncoded"] == 30
    with av.open(io.BytesIO(videos[0])) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        assert (stream.codec_context.name, stream.width, stream.height, frames) == ("h264", 320, 180, 30)


def test_a_typed_error_from_the_real_handler_fails_the_execution_with_its_code(one_handler_thread: Any) -> None:
    outcome = run_state_machine(
        TEMPLATE,
        one_handler_thread,
        {
            "ProjectS3Uri": "s3://some-other-bucket/inputs/tiny.tar.gz",
            "OutputS3Uri": f"s3://{BUCKET}/outputs/x/tiny.mp4",
            "RenderId": "sfn-denied",
            "Config": {},
        },
        bucket=BUCKET,
        timeout_s=60,
    )
    assert (outcome.status, outcome.error) == ("FAILED", "S3_URI_NOT_ALLOWED")
    assert len(outcome.invocations) == 1, "a non-retryable code must not be retried"
