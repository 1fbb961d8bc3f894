"""When a loaded composition is ready to capture, and when waiting for it is pointless.

Pure decisions over what the page reports (``bridge.js`` ``readiness()``) and what the capture
session saw on the network; no browser here. The contract:

- ready: nothing is pending (runtime ready with a duration, images complete, fonts loaded, every
  composition without ``data-no-timeline`` has registered ``window.__timelines[id]``);
- a script that failed to load ends the wait as soon as the page is idle (PAGE_ERROR naming it and
  what is pending), since whatever is pending may depend on it; a page that gets ready without it
  renders;
- a host that never registers its timeline renders timeline-free (CSS, WAAPI, rAF) with a one-line
  warning once the page has been idle (loaded, nothing in flight, no pending setTimeout) for a short
  grace; a page still fetching or waiting on a timer is waited for, so late registration works;
- runtime states still pending on an idle page fail after ``IDLE_STALL_SECONDS``;
- the overall deadline grows with the loads seen pending, up to the session's limit; past it the
  error (CAPTURE_TIMEOUT) names exactly what is pending.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

TIMELINE_GRACE_SECONDS = 0.3
# After a script failed, one more moment for a page that does not need it (the runtime's own set-up).
FAILED_SCRIPT_GRACE_SECONDS = 0.25
IDLE_STALL_SECONDS = 5.0
BASE_DEADLINE_SECONDS = 10.0
DEADLINE_SECONDS_PER_LOAD = 5.0
_HINT = "; check that every image, font and script the page uses exists in the project"

Outcome = Literal["ready", "wait", "timeline-free", "script-failed", "timeout"]


@dataclass(frozen=True)
class PageState:
    """One readiness poll: what the page and the network still hold up."""

    waiting: tuple[str, ...] = ()  # runtime player/readiness/duration, images, fonts
    timelines: tuple[str, ...] = ()  # composition ids with no registered timeline
    busy: tuple[str, ...] = ()  # why the page is not idle: document loading, pending timers
    loading: tuple[str, ...] = ()  # URLs of requests in flight
    failed_scripts: tuple[str, ...] = ()  # "url (reason)"

    @property
    def idle(self) -> bool:
        return not self.busy and not self.loading

    def pending(self) -> list[str]:
        return [
            *self.waiting,
            *(f"timeline {i} (window.__timelines[{i!r}])" for i in self.timelines),
            *(f"request {url}" for url in self.loading[:5]),
            *self.busy,
        ]


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    message: str = ""


@dataclass
class ReadinessWait:
    """Feed it one ``PageState`` per poll with the monotonic time; it says what to do next."""

    started: float
    limit_seconds: float
    _idle_since: float | None = None
    _last: tuple[tuple[str, ...], tuple[str, ...]] | None = None
    _loads_seen: set[str] = field(default_factory=set)
    _failure_seen: float | None = None

    def deadline(self) -> float:
        scaled = BASE_DEADLINE_SECONDS + DEADLINE_SECONDS_PER_LOAD * len(self._loads_seen)
        return self.started + min(self.limit_seconds, scaled)

    def observe(self, state: PageState, now: float) -> Verdict:
        if not state.waiting and not state.timelines:
            return Verdict("ready")
        if state.failed_scripts and self._failure_seen is None:
            self._failure_seen = now
        if self._failure_seen is not None and (
            (state.idle and now - self._failure_seen >= FAILED_SCRIPT_GRACE_SECONDS) or now >= self.deadline()
        ):
            return Verdict(
                "script-failed",
                f"script {_listed(state.failed_scripts)} failed to load, so the composition cannot become ready; "
                f"still waiting for: {', '.join(state.pending())}",
            )
        self._loads_seen.update(state.loading)
        progress = (state.waiting, state.timelines) != self._last
        self._last = (state.waiting, state.timelines)
        if not state.idle or progress:
            self._idle_since = None if not state.idle else now
        elif self._idle_since is None:
            self._idle_since = now
        idle_for = now - self._idle_since if self._idle_since is not None else 0.0
        if not state.waiting and not state.failed_scripts and idle_for >= TIMELINE_GRACE_SECONDS:
            return Verdict("timeline-free", self._no_timeline(state.timelines, "the page went idle"))
        if state.waiting and idle_for >= IDLE_STALL_SECONDS:
            return Verdict(
                "timeout",
                f"the page has been idle (loaded, nothing in flight) for {idle_for:.0f} s but the composition is "
                f"still not ready; still waiting for: {', '.join(state.pending())}{_HINT}",
            )
        if now >= self.deadline():
            if not state.waiting:
                return Verdict("timeline-free", self._no_timeline(state.timelines, "the wait for it ran out"))
            return Verdict(
                "timeout",
                f"the composition was not ready after {now - self.started:.0f} s; still waiting for: "
                f"{', '.join(state.pending())}{_HINT}",
            )
        return Verdict("wait")

    @staticmethod
    def _no_timeline(ids: Sequence[str], why: str) -> str:
        return (
            f"composition {', '.join(ids)} registered no timeline (window.__timelines) and {why}; rendering it "
            "timeline-free (CSS, WAAPI, requestAnimationFrame). Add data-no-timeline to its root to skip this wait"
        )


def _listed(items: Sequence[str]) -> str:
    return ", ".join(items[:3]) + (f" and {len(items) - 3} more" if len(items) > 3 else "")
