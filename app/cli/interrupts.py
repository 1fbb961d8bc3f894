"""SIGINT and SIGTERM while a command runs: stop every child process, unwind, exit 130 or 143.

On the first signal the handler kills this process's whole tree of descendants at once (ffmpeg,
the Playwright driver and the Chrome it launched, pool workers and their own children; collected
from /proc before any is killed, so none is orphaned halfway) and raises ``Interrupted``. That
exception is a ``BaseException``, so no ``except Exception`` swallows it and every ``finally`` on the
way out removes its temp folder or hidden partial file. A second signal during that clean-up is
ignored; a watchdog ends the process if clean-up itself hangs. What a killed process could not clean
up, the next run sweeps (``app.engine.scratch.sweep_stale``).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

log = logging.getLogger(__name__)

SIGNAL_NAMES = {signal.SIGINT: "Ctrl-C (SIGINT)", signal.SIGTERM: "SIGTERM"}
CLEANUP_DEADLINE_S = 30.0


def exit_code_for(signum: int) -> int:
    """The shell convention: 128 + the signal number (130 for SIGINT, 143 for SIGTERM)."""
    return 128 + signum


class Interrupted(BaseException):
    """Raised in the main thread when SIGINT or SIGTERM arrives."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by {SIGNAL_NAMES.get(signal.Signals(signum), str(signum))}")
        self.signum = signum


@dataclass
class InterruptState:
    signum: int | None = None
    watchdog: threading.Timer | None = None

    @property
    def message(self) -> str:
        name = SIGNAL_NAMES.get(signal.Signals(self.signum), str(self.signum)) if self.signum else "a signal"
        return f"cancelled: the render was interrupted by {name}; child processes stopped, temporary files removed"


@contextmanager
def handled() -> Iterator[InterruptState]:
    """Route SIGINT/SIGTERM to ``Interrupted`` for the duration of the block (main thread only)."""
    state = InterruptState()
    if threading.current_thread() is not threading.main_thread():
        yield state
        return

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if state.signum is not None:
            return  # clean-up of the first signal is under way; let it finish
        state.signum = signum
        # The killed Playwright driver fails futures nobody will read; that is expected, not news.
        logging.getLogger("asyncio").setLevel(logging.CRITICAL)
        kill_descendants()
        state.watchdog = _start_watchdog(exit_code_for(signum))
        raise Interrupted(signum)

    previous = {sig: signal.signal(sig, on_signal) for sig in SIGNAL_NAMES}
    try:
        yield state
    finally:
        if state.watchdog is not None:
            state.watchdog.cancel()  # clean-up finished in time
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def descendants(root: int | None = None) -> list[int]:
    """Pids of every live descendant of ``root`` (default: this process), from /proc; empty without /proc."""
    root = os.getpid() if root is None else root
    children: dict[int, list[int]] = {}
    for pid, ppid in _parents().items():
        children.setdefault(ppid, []).append(pid)
    found: list[int] = []
    pending = list(children.get(root, []))
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending.extend(children.get(pid, []))
    return found


def kill_descendants() -> list[int]:
    """SIGKILL the whole tree below this process (collected first, so grandchildren are not orphaned).

    multiprocessing's resource tracker is spared: it holds no render state, exits by itself when this
    process does, and killing it makes the next pool print its own traceback.
    """
    spared = _resource_tracker_pid()
    pids = [pid for pid in descendants() if pid != spared]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            continue
    return pids


def _resource_tracker_pid() -> int | None:
    from multiprocessing import resource_tracker

    pid = getattr(getattr(resource_tracker, "_resource_tracker", None), "_pid", None)
    return pid if isinstance(pid, int) else None


def _parents() -> dict[int, int]:
    parents: dict[int, int] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return parents
    for name in entries:
        if not name.isdigit():
            continue
        try:
            text = Path(f"/proc/{name}/stat").read_text()
        except OSError:
            continue  # exited while we looked
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
        fields = text.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and fields[0] != "Z":
            parents[int(name)] = int(fields[1])
    return parents


def _start_watchdog(code: int) -> threading.Timer:
    def give_up() -> None:
        log.warning("clean-up after the interrupt took too long; exiting now")
        os._exit(code)

    timer = threading.Timer(CLEANUP_DEADLINE_S, give_up)
    timer.daemon = True
    timer.start()
    return timer
