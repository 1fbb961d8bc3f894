"""The local render-batch backend: rows rendered on this machine by a pool of warm browsers.

N worker processes (spawned: the parent may hold Playwright threads) each keep ONE browser warm
across every row they render, so a batch of 1 000 rows launches N browsers, not 1 000. A row's
output is ``<out>/<outputKey>``; the key was validated as a safe relative path, and the resolved
target must still lie inside ``<out>`` (a symlinked folder cannot lead it out). The engine writes
each output atomically, so an interrupted row leaves nothing behind under its name.
"""

from __future__ import annotations

import multiprocessing
import threading
from multiprocessing.pool import Pool
from pathlib import Path
from typing import Any

from app.batch import _local_worker
from app.batch.batch_file import BatchRow
from app.batch.manifest import ManifestRow
from app.engine.output_path import check_output
from app.engine.render import RenderOptions
from app.errors import FramecastError, InvalidConfigError

_POLL_SECONDS = 0.2


def resolve_output(out_root: Path, output_key: str) -> Path:
    """``out_root/output_key``, refusing anything that would land outside ``out_root`` or on a non-file."""
    root = out_root.resolve()
    target = root.joinpath(*output_key.split("/"))
    target.parent.mkdir(parents=True, exist_ok=True)
    parent = target.parent.resolve()
    if parent != root and root not in parent.parents:
        raise InvalidConfigError(
            f"outputKey {output_key!r} resolves to {parent}, outside the output folder {root} "
            "(a symlinked folder?); remove the link or choose another key"
        )
    final = parent / target.name
    if final.is_symlink():
        raise InvalidConfigError(f"{final} is a symlink; framecast never writes through one, choose another outputKey")
    return final


class LocalBackend:
    name = "local"
    durable_starts = False

    def __init__(self, project: Path, out_root: Path, options: RenderOptions, workers: int) -> None:
        self.project = project.resolve()
        self.out_root = out_root
        self.options = options.model_dump(exclude={"variables", "strict_variables"})
        self.workers = workers
        self._aborted = threading.Event()
        self._pool: Pool | None = None
        self._launches: dict[int, int] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> LocalBackend:
        # Refuse an output folder inside the project (or holding it) once, before any row starts;
        # every row's own path is checked again by the engine (app.engine.output_path) as it renders.
        check_output(self.out_root / ".framecast-batch", kind="file", inputs=[self.project])
        self.out_root.mkdir(parents=True, exist_ok=True)
        context = multiprocessing.get_context("spawn")
        self._pool = context.Pool(processes=self.workers, initializer=_local_worker.init_worker)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            if self._aborted.is_set():
                self._pool.terminate()
            else:
                self._pool.close()
            self._pool.join()
            self._pool = None

    @property
    def browser_launches(self) -> int:
        """Browsers started by the worker processes so far (one per worker that rendered anything)."""
        with self._lock:
            return sum(self._launches.values())

    def start(self, row: BatchRow, current: ManifestRow) -> ManifestRow:
        """Render the row to completion (a local 'start' is the whole render)."""
        if self._aborted.is_set() or self._pool is None:
            return current.with_(status="cancelled", error="interrupted before it started")
        target = resolve_output(self.out_root, row.output_key)
        options = {**self.options, "variables": row.variables}
        pending = self._pool.apply_async(_local_worker.render_row, (str(self.project), str(target), options))
        while True:
            try:
                done: dict[str, Any] = pending.get(timeout=_POLL_SECONDS)
                break
            except multiprocessing.TimeoutError:
                if self._aborted.is_set():
                    return current.with_(status="cancelled", error="interrupted while rendering; nothing was written")
            except FramecastError as exc:
                return current.with_(status="failed", error=f"{exc.code}: {exc.message}")
            except Exception as exc:  # a worker crash (or a foreign error) fails this row only
                return current.with_(status="failed", error=f"{type(exc).__name__}: {exc}")
        with self._lock:
            self._launches[done["pid"]] = done["launches"]
        return current.with_(status="succeeded", output_uri=str(target), error=None)

    def follow(self, started: ManifestRow, keep_following: Any) -> ManifestRow | None:
        return started  # start() already rendered it

    def cancel(self, started: ManifestRow) -> ManifestRow:
        return started.with_(status="cancelled")

    def abort(self) -> None:
        self._aborted.set()
        if self._pool is not None:
            self._pool.terminate()
