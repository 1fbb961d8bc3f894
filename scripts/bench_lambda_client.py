"""Client overhead of ``framecast render --backend lambda``: site upload, start, poll, download.

Deploys infra/template.yaml into a local moto server (tests.support.moto_stack: the real state machine,
each Lambda invoke running the real handler in a fresh interpreter), then times, with the client's own
functions, what the user's machine spends around a render of a project (default examples/hello):

    python scripts/bench_lambda_client.py [PROJECT] [--polls N]

Numbers are local (loopback HTTP, no network latency): they measure the client's own work (packing,
hashing, request building, history parsing), not AWS's round-trip times.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.cloud import deploy, renders, sites  # noqa: E402
from app.cloud.session import AwsTarget, clients  # noqa: E402
from tests.support.moto_stack import IMAGE_URI, moto_stack_server  # noqa: E402


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("project", nargs="?", type=Path, default=ROOT / "examples" / "hello")
    parser.add_argument("--max-parallel-chunks", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-lambda-") as home, moto_stack_server() as moto:
        os.environ.update(moto.env() | {"FRAMECAST_STATE_DIR": home, "AWS_EC2_METADATA_DISABLED": "true"})
        aws = clients(AwsTarget(stack="bench"))
        started = time.perf_counter()
        state = deploy.deploy(aws, "bench", deploy.DeployOptions(image_uri=IMAGE_URI)).state
        deploy_s = time.perf_counter() - started

        started = time.perf_counter()
        site = sites.create_site(state, args.project, aws=aws)
        upload_s = time.perf_counter() - started
        started = time.perf_counter()
        sites.create_site(state, args.project, aws=aws)
        reuse_s = time.perf_counter() - started

        started = time.perf_counter()
        render = renders.start_render(
            state, site_id=site.site_id, config={"maxParallelChunks": args.max_parallel_chunks}, aws=aws
        )
        start_s = time.perf_counter() - started

        polls: list[float] = []
        while True:
            began = time.perf_counter()
            progress = renders.get_progress(state, render.render_id, aws=aws)
            polls.append(time.perf_counter() - began)
            if progress.finished:
                break
            time.sleep(1.0)
        with tempfile.TemporaryDirectory() as out:
            began = time.perf_counter()
            size = renders.download_output(state, progress, Path(out) / "out.mp4", aws=aws)
            download_s = time.perf_counter() - began

    print(f"project            {args.project} ({site.size_bytes} bytes packed), {progress.total_frames} frames")
    print(f"deploy (moto)      {_ms(deploy_s)}")
    print(f"site upload        {_ms(upload_s)}   (pack + hash + PUT)")
    print(f"site reuse         {_ms(reuse_s)}   (pack + hash + HEAD, nothing uploaded)")
    print(f"start execution    {_ms(start_s)}")
    median, worst = _ms(statistics.median(polls)), _ms(max(polls)).strip()
    print(f"poll (median)      {median}   over {len(polls)} polls, max {worst}")
    print(f"poll (final)       {_ms(polls[-1])}   (history of {progress.state_transitions} transitions)")
    print(f"download           {_ms(download_s)}   ({size} bytes)")
    print(f"render wall        {progress.elapsed_seconds:8.1f} s    ({progress.status}, {progress.chunk_count} chunks)")
    return 0 if progress.status == "SUCCEEDED" else 1


if __name__ == "__main__":
    sys.exit(main())
