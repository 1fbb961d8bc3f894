"""The dispatcher: concurrency cap, per-row failures isolated, input order, interrupts, exit codes.

The backend here is an in-memory fake with the backend contract (start → started, follow → final),
so these tests exercise the dispatcher itself; the real backends have their own functional tests.
"""

from __future__ import annotations

import io
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console

from app.batch.batch_file import BatchRow, parse_batch_text
from app.batch.dispatch import Counts, Dispatcher, DispatchOptions, Task
from app.batch.manifest import BatchHeader, ManifestJournal, ManifestRow, read_manifest
from app.batch.progress import batch_progress
from app.batch.run import exit_code_for
from app.errors import StorageError


class FakeBackend:
    name = "fake"
    durable_starts = True

    def __init__(self, render_seconds: float = 0.05, fail_start: set[int] | None = None) -> None:
        self.render_seconds = render_seconds
        self.fail_start = fail_start or set()
        self.fail_render: set[int] = set()
        self.lock = threading.Lock()
        self.running = 0
        self.peak = 0
        self.starts: list[int] = []
        self.cancelled: list[int] = []
        self.on_start: Callable[[int], None] | None = None

    def start(self, row: BatchRow, current: ManifestRow) -> ManifestRow:
        if row.line in self.fail_start:
            raise StorageError(f"start of line {row.line} refused")
        with self.lock:
            self.starts.append(row.line)
            self.running += 1
            self.peak = max(self.peak, self.running)
        if self.on_start:
            self.on_start(row.line)
        return current.with_(status="started", execution_arn=f"arn:{row.line}", render_id=f"r{row.line}")

    def follow(self, started: ManifestRow, keep_following: Callable[[], bool]) -> ManifestRow | None:
        deadline = time.monotonic() + self.render_seconds
        try:
            while time.monotonic() < deadline:
                if not keep_following():
                    return None
                time.sleep(0.005)
            failed = started.line in self.fail_render
            return started.with_(status="failed" if failed else "succeeded", error="boom" if failed else None)
        finally:
            with self.lock:
                self.running -= 1

    def cancel(self, started: ManifestRow) -> ManifestRow:
        self.cancelled.append(started.line)
        return started.with_(status="cancelled")

    def abort(self) -> None:
        pass


def setup(tmp_path: Path, count: int) -> tuple[list[Task], ManifestJournal]:
    text = "".join(f'{{"outputKey": "k{i}.mp4"}}\n' for i in range(1, count + 1)).encode()
    batch = parse_batch_text(text, tmp_path / "b.jsonl", None)
    header = BatchHeader(
        batch_file="b.jsonl", batch_digest=batch.digest, batch_id="x", backend="lambda", project="/p", rows=count
    )
    rows = [ManifestRow(line=r.line, output_key=r.output_key, status="would-start") for r in batch.rows]
    journal = ManifestJournal(tmp_path / "m.jsonl", header, rows)
    journal.open()
    return [Task(r) for r in batch.rows], journal


def test_the_cap_bounds_renders_in_flight_and_failures_do_not_stop_the_batch(tmp_path: Path) -> None:
    tasks, journal = setup(tmp_path, 20)
    backend = FakeBackend(fail_start={4, 11})
    backend.fail_render = {7}
    result = Dispatcher(backend, journal, tasks, DispatchOptions(max_concurrent=3, wait=True)).run()
    journal.close()
    assert backend.peak == 3 and result.counts.peak_in_flight == 3
    _, rows = read_manifest(journal.path)
    assert [rows[i].status for i in (4, 7, 11)] == ["failed-to-start", "failed", "failed-to-start"]
    assert "STORAGE_ERROR: start of line 4 refused" in (rows[4].error or "")
    assert all(rows[i].status == "succeeded" for i in set(range(1, 21)) - {4, 7, 11})
    assert sorted(backend.starts) == sorted(set(range(1, 21)) - {4, 11})
    assert (result.counts.succeeded, result.counts.failed) == (17, 3)
    assert exit_code_for(journal.rows(), wait=True, interrupted_by=None) == 1


def test_without_wait_the_last_rows_stay_started_and_the_exit_code_is_zero(tmp_path: Path) -> None:
    tasks, journal = setup(tmp_path, 6)
    backend = FakeBackend(render_seconds=5.0)
    started = time.monotonic()
    Dispatcher(backend, journal, tasks, DispatchOptions(max_concurrent=6, wait=False)).run()
    journal.close()
    assert time.monotonic() - started < 3
    assert {row.status for row in journal.rows()} == {"started"}
    assert exit_code_for(journal.rows(), wait=False, interrupted_by=None) == 0
    assert exit_code_for(journal.rows(), wait=True, interrupted_by=None) == 1


@pytest.mark.parametrize(("sig", "cancel"), [(signal.SIGINT, False), (signal.SIGINT, True), (signal.SIGTERM, False)])
def test_a_signal_stops_dispatching_keeps_every_started_row_and_cancels_only_when_asked(
    tmp_path: Path, sig: signal.Signals, cancel: bool
) -> None:
    tasks, journal = setup(tmp_path, 30)
    backend = FakeBackend(render_seconds=30.0)

    def interrupt_after_three(line: int) -> None:
        if len(backend.starts) == 3:
            os.kill(os.getpid(), sig)

    backend.on_start = interrupt_after_three
    options = DispatchOptions(max_concurrent=3, wait=True, cancel_on_interrupt=cancel)
    started = time.monotonic()
    result = Dispatcher(backend, journal, tasks, options).run()
    journal.close()
    assert time.monotonic() - started < 10
    assert result.interrupted_by == sig
    assert sorted(backend.starts) == [1, 2, 3]
    _, rows = read_manifest(journal.path)
    expected = "cancelled" if cancel else "started"
    assert [rows[i].status for i in (1, 2, 3)] == [expected] * 3
    assert all(rows[i].execution_arn == f"arn:{i}" for i in (1, 2, 3))
    assert all(rows[i].status == "would-start" for i in range(4, 31))
    assert sorted(backend.cancelled) == ([1, 2, 3] if cancel else [])
    assert exit_code_for(journal.rows(), wait=True, interrupted_by=result.interrupted_by) == 128 + sig
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers restored
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_off_a_terminal_progress_is_a_heartbeat_line_at_the_configured_interval() -> None:
    stream = io.StringIO()
    console = Console(file=stream, force_terminal=False, width=200)
    with batch_progress(console, heartbeat_seconds=0.05) as display:
        display.update(Counts(total=9, started=4, succeeded=2, failed=1, in_flight=1))
        time.sleep(0.3)
    lines = [line for line in stream.getvalue().splitlines() if line]
    assert len(lines) >= 3
    assert lines[-1].endswith("started 4, succeeded 2, failed 1, in flight 1 (of 9)")
