#!/usr/bin/env python3
"""render-batch benchmarks: print numbers (never a timed test).

1. Dry run of a generated 10 000-row batch of examples/variables: the whole ``framecast render-batch
   --dry-run`` command (interpreter start included) and the in-process parse alone. Target: < 10 s.
2. Local throughput: N rows through ``framecast render-batch`` (one warm browser per worker) against
   the same N renders as N separate ``framecast render`` commands (a browser launch and an interpreter
   each). ``--small`` shrinks examples/variables to 320x180 and 1 s for a quick run.

3. Lambda-path overhead per row (``--lambda-overhead``): render-batch against moto running the REAL
   template and state machine (tests.support.moto_stack), with the Lambda invocation answered at once,
   so what is measured is the client's own work per row: manifest journal, StartExecution, and the
   DescribeExecution/history polls of --wait. On AWS add the network round trips (~20-50 ms a call).

Usage: python scripts/bench_batch.py [--rows 20] [--small] [--skip-throughput] [--max-concurrent N]
                                     [--lambda-overhead]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from app.batch.batch_file import parse_batch
from app.engine.composition import read_composition

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # --lambda-overhead uses the moto harness in tests/support
EXAMPLE = ROOT / "examples" / "variables"
NAMES = ("Ada", "Grace", "Linus", "Margaret", "Barbara", "Ken", "Dennis", "Frances", "Edsger", "Radia")
ACCENTS = ("#ef4444", "#22c55e", "#3b82f6", "#eab308", "#a855f7")


def framecast() -> list[str]:
    found = shutil.which("framecast")
    return [found] if found else [sys.executable, "-m", "app.cli.main"]


def write_rows(path: Path, count: int) -> Path:
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(count):
            row = {
                "outputKey": f"people/{i:05d}.mp4",
                "variables": {
                    "name": f"{NAMES[i % len(NAMES)]} {i}",
                    "accent": ACCENTS[i % len(ACCENTS)],
                    "theme": "light" if i % 2 else "dark",
                },
            }
            handle.write(json.dumps(row) + "\n")
    return path


def small_copy(work: Path) -> Path:
    dest = work / "variables-small"
    dest.mkdir()
    html = (EXAMPLE / "index.html").read_text(encoding="utf-8")
    html = re.sub(r'data-width="\d+" data-height="\d+" data-duration="[\d.]+"', _small_root, html, count=1)
    (dest / "index.html").write_text(html, encoding="utf-8")
    return dest


def _small_root(match: re.Match[str]) -> str:
    return 'data-width="320" data-height="180" data-duration="1"'


def bench_dry_run(work: Path) -> None:
    batch = write_rows(work / "ten-thousand.jsonl", 10_000)
    started = time.perf_counter()
    declaration = read_composition(EXAMPLE).variables_declaration
    parsed = parse_batch(batch, declaration, strict=True)
    parse_seconds = time.perf_counter() - started
    command = [*framecast(), "render-batch", str(EXAMPLE), "--batch", str(batch), "--dry-run", "--json"]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    cli_seconds = time.perf_counter() - started
    rows = len(json.loads(done.stdout)["rows"]) if done.returncode == 0 else 0
    print(f"dry run, 10 000 rows: parse+validate (strict) in-process {parse_seconds:.2f} s ({len(parsed.rows)} rows)")
    print(f"dry run, 10 000 rows: whole CLI command {cli_seconds:.2f} s, exit {done.returncode}, {rows} rows printed")
    print(f"  target < 10 s: {'met' if cli_seconds < 10 and done.returncode == 0 else 'MISSED'}")


def bench_throughput(work: Path, rows: int, project: Path, max_concurrent: int) -> None:
    batch = write_rows(work / "throughput.jsonl", rows)
    out = work / "batch-out"
    command = [
        *framecast(),
        "render-batch",
        str(project),
        "--batch",
        str(batch),
        "-o",
        str(out),
        "--max-concurrent",
        str(max_concurrent),
        "--manifest",
        str(work / "throughput.manifest.jsonl"),
    ]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    batch_seconds = time.perf_counter() - started
    launches = re.search(r"browsers launched: (\d+)", done.stderr)
    if done.returncode != 0:
        print(done.stderr[-2000:])
    print(
        f"render-batch, {rows} rows, --max-concurrent {max_concurrent}: {batch_seconds:.1f} s "
        f"({rows / batch_seconds:.2f} rows/s), exit {done.returncode}, browsers launched "
        f"{launches.group(1) if launches else '?'}"
    )
    separate_out = work / "separate-out"
    started = time.perf_counter()
    for line in batch.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        target = separate_out / row["outputKey"]
        subprocess.run(
            [*framecast(), "render", str(project), "-o", str(target), "--variables", json.dumps(row["variables"])],
            capture_output=True,
            check=True,
        )
    separate_seconds = time.perf_counter() - started
    print(f"{rows} separate `framecast render` calls: {separate_seconds:.1f} s ({rows / separate_seconds:.2f} rows/s)")
    print(f"  render-batch speed-up: {separate_seconds / batch_seconds:.2f}x")


def bench_lambda_overhead(work: Path, rows: int) -> None:
    from datetime import UTC, datetime

    from app.cli.main import main as framecast_main
    from app.cloud.stack import StackState, save_stack
    from tests.support.moto_stack import ACCOUNT_ID, IMAGE_URI, REGION, TEMPLATE, moto_stack_server

    def instant(backend: object, name: str, qualifier: object, body: object, headers: dict[str, str]) -> bytes:
        event = json.loads(body.decode() if isinstance(body, bytes) else str(body))
        if event["Action"] == "plan":
            prefix = event["PlanOutputS3Prefix"]
            result = {"PlanHash": "0" * 64, "ChunkCount": 1, "ChunkIndexes": [0], "TotalFrames": 1, "Format": "mp4"}
            result["PlanManifestS3Uri"] = prefix + "plan-manifest.json"
        elif event["Action"] == "renderChunk":
            result = {"ChunkIndex": 0, "ChunkS3Uri": event["ChunkOutputS3Prefix"] + "chunk-00000.mp4"}
        else:
            result = {"OutputS3Uri": event["OutputS3Uri"], "FramesEncoded": 1, "FileSize": 1, "DurationMs": 33}
        payload = json.dumps(result).encode()
        headers["Content-Length"] = str(len(payload))
        return payload

    with moto_stack_server() as stack:
        stack.invoke = instant  # type: ignore[method-assign,assignment]
        cfn = stack.client("cloudformation")
        params = [{"ParameterKey": "ImageUri", "ParameterValue": IMAGE_URI}]
        caps = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]
        cfn.create_change_set(
            StackName="bench",
            ChangeSetName="c",
            ChangeSetType="CREATE",
            TemplateBody=TEMPLATE.read_text(),
            Parameters=params,
            Capabilities=caps,
        )
        cfn.execute_change_set(ChangeSetName="c", StackName="bench")
        described = cfn.describe_stacks(StackName="bench")["Stacks"][0]
        out = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
        os.environ.update({**stack.env(), "FRAMECAST_STATE_DIR": str(work / "stacks")})
        os.environ["FRAMECAST_BATCH_POLL_SECONDS"] = "0.1"
        save_stack(
            StackState(
                stack="bench",
                region=REGION,
                account_id=ACCOUNT_ID,
                stack_id=described["StackId"],
                bucket=out["BucketName"],
                state_machine_arn=out["StateMachineArn"],
                function_name=out["FunctionName"],
                function_arn=out["FunctionArn"],
                memory_mb=3008,
                timeout_seconds=900,
                architecture="x86_64",
                image_uri=IMAGE_URI,
                image_digest=None,
                deployed_at=datetime.now(UTC),
            )
        )
        for wait in (False, True):
            batch = write_rows(work / f"lambda-{wait}.jsonl", rows)
            argv = ["render-batch", str(EXAMPLE), "--batch", str(batch), "--backend", "lambda", "--stack", "bench"]
            argv += ["--yes", "--max-concurrent", str(rows), "--manifest", str(work / f"lambda-{wait}.manifest")]
            started = time.perf_counter()
            code = framecast_main([*argv, *(["--wait"] if wait else [])])
            seconds = time.perf_counter() - started
            what = "started and followed to the end (--wait)" if wait else "started (no --wait)"
            print(
                f"lambda path on moto, {rows} rows {what}: {seconds:.2f} s, {1000 * seconds / rows:.0f} ms a row "
                f"(one site upload included), exit {code}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20)
    parser.add_argument("--small", action="store_true", help="320x180, 1 s copy of examples/variables")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--max-concurrent", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--lambda-overhead", action="store_true", help="measure the Lambda path on moto")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="framecast-bench-batch-"))
    try:
        print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}")
        bench_dry_run(work)
        if not args.skip_throughput:
            project = small_copy(work) if args.small else EXAMPLE
            print(f"throughput project: {'examples/variables at 320x180, 1 s' if args.small else 'examples/variables'}")
            bench_throughput(work, args.rows, project, args.max_concurrent)
        if args.lambda_overhead:
            bench_lambda_overhead(work, args.rows)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
