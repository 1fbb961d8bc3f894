"""Readiness decisions (app.engine.readiness): when to capture, when to go on without a timeline, when to fail."""

from __future__ import annotations

from app.engine.readiness import (
    BASE_DEADLINE_SECONDS,
    DEADLINE_SECONDS_PER_LOAD,
    FAILED_SCRIPT_GRACE_SECONDS,
    IDLE_STALL_SECONDS,
    TIMELINE_GRACE_SECONDS,
    PageState,
    ReadinessWait,
)

LIMIT = 45.0
NO_TIMELINE = PageState(timelines=("intro",))


def waited(states: list[tuple[float, PageState]]) -> list[str]:
    wait = ReadinessWait(started=0.0, limit_seconds=LIMIT)
    return [wait.observe(state, now).outcome for now, state in states]


def test_a_page_with_nothing_pending_is_ready_at_once() -> None:
    assert waited([(0.0, PageState(busy=("1 pending setTimeout",), loading=("http://x/a.json",)))]) == ["ready"]


def test_a_missing_timeline_on_an_idle_page_is_given_up_after_the_grace_with_a_warning() -> None:
    wait = ReadinessWait(started=0.0, limit_seconds=LIMIT)
    assert wait.observe(NO_TIMELINE, 0.0).outcome == "wait"
    assert wait.observe(NO_TIMELINE, TIMELINE_GRACE_SECONDS - 0.01).outcome == "wait"
    verdict = wait.observe(NO_TIMELINE, TIMELINE_GRACE_SECONDS)
    assert verdict.outcome == "timeline-free"
    assert (
        verdict.message.startswith("composition intro registered no timeline") and "data-no-timeline" in verdict.message
    )


def test_a_page_still_loading_or_waiting_on_a_timer_is_waited_for_past_the_grace() -> None:
    fetching = PageState(timelines=("intro",), loading=("http://127.0.0.1/data.json",))
    timer = PageState(timelines=("intro",), busy=("1 pending setTimeout",))
    assert waited([(0.0, fetching), (2.0, fetching), (4.0, timer), (6.0, timer)]) == ["wait"] * 4
    # Once idle again, the grace counts from then, not from the start.
    assert waited([(0.0, timer), (6.0, NO_TIMELINE), (6.1, NO_TIMELINE)]) == ["wait", "wait", "wait"]


def test_a_page_that_never_goes_idle_renders_timeline_free_at_the_deadline() -> None:
    timer = PageState(timelines=("intro",), busy=("1 pending setTimeout",))
    outcomes = waited([(0.0, timer), (BASE_DEADLINE_SECONDS - 0.1, timer), (BASE_DEADLINE_SECONDS, timer)])
    assert outcomes == ["wait", "wait", "timeline-free"]


def test_a_failed_script_ends_the_wait_once_the_page_is_idle_naming_it_and_what_is_pending() -> None:
    failed = ("http://127.0.0.1/lib.js (HTTP 404)",)
    loading = PageState(
        waiting=("runtime render readiness",), loading=("http://127.0.0.1/a.png",), failed_scripts=failed
    )
    idle = PageState(waiting=("runtime render readiness",), timelines=("intro",), failed_scripts=failed)
    wait = ReadinessWait(started=0.0, limit_seconds=LIMIT)
    assert wait.observe(loading, 0.0).outcome == "wait"
    assert wait.observe(loading, 1.0).outcome == "wait"  # something may still arrive
    verdict = wait.observe(idle, 1.01)
    assert verdict.outcome == "script-failed"
    assert "script http://127.0.0.1/lib.js (HTTP 404) failed to load" in verdict.message
    assert "still waiting for: runtime render readiness, timeline intro" in verdict.message


def test_a_failed_script_is_not_taken_for_a_timeline_free_page() -> None:
    state = PageState(timelines=("intro",), failed_scripts=("http://127.0.0.1/gsap.js (HTTP 404)",))
    wait = ReadinessWait(started=0.0, limit_seconds=LIMIT)
    assert wait.observe(state, 0.0).outcome == "wait"
    assert wait.observe(state, FAILED_SCRIPT_GRACE_SECONDS).outcome == "script-failed"


def test_a_page_that_gets_ready_without_its_failed_script_renders() -> None:
    failed = ("http://127.0.0.1/analytics.js (HTTP 404)",)
    wait = ReadinessWait(started=0.0, limit_seconds=LIMIT)
    assert wait.observe(PageState(waiting=("runtime player",), failed_scripts=failed), 0.0).outcome == "wait"
    assert wait.observe(PageState(failed_scripts=failed), 0.1).outcome == "ready"


def test_an_idle_page_whose_runtime_never_gets_ready_fails_after_the_idle_stall_naming_it() -> None:
    stuck = PageState(waiting=("runtime render readiness",))
    wait = ReadinessWait(started=0.0, limit_seconds=LIMIT)
    assert wait.observe(stuck, 0.0).outcome == "wait"
    assert wait.observe(stuck, IDLE_STALL_SECONDS - 0.01).outcome == "wait"
    verdict = wait.observe(stuck, IDLE_STALL_SECONDS)
    assert verdict.outcome == "timeout" and "still waiting for: runtime render readiness;" in verdict.message


def test_progress_restarts_the_idle_stall() -> None:
    first, second = PageState(waiting=("runtime player",)), PageState(waiting=("runtime render readiness",))
    wait = ReadinessWait(started=0.0, limit_seconds=LIMIT)
    assert wait.observe(first, 0.0).outcome == "wait"
    assert wait.observe(second, IDLE_STALL_SECONDS - 1).outcome == "wait"
    assert wait.observe(second, IDLE_STALL_SECONDS + 1).outcome == "wait"
    assert wait.observe(second, 2 * IDLE_STALL_SECONDS).outcome == "timeout"


def test_the_deadline_grows_with_the_loads_seen_pending_up_to_the_limit() -> None:
    images = PageState(
        waiting=("image a.png", "image b.png"), loading=("http://127.0.0.1/a.png", "http://127.0.0.1/b.png")
    )
    wait = ReadinessWait(started=0.0, limit_seconds=LIMIT)
    assert wait.observe(images, 0.0).outcome == "wait"
    assert wait.deadline() == BASE_DEADLINE_SECONDS + 2 * DEADLINE_SECONDS_PER_LOAD
    assert wait.observe(images, BASE_DEADLINE_SECONDS + 1).outcome == "wait"
    verdict = wait.observe(images, wait.deadline())
    assert verdict.outcome == "timeout"
    assert "still waiting for: image a.png, image b.png, request http://127.0.0.1/a.png" in verdict.message
    many = PageState(waiting=("fonts",), loading=tuple(f"http://127.0.0.1/{i}.woff2" for i in range(20)))
    capped = ReadinessWait(started=0.0, limit_seconds=LIMIT)
    capped.observe(many, 0.0)
    assert capped.deadline() == LIMIT
