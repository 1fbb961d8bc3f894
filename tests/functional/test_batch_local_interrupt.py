"""render-batch on this machine, interrupted for real: SIGINT and SIGKILL on the installed command.

SIGINT: exit 130, the manifest is complete and says what finished; ``--resume`` renders only the rest.
SIGKILL: the journal still names every finished row; ``--resume`` completes the batch without
rendering a finished row again. Rows are tiny (320x180, 1 s) so a render takes about a second.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from app.batch.manifest import read_manifest
from tests.functional.test_batch_local import small_variables_project, write_batch

pytestmark = pytest.mark.chrome

ROWS = [{"outputKey": f"row-{i}.mp4", "variables": {"name": f"Person {i}"}} for i in range(1, 7)]


def command() -> list[str]:
    found = shutil.which("framecast")
    return [found] if found else [sys.executable, "-m", "app.cli.main"]


def wait_for_succeeded(manifest: Path, count: int, process: subprocess.Popen[Any], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        if manifest.exists():
            _, rows = read_manifest(manifest)
            if sum(row.status == "succeeded" for row in rows.values()) >= count:
                return
        time.sleep(0.1)
    raise AssertionError(f"{count} row(s) did not succeed within {timeout} s")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_interrupt_then_resume_renders_each_row_exactly_once(tmp_path: Path, sig: signal.Signals) -> None:
    project = small_variables_project(tmp_path / "project")
    batch = write_batch(tmp_path / "people.jsonl", ROWS)
    out, manifest = tmp_path / "out", tmp_path / "m.jsonl"
    argv = [*command(), "render-batch", str(project), "--batch", str(batch), "-o", str(out), "--max-concurrent", "1"]
    env = {**os.environ, "FRAMECAST_BATCH_HEARTBEAT_SECONDS": "0.5"}
    process = subprocess.Popen(
        [*argv, "--manifest", str(manifest)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    wait_for_succeeded(manifest, 2, process)
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=60)
    if sig == signal.SIGINT:
        assert process.returncode == 130, stderr
        assert "--resume" in stderr and "interrupted" in stderr
        assert "peak in flight 1" in stderr  # the summary is printed on the way out
    else:
        assert process.returncode == -signal.SIGKILL
    _, before = read_manifest(manifest)
    done_before = {line for line, row in before.items() if row.status == "succeeded"}
    assert len(done_before) >= 2
    assert len(done_before) < len(ROWS)
    mtimes = {line: os.stat(out / before[line].output_key).st_mtime_ns for line in done_before}
    resumed = subprocess.run(
        [*argv, "--resume", str(manifest), "--json"], capture_output=True, text=True, env=env, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr
    document = json.loads(resumed.stdout)
    assert [row["status"] for row in document["rows"]] == ["succeeded"] * len(ROWS)
    for line, mtime in mtimes.items():
        assert os.stat(out / before[line].output_key).st_mtime_ns == mtime  # not rendered twice
    assert sorted(p.name for p in out.iterdir()) == sorted(str(row["outputKey"]) for row in ROWS)


def test_a_second_sigint_exits_at_once_with_the_manifest_written(tmp_path: Path) -> None:
    project = small_variables_project(tmp_path / "project")
    batch = write_batch(tmp_path / "people.jsonl", ROWS)
    out, manifest = tmp_path / "out", tmp_path / "m.jsonl"
    argv = [*command(), "render-batch", str(project), "--batch", str(batch), "-o", str(out), "--max-concurrent", "1"]
    process = subprocess.Popen([*argv, "--manifest", str(manifest)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for_succeeded(manifest, 1, process)
    process.send_signal(signal.SIGINT)
    time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=20)
    assert process.returncode == 130
    lines = manifest.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 + len(ROWS)  # compacted: header + one row per line
    _, rows = read_manifest(manifest)
    assert rows[1].status == "succeeded"
    assert {row.status for row in rows.values()} <= {"succeeded", "cancelled", "would-start"}
    assert not [p.name for p in out.rglob("*") if p.is_file() and p.suffix == ".mp4" and p.name.startswith(".")]
