"""The production image, run as Lambda runs it: read-only root, writable /tmp, its non-root user,
``awslambdaric`` against the Runtime API stub, S3 on moto's server.

``make test-image`` builds the image and runs this file with FRAMECAST_TEST_IMAGE (the tag) and
FRAMECAST_TEST_ENGINE (docker or podman) set; without them it skips. What it proves: a bad event comes
back as a typed error type; plan → every chunk → assemble inside the container gives a valid video
with the planned frame count; the container stays warm between invocations (its boot-to-first-frame
times are printed for BENCHMARKS.md).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import pytest

from app.aws.s3_transport import S3Transport
from app.aws.s3_uri import S3Uri
from tests.support import moto_server
from tests.support.moto_server import S3Sandbox
from tests.support.runtime_api_stub import LambdaProcess, lambda_runtime

IMAGE = os.environ.get("FRAMECAST_TEST_IMAGE", "")
ENGINE = os.environ.get("FRAMECAST_TEST_ENGINE", "")
pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(
        not (IMAGE and ENGINE),
        reason="needs a built image: `make test-image` sets FRAMECAST_TEST_IMAGE and FRAMECAST_TEST_ENGINE",
    ),
]

moto_endpoint = moto_server.moto_endpoint  # pytest fixtures this module uses
s3 = moto_server.s3
TINY = Path(__file__).resolve().parents[1] / "fixtures" / "tiny"


@pytest.fixture
def function(s3: S3Sandbox) -> Iterator[LambdaProcess]:
    with lambda_runtime(os.environ, container=(ENGINE, IMAGE)) as running:
        yield running


def _ok(function: LambdaProcess, event: dict[str, Any], timeout: float = 300) -> dict[str, Any]:
    outcome = function.invoke(event, timeout=timeout)
    assert outcome.kind == "response", f"{outcome.body}\n{function.output()}"
    body: dict[str, Any] = outcome.body
    return body


def test_bad_events_come_back_as_typed_error_types(s3: S3Sandbox, function: LambdaProcess) -> None:
    before = s3.snapshot()
    assert function.invoke({"Action": "explode"}, timeout=120).error_type == "INVALID_EVENT", function.output()
    elsewhere = {
        "Action": "plan",
        "ProjectS3Uri": s3.uri("projects/p.tar.gz", s3.other_bucket),
        "PlanOutputS3Prefix": s3.uri("renders/x/plan/"),
        "Config": {"fps": 30, "format": "mp4"},
    }
    assert function.invoke(elsewhere).error_type == "S3_URI_NOT_ALLOWED", function.output()
    assert s3.snapshot() == before


def test_plan_every_chunk_and_assemble_inside_the_image_give_a_valid_video(
    s3: S3Sandbox, function: LambdaProcess, tmp_path: Path
) -> None:
    project = S3Uri(s3.bucket, "projects/tiny.tar.gz")
    S3Transport().upload_project(TINY, project)
    started = time.perf_counter()
    planned = _ok(
        function,
        {
            "Action": "plan",
            "ProjectS3Uri": str(project),
            "PlanOutputS3Prefix": s3.uri("renders/img/plan/"),
            "Config": {"fps": 30, "format": "mp4", "chunkSize": 10},
        },
    )
    plan_seconds = time.perf_counter() - started
    chunk_event = {
        "Action": "renderChunk",
        "PlanHash": planned["PlanHash"],
        "ChunkOutputS3Prefix": s3.uri("renders/img/chunks/"),
        "Format": planned["Format"],
        "PlanManifestS3Uri": planned["PlanManifestS3Uri"],
    }
    chunks, timings = [], []
    for index in planned["ChunkIndexes"]:
        started = time.perf_counter()
        chunks.append(_ok(function, {**chunk_event, "ChunkIndex": index}))
        timings.append(time.perf_counter() - started)
    assert sum(c["FramesEncoded"] for c in chunks) == planned["TotalFrames"]
    output = _ok(
        function,
        {
            "Action": "assemble",
            "PlanHash": planned["PlanHash"],
            "PlanManifestS3Uri": planned["PlanManifestS3Uri"],
            "ChunkS3Uris": [c["ChunkS3Uri"] for c in chunks],
            "OutputS3Uri": s3.uri("outputs/tiny.mp4"),
            "Format": "mp4",
        },
    )
    local = tmp_path / "tiny.mp4"
    local.write_bytes(s3.get("outputs/tiny.mp4"))
    with av.open(str(local)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames == planned["TotalFrames"] == output["FramesEncoded"]
    assert function.proc.poll() is None, "the container keeps serving between invocations"
    inside = ", ".join(f"{c['DurationMs'] / 1000:.2f}" for c in chunks)
    print(
        f"\n[image] plan {plan_seconds:.2f} s; chunk invocations {', '.join(f'{t:.2f}' for t in timings)} s "
        f"round trip, {inside} s inside the handler (the first cold, the rest warm)"
    )
