#!/usr/bin/env python3
"""The production Lambda image's numbers: build time, size by layer and component, cold and warm starts.

    python scripts/bench_image.py          # cached rebuild, sizes, starts (about a minute)
    python scripts/bench_image.py --cold   # also a build with no layer cache (about 3 minutes here)

Builds with scripts/image.sh (docker, else podman), then runs the image as Lambda does (read-only root,
tmpfs /tmp, its non-root user, awslambdaric against tests/support's Runtime API stub, S3 on moto's
server): plan tests/fixtures/tiny in a first container, then in a fresh container render chunk 0 (cold:
the container, Python, the packed ffmpeg and Chrome all start) and the other chunks (warm). Prints the
numbers and writes the "image" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_report import write_section  # noqa: E402  (a sibling script)

from tests.support.runtime_api_stub import LambdaProcess, lambda_runtime  # noqa: E402
from tests.support.s3_backends import moto_server  # noqa: E402

IMAGE = os.environ.get("IMAGE", "framecast:local")
TINY = ROOT / "tests" / "fixtures" / "tiny"
# What the image holds, by the paths the Dockerfile and install-runtime.sh put it in.
COMPONENTS = {
    "Chrome (headless shell)": "/usr/lib/chromium",
    "ffmpeg (zstd-packed)": "/opt/framecast",
    "Python deps (venv)": "/opt/venv",
    "fonts": "/usr/share/fonts",
    "page runtime (node_modules)": "/var/task/app/engine/js/node_modules",
    "framecast code": "/var/task/app",
    "system libraries": "/usr/lib/x86_64-linux-gnu",
}


def _engine() -> str:
    return subprocess.run(
        ["bash", "scripts/container-engine.sh"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


def _build(no_cache: bool) -> float:
    env = {**os.environ, "IMAGE": IMAGE, **({"NO_CACHE": "1"} if no_cache else {})}
    started = time.perf_counter()
    subprocess.run(["bash", "scripts/image.sh", "build"], cwd=ROOT, env=env, check=True)
    return time.perf_counter() - started


def _sizes(engine: str) -> tuple[int, list[tuple[str, int]]]:
    total = int(subprocess.check_output([engine, "image", "inspect", "--format", "{{.Size}}", IMAGE], text=True))
    script = "; ".join(f"du -sb {path} 2>/dev/null | cut -f1 || echo 0" for path in COMPONENTS.values())
    out = subprocess.check_output([engine, "run", "--rm", "--entrypoint", "bash", IMAGE, "-c", script], text=True)
    return total, [(name, int(line)) for name, line in zip(COMPONENTS, out.split(), strict=True)]


def _layers(engine: str) -> list[str]:
    out = subprocess.check_output(
        [engine, "history", "--format", "{{.Size}}\t{{.CreatedBy}}", IMAGE], text=True
    ).splitlines()
    return [line for line in out if not line.startswith("0 B")]


def _ok(function: LambdaProcess, event: dict[str, Any]) -> dict[str, Any]:
    outcome = function.invoke(event, timeout=300)
    if outcome.kind != "response":
        raise SystemExit(f"{event['Action']} failed: {outcome.body}\n{function.output()[-3000:]}")
    return dict(outcome.body)


def _starts(engine: str) -> dict[str, Any]:
    from app.aws.s3_transport import S3Transport
    from app.aws.s3_uri import S3Uri

    with moto_server() as endpoint:
        env = {**os.environ, **endpoint.env(), "FRAMECAST_BUCKET_ALLOWLIST": "framecast-bench"}
        os.environ.update(endpoint.env())
        endpoint.client().create_bucket(Bucket="framecast-bench")
        project = S3Uri("framecast-bench", "projects/tiny.tar.gz")
        S3Transport().upload_project(TINY, project)
        with lambda_runtime(env, container=(engine, IMAGE)) as function:
            started = time.perf_counter()
            planned = _ok(
                function,
                {
                    "Action": "plan",
                    "ProjectS3Uri": str(project),
                    "PlanOutputS3Prefix": "s3://framecast-bench/renders/bench/plan/",
                    "Config": {"fps": 30, "format": "mp4", "chunkSize": 10},
                },
            )
            plan_s = time.perf_counter() - started
        chunk_event = {
            "Action": "renderChunk",
            "PlanHash": planned["PlanHash"],
            "ChunkOutputS3Prefix": "s3://framecast-bench/renders/bench/chunks/",
            "Format": planned["Format"],
            "PlanManifestS3Uri": planned["PlanManifestS3Uri"],
        }
        walls, results = [], []
        started = time.perf_counter()  # container start: the first chunk's wall includes all of it
        with lambda_runtime(env, container=(engine, IMAGE)) as function:
            for index in planned["ChunkIndexes"]:
                results.append(_ok(function, {**chunk_event, "ChunkIndex": index}))
                walls.append(time.perf_counter() - started)
                started = time.perf_counter()
    return {"plan_s": plan_s, "walls": walls, "results": results, "frames": planned["TotalFrames"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cold", action="store_true", help="also time a build without the layer cache")
    args = parser.parse_args()
    engine = _engine()
    cold_s = _build(no_cache=True) if args.cold else None
    cached_s = _build(no_cache=False)
    total, components = _sizes(engine)
    layers = _layers(engine)
    starts = _starts(engine)

    mb = 1_000_000
    first, rest = starts["results"][0], starts["results"][1:]
    cold_text = f"cold (no layer cache) {cold_s:.0f} s, " if cold_s is not None else ""
    warm_walls = ", ".join(f"{w:.2f}" for w in starts["walls"][1:])
    warm_boots = ", ".join(f"{r['BootMs'] / 1000:.2f}" for r in rest)
    lines = [
        f"Written by `scripts/bench_image.py` with {engine}: `{IMAGE}`.",
        "",
        f"- Size: **{total / mb:.0f} MB** (budget 900 MB).",
        f"- Build: {cold_text}fully cached {cached_s:.1f} s.",
        f"- Plan in a fresh container (container start → plan result): {starts['plan_s']:.2f} s.",
        f"- Chunk 0 in a fresh container: container start → result {starts['walls'][0]:.2f} s, of which "
        f"{first['DurationMs'] / 1000:.2f} s in the handler; Chrome ready → first frame "
        f"{first['BootMs'] / 1000:.2f} s.",
        f"- Warm chunks in the same container: result in {warm_walls} s; first frame after {warm_boots} s.",
        "",
        "| component | path | MB |",
        "|---|---|---|",
        *[f"| {name} | `{COMPONENTS[name]}` | {size / mb:.0f} |" for name, size in components],
        "",
        "Layers (non-empty, newest first):",
        "",
        "```",
        *[line[:140] for line in layers],
        "```",
    ]
    report = "\n".join(lines)
    print(report)
    write_section("image", "## Lambda image\n\n" + report)


if __name__ == "__main__":
    main()
