"""Run batch rows through a backend under a concurrency cap; survive Ctrl-C, SIGTERM and crashes.

A slot is held by a row from its start until its render ends (or until dispatching is over, without
``wait``): the cap bounds renders in flight, not just start calls. Rows are dispatched in input order
and every status change goes through the ManifestJournal before anything else sees it. Per-row
failures never stop the batch. The first SIGINT/SIGTERM stops dispatching at once, lets in-flight
start calls return (and, with ``cancel_on_interrupt``, cancels what was started); a second one writes
the manifest and exits the process immediately.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Protocol

from app.batch.batch_file import BatchRow
from app.batch.manifest import ManifestJournal, ManifestRow
from app.errors import FramecastError

log = logging.getLogger(__name__)


class BatchBackend(Protocol):
    """Where rows are rendered. ``start`` returns the row as started, or already final (local)."""

    name: str
    durable_starts: bool  # a started row lives on without this process (Lambda), or dies with it (local)

    def start(self, row: BatchRow, current: ManifestRow) -> ManifestRow: ...

    def follow(self, started: ManifestRow, keep_following: Callable[[], bool]) -> ManifestRow | None:
        """Block until the render ends and return its final row, or None once keep_following() is False."""
        ...

    def cancel(self, started: ManifestRow) -> ManifestRow: ...

    def abort(self) -> None:
        """Stop in-flight start calls now (local renders); they return their rows as cancelled."""
        ...


@dataclass(frozen=True)
class DispatchOptions:
    max_concurrent: int
    wait: bool = False
    cancel_on_interrupt: bool = False


@dataclass(frozen=True)
class Task:
    row: BatchRow
    follow_only: bool = False  # resumed row already started on a durable backend: follow, never start


@dataclass
class Counts:
    total: int
    started: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0


@dataclass
class DispatchResult:
    counts: Counts
    interrupted_by: int | None = None  # the signal number
    elapsed_seconds: float = 0.0
    interrupts: list[int] = field(default_factory=list)


Listener = Callable[[Counts], None]


class Dispatcher:
    def __init__(
        self,
        backend: BatchBackend,
        journal: ManifestJournal,
        tasks: list[Task],
        options: DispatchOptions,
        listener: Listener | None = None,
        on_hard_exit: Callable[[int], None] | None = None,
    ) -> None:
        if options.max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        self.backend = backend
        self.journal = journal
        self.tasks = tasks
        self.options = options
        self.listener = listener
        self.on_hard_exit = on_hard_exit
        self.counts = Counts(total=len(tasks))
        self._lock = threading.Lock()
        self._slots = threading.Semaphore(options.max_concurrent)
        self._stop = threading.Event()
        self._dispatch_done = threading.Event()
        self._signals: list[int] = []

    # -- the dispatch loop (main thread) ------------------------------------------------------------

    def run(self) -> DispatchResult:
        started = time.monotonic()
        with (
            self._signal_handlers(),
            ThreadPoolExecutor(max_workers=self.options.max_concurrent, thread_name_prefix="batch-row") as pool,
        ):
            futures: list[Future[None]] = []
            for task in self.tasks:
                if not self._take_slot():
                    break
                futures.append(pool.submit(self._run_task, task))
            self._dispatch_done.set()
            # Wait in short slices: the main thread must keep running Python for signal handlers to run.
            while not all(future.done() for future in futures):
                wait(futures, timeout=0.2)
        return DispatchResult(
            counts=self.counts,
            interrupted_by=self._signals[0] if self._signals else None,
            elapsed_seconds=time.monotonic() - started,
            interrupts=list(self._signals),
        )

    def _take_slot(self) -> bool:
        while not self._stop.is_set():
            if self._slots.acquire(timeout=0.1):
                if self._stop.is_set():
                    self._slots.release()
                    return False
                with self._lock:
                    self.counts.in_flight += 1
                    self.counts.peak_in_flight = max(self.counts.peak_in_flight, self.counts.in_flight)
                return True
        return False

    # -- one row (worker thread) --------------------------------------------------------------------

    def _run_task(self, task: Task) -> None:
        try:
            current = self.journal.row(task.row.line)
            row = current if task.follow_only else self._start(task.row, current)
            if row.status == "started":
                row = self._follow(row)
            self._count_final(row)
        except Exception:  # a bug in a backend must not take the batch (or its manifest) down
            log.exception("row on line %d crashed", task.row.line)
        finally:
            with self._lock:
                self.counts.in_flight -= 1
            self._slots.release()
            self._notify()

    def _start(self, row: BatchRow, current: ManifestRow) -> ManifestRow:
        try:
            result = self.backend.start(row, current)
        except FramecastError as exc:
            result = current.with_(status="failed-to-start", error=f"{exc.code}: {exc.message}")
        except Exception as exc:  # an unexpected failure of one row is still only that row's failure
            result = current.with_(status="failed-to-start", error=f"{type(exc).__name__}: {exc}")
        self.journal.record(result)
        if result.status != "failed-to-start":
            with self._lock:
                self.counts.started += 1
        self._notify()
        return result

    def _follow(self, started: ManifestRow) -> ManifestRow:
        final = self.backend.follow(started, self._keep_following)
        if final is None and self._stop.is_set() and self.options.cancel_on_interrupt:
            try:
                final = self.backend.cancel(started)
            except FramecastError as exc:
                log.warning("could not cancel line %d: %s: %s", started.line, exc.code, exc.message)
        if final is not None:
            self.journal.record(final)
            return final
        return started

    def _keep_following(self) -> bool:
        if self._stop.is_set():
            return False
        return self.options.wait or not self._dispatch_done.is_set()

    def _count_final(self, row: ManifestRow) -> None:
        with self._lock:
            if row.status == "succeeded":
                self.counts.succeeded += 1
            elif row.status in ("failed", "failed-to-start"):
                self.counts.failed += 1
            elif row.status == "cancelled":
                self.counts.cancelled += 1

    def _notify(self) -> None:
        if self.listener is not None:
            with self._lock:
                snapshot = Counts(**vars(self.counts))
            self.listener(snapshot)

    # -- interrupts ---------------------------------------------------------------------------------

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signals.append(signum)
        if len(self._signals) == 1:
            self._stop.set()
            if self.options.cancel_on_interrupt:
                self.backend.abort()
            return
        # A second signal: the user wants out now. The journal already holds every event (fsynced);
        # compact it into the manifest and leave without waiting for anything.
        try:
            if self.on_hard_exit is not None:
                self.on_hard_exit(self._signals[0])  # first: a killed worker's children would be orphaned
            self.backend.abort()
            self.journal.close()
        finally:
            os._exit(128 + self._signals[0])

    @contextmanager
    def _signal_handlers(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
