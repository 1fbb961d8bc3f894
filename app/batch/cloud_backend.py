"""The Lambda render-batch backend: every row is one Step Functions execution on a deployed stack.

Built on the ``framecast lambda`` client (app.cloud.renders): every row renders from the ONE site the
batch uploaded. The execution name (= render id) comes from ``app.batch.naming``: deterministic per
batch and row, so a row dispatched again after a crash gets back the execution it already has
(``start_render`` returns it when the input is the same) and never a second render; the same name
with another input is RENDER_ALREADY_EXISTS and the row is ``failed-to-start``. Outputs go to
``<output prefix><outputKey>`` in the stack's bucket (default prefix ``outputs/``, which no lifecycle
rule expires). A finished row carries its measured cost (billed Lambda time + state transitions).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.batch.batch_file import BatchRow
from app.batch.manifest import ManifestRow
from app.batch.naming import execution_name_for
from app.cloud import cost, renders
from app.cloud.render_progress import RenderProgress
from app.cloud.stack import StackState
from app.errors import FramecastError

DEFAULT_POLL_SECONDS = 5.0
DEFAULT_OUTPUT_PREFIX = "outputs/"
MAX_POLL_FAILURES = 30  # consecutive; with the default poll that is minutes of an unreachable render
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CloudSettings:
    state: StackState
    site_id: str
    batch_id: str
    config: dict[str, Any]  # RenderConfig fields shared by every row (variables come from the row)
    poll_seconds: float = DEFAULT_POLL_SECONDS
    output_prefix: str = DEFAULT_OUTPUT_PREFIX


class CloudBackend:
    name = "lambda"
    durable_starts = True

    def __init__(self, settings: CloudSettings) -> None:
        self.settings = settings

    def start(self, row: BatchRow, current: ManifestRow) -> ManifestRow:
        settings = self.settings
        name = execution_name_for(settings.batch_id, row, current)
        config = {**settings.config, "variables": row.variables} if row.variables else dict(settings.config)
        started = renders.start_render(
            settings.state,
            site_id=settings.site_id,
            config=config,
            output_key=settings.output_prefix + row.output_key,
            render_id=name,
            execution_name=name,
        )
        if not started.started:
            log.info("line %d: execution %s already existed with this input; not started again", row.line, name)
        return current.with_(
            status="started",
            render_id=started.render_id,
            execution_arn=started.execution_arn,
            output_uri=started.output_uri,
            error=None,
        )

    def follow(self, started: ManifestRow, keep_following: Callable[[], bool]) -> ManifestRow | None:
        assert started.render_id is not None
        failures = 0
        while keep_following():
            try:
                progress = renders.get_progress(self.settings.state, started.render_id)
            except FramecastError as exc:  # a failed poll is not a failed render: ask again next tick
                failures += 1
                log.warning("progress of line %d unavailable: %s: %s", started.line, exc.code, exc.message)
                if failures >= MAX_POLL_FAILURES:
                    error = f"lost track of the render after {failures} failed polls ({exc.code}: {exc.message})"
                    return started.with_(status="failed", error=error)
            else:
                failures = 0
                if progress.finished:
                    return self._final_row(started, progress)
            deadline = time.monotonic() + self.settings.poll_seconds
            while time.monotonic() < deadline and keep_following():
                time.sleep(min(0.1, self.settings.poll_seconds))
        return None

    def cancel(self, started: ManifestRow) -> ManifestRow:
        assert started.render_id is not None
        renders.cancel_render(self.settings.state, started.render_id)
        return started.with_(status="cancelled", error="cancelled on interrupt (--cancel-on-interrupt)")

    def abort(self) -> None:
        """Nothing to stop here: start calls are short, and the dispatcher gives out no new ones."""

    def _final_row(self, started: ManifestRow, progress: RenderProgress) -> ManifestRow:
        usd = self.measured_cost(progress)
        if progress.status == "SUCCEEDED":
            return started.with_(status="succeeded", cost=usd, output_uri=progress.output_uri or started.output_uri)
        error = f"{progress.error_code or progress.status}: {progress.error_cause or 'no cause given'}"
        return started.with_(status="cancelled" if progress.status == "ABORTED" else "failed", error=error, cost=usd)

    def measured_cost(self, progress: RenderProgress) -> float:
        state = self.settings.state
        billed = [math.ceil(invocation.seconds * 1000) for invocation in progress.invocations]
        arch: cost.Arch = "arm64" if state.architecture == "arm64" else "x86_64"
        return float(cost.actual_cost(billed, state.memory_mb, progress.state_transitions, arch).total_usd)
