"""What a running batch shows on stderr: a rich bar on a terminal, a heartbeat line elsewhere (CI logs).

The bar counts finished rows (succeeded + failed + cancelled) against the rows dispatched and shows
started, succeeded, failed, in flight and the ETA. Off a terminal, one line every ``heartbeat_seconds``
(default 10 s) says the same, so a CI log shows the batch is alive without drowning in redraws.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from app.batch.dispatch import Counts

DEFAULT_HEARTBEAT_SECONDS = 10.0


def describe(counts: Counts) -> str:
    return (
        f"started {counts.started}, succeeded {counts.succeeded}, failed {counts.failed}, "
        f"in flight {counts.in_flight}"
        + (f", cancelled {counts.cancelled}" if counts.cancelled else "")
        + f" (of {counts.total})"
    )


def finished(counts: Counts) -> int:
    return counts.succeeded + counts.failed + counts.cancelled


class _Heartbeat:
    """Prints the latest counts every ``interval`` seconds from a daemon thread."""

    def __init__(self, console: Console, interval: float) -> None:
        self.console = console
        self.interval = interval
        self.latest: Counts | None = None
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="batch-heartbeat", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            if self.latest is not None:
                elapsed = time.monotonic() - self.started
                self.console.print(f"[{elapsed:6.0f} s] {describe(self.latest)}", highlight=False, soft_wrap=True)

    def update(self, counts: Counts) -> None:
        self.latest = counts


class _Bar:
    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task = progress.add_task("rows", total=None, detail="")

    def update(self, counts: Counts) -> None:
        detail = f"✓ {counts.succeeded}  ✗ {counts.failed}  ▶ {counts.in_flight} in flight  {counts.started} started"
        self.progress.update(self.task, completed=finished(counts), total=counts.total, detail=detail)


@contextmanager
def batch_progress(console: Console, heartbeat_seconds: float) -> Iterator[_Heartbeat | _Bar]:
    """Yield an object with ``update(counts)``: a live bar on a terminal, a heartbeat otherwise."""
    if not console.is_terminal:
        with _Heartbeat(console, heartbeat_seconds) as beat:
            yield beat
        return
    columns = (
        TextColumn("[bold]render-batch"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        yield _Bar(progress)
