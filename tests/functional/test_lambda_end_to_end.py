"""A real render through the Lambda handler: plan → every chunk → assemble, S3 on moto's server.

The tiny fixture (320x180, 1 s at 30 fps, GSAP) is uploaded as a project tarball; the plan runs
through the container's command (``python -m awslambdaric app.aws.handler.handler`` against the
Runtime API stub) and again in-process, every chunk and the assembly run in-process from JSON
events, exactly as Step Functions would pass them. The output object must be a valid MP4. A
png-sequence render, in-process, must land frame by frame under the output prefix.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import av
import pytest

from app.aws.handler import handler
from app.aws.s3_transport import S3Transport
from app.aws.s3_uri import S3Uri
from tests.support import moto_server
from tests.support.moto_server import S3Sandbox
from tests.support.runtime_api_stub import lambda_runtime

pytestmark = pytest.mark.chrome

moto_endpoint = moto_server.moto_endpoint  # pytest fixtures this module uses
s3 = moto_server.s3

TINY = Path(__file__).resolve().parents[1] / "fixtures" / "tiny"
FRAMES, WIDTH, HEIGHT = 30, 320, 180


def invoke_in_process(event: dict[str, Any]) -> dict[str, Any]:
    """Call the handler the way the runtime does: with the event decoded from JSON."""
    result = handler(json.loads(json.dumps(event)), None)
    return dict(json.loads(json.dumps(result)))


def decoded_frames(path: Path) -> tuple[int, int, int, str]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        count = sum(1 for _ in container.decode(stream))
        return count, stream.codec_context.width, stream.codec_context.height, stream.codec_context.name


def test_a_render_through_the_lambda_handler_produces_a_valid_mp4(s3: S3Sandbox, tmp_path: Path) -> None:
    project_uri = S3Uri(s3.bucket, "projects/tiny.tar.gz")
    S3Transport().upload_project(TINY, project_uri)
    plan_event = {
        "Action": "plan",
        "ProjectS3Uri": str(project_uri),
        "PlanOutputS3Prefix": s3.uri("renders/e2e/plan/"),
        "Config": {"fps": 30, "format": "mp4", "chunkSize": 10},
    }

    with lambda_runtime(os.environ) as function:  # the image's command, against the Runtime API stub
        outcome = function.invoke(plan_event, timeout=240)
        assert outcome.kind == "response", f"{outcome.body}\n{function.output()}"
    planned = outcome.body
    assert (planned["ChunkCount"], planned["ChunkIndexes"]) == (3, [0, 1, 2])
    assert (planned["TotalFrames"], planned["Fps"], planned["Width"], planned["Height"]) == (FRAMES, 30, WIDTH, HEIGHT)
    assert planned["Format"] == "mp4" and planned["HasAudio"] is False
    assert planned["PlanManifestS3Uri"] == s3.uri("renders/e2e/plan/plan-manifest.json")

    # The same project planned in this process (another prefix) is the same plan.
    again = invoke_in_process({**plan_event, "PlanOutputS3Prefix": s3.uri("renders/e2e-again/plan/")})
    assert again["PlanHash"] == planned["PlanHash"]

    chunk_events = [
        {
            "Action": "renderChunk",
            "PlanHash": planned["PlanHash"],
            "ChunkIndex": index,
            "ChunkOutputS3Prefix": s3.uri("renders/e2e/chunks/"),
            "Format": planned["Format"],
            "PlanManifestS3Uri": planned["PlanManifestS3Uri"],
        }
        for index in planned["ChunkIndexes"]
    ]
    chunks = [invoke_in_process(event) for event in chunk_events]
    assert [c["ChunkS3Uri"] for c in chunks] == [s3.uri(f"renders/e2e/chunks/chunk-{i:05d}.mp4") for i in range(3)]
    assert sum(c["FramesEncoded"] for c in chunks) == FRAMES

    # A retried chunk (same plan, same index) rewrites the very same bytes.
    etag = s3.etag("renders/e2e/chunks/chunk-00001.mp4")
    assert invoke_in_process(chunk_events[1])["Sha256"] == chunks[1]["Sha256"]
    assert s3.etag("renders/e2e/chunks/chunk-00001.mp4") == etag

    output = invoke_in_process(
        {
            "Action": "assemble",
            "PlanHash": planned["PlanHash"],
            "PlanManifestS3Uri": planned["PlanManifestS3Uri"],
            "ChunkS3Uris": [c["ChunkS3Uri"] for c in chunks],
            "OutputS3Uri": s3.uri("outputs/tiny.mp4"),
            "Format": "mp4",
        }
    )
    local = tmp_path / "tiny.mp4"
    local.write_bytes(s3.get("outputs/tiny.mp4"))
    assert output == {
        "OutputS3Uri": s3.uri("outputs/tiny.mp4"),
        "FramesEncoded": FRAMES,
        "FileSize": local.stat().st_size,
        "DurationMs": output["DurationMs"],
    }
    assert decoded_frames(local) == (FRAMES, WIDTH, HEIGHT, "h264")


def test_a_png_sequence_render_lands_frame_by_frame_under_the_output_prefix(s3: S3Sandbox) -> None:
    project_uri = S3Uri(s3.bucket, "projects/tiny.tar.gz")
    S3Transport().upload_project(TINY, project_uri)
    planned = invoke_in_process(
        {
            "Action": "plan",
            "ProjectS3Uri": str(project_uri),
            "PlanOutputS3Prefix": s3.uri("renders/seq/plan/"),
            "Config": {"fps": 30, "format": "png-sequence", "chunkSize": 15},
        }
    )
    chunk_uris = [
        invoke_in_process(
            {
                "Action": "renderChunk",
                "PlanHash": planned["PlanHash"],
                "ChunkIndex": index,
                "ChunkOutputS3Prefix": s3.uri("renders/seq/chunks/"),
                "Format": "png-sequence",
                "PlanManifestS3Uri": planned["PlanManifestS3Uri"],
            }
        )["ChunkS3Uri"]
        for index in planned["ChunkIndexes"]
    ]
    assert chunk_uris == [s3.uri("renders/seq/chunks/chunk-00000.tar"), s3.uri("renders/seq/chunks/chunk-00001.tar")]
    output = invoke_in_process(
        {
            "Action": "assemble",
            "PlanHash": planned["PlanHash"],
            "PlanManifestS3Uri": planned["PlanManifestS3Uri"],
            "ChunkS3Uris": chunk_uris,
            "OutputS3Uri": s3.uri("outputs/seq/"),
            "Format": "png-sequence",
        }
    )
    frames = [key for key in s3.list_keys() if key.startswith("outputs/seq/") and key.endswith(".png")]
    assert len(frames) == FRAMES and output["FramesEncoded"] == FRAMES
    assert output["FileSize"] == sum(len(s3.get(key)) for key in s3.list_keys() if key.startswith("outputs/seq/"))
