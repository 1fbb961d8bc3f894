#!/usr/bin/env python3
"""Warm Lambda containers: the same renderChunk event handled twice in one process, cold vs warm.

Lambda reuses a container for later invocations and the engine keeps its browser alive in the process,
so only the first chunk a container renders should pay for the browser launch. This script starts
moto's S3 server, uploads tests/fixtures/tiny, plans it in a separate process (so this process starts
cold), then calls ``app.aws.handler.dispatch`` here for chunk 0, chunk 0 again and chunk 1, and prints
wall time, the handler's DurationMs, the chunk's boot_seconds (browser ready → first frame) and whether
the page of the chunk before was reused (``app.engine.warm_page``) for each; "chunk 0 again" must have
the bytes of the cold chunk 0.

Usage: python scripts/bench_warm_lambda.py   (needs Chrome, ffmpeg and the page runtime installed)
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests" / "fixtures" / "tiny"
BUCKET = "framecast-bench"
_PLAN_IN_CHILD = (
    "import json, sys\n"
    "from app.aws.handler import handler\n"
    "print('RESULT ' + json.dumps(handler(json.loads(sys.argv[1]), None)))\n"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_moto(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=1):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("moto_server did not start")


def _plan_in_child(event: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", _PLAN_IN_CHILD, json.dumps(event)], cwd=ROOT, capture_output=True, check=False
    )
    for line in done.stdout.decode().splitlines():
        if line.startswith("RESULT "):
            return dict(json.loads(line.removeprefix("RESULT ")))
    raise SystemExit(f"plan failed:\n{done.stdout.decode()[-3000:]}\n{done.stderr.decode()[-3000:]}")


def main() -> None:
    port = _free_port()
    work_root = tempfile.mkdtemp(prefix="framecast-bench-lambda-")
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "FRAMECAST_BUCKET_ALLOWLIST": BUCKET,
            "FRAMECAST_WORK_ROOT": work_root,
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "FRAMECAST_LOG_LEVEL": "WARNING",
        }
    )
    moto = _start_moto(port)
    try:
        _bench()
    finally:
        moto.terminate()
        moto.wait(timeout=10)
        shutil.rmtree(work_root, ignore_errors=True)


def _bench() -> None:
    # Imported after the environment is set: the handler reads its settings once per process.
    import boto3

    from app.aws.handler import default_deps, dispatch
    from app.aws.s3_transport import S3Transport
    from app.aws.s3_uri import S3Uri

    boto3.client("s3").create_bucket(Bucket=BUCKET)
    S3Transport().upload_project(TINY, S3Uri(BUCKET, "projects/tiny.tar.gz"))
    planned = _plan_in_child(
        {
            "Action": "plan",
            "ProjectS3Uri": f"s3://{BUCKET}/projects/tiny.tar.gz",
            "PlanOutputS3Prefix": f"s3://{BUCKET}/renders/bench/plan/",
            "Config": {"fps": 30, "format": "mp4", "chunkSize": 15},
        }
    )
    chunks: list[Any] = []  # each invocation's ChunkResult
    real = default_deps()

    def recording_render_chunk(*args: Any, **kwargs: Any) -> Any:
        result = real.render_chunk(*args, **kwargs)
        chunks.append(result)
        return result

    deps = dataclasses.replace(real, render_chunk=recording_render_chunk)
    print(f"plan {planned['PlanHash'][:12]}…: {planned['ChunkCount']} chunks of {planned['TotalFrames']} frames")
    print(f"{'invocation':<22}{'wall s':>9}{'DurationMs':>12}{'boot s':>9}  page")
    for label, index in (("chunk 0 (cold)", 0), ("chunk 0 again (warm)", 0), ("chunk 1 (warm)", 1)):
        event = {
            "Action": "renderChunk",
            "PlanHash": planned["PlanHash"],
            "ChunkIndex": index,
            "ChunkOutputS3Prefix": f"s3://{BUCKET}/renders/bench/chunks/",
            "Format": planned["Format"],
            "PlanManifestS3Uri": planned["PlanManifestS3Uri"],
        }
        started = time.perf_counter()
        result = dispatch(event, deps)
        wall = time.perf_counter() - started
        chunk = chunks[-1]
        page = "kept from the chunk before" if chunk.page_reused else "loaded"
        print(f"{label:<22}{wall:>9.3f}{result['DurationMs']:>12}{chunk.boot_seconds:>9.3f}  {page}")
    same = chunks[0].sha256 == chunks[1].sha256
    print(f"chunk 0 on a kept page has the bytes of chunk 0 on a new one: {'yes' if same else 'NO'}")
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
