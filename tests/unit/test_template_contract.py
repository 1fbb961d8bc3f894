"""Contract: the state machine's retry policy in infra/template.yaml is app/errors.py's, exactly.

app/errors.py is the one source of truth. Amazon States Language cannot share a Retry block, so the
template repeats it per Task; scripts/sync_template_errors.py regenerates those copies and this test
fails on any drift.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from app.errors import RETRY_POLICY, non_retryable_codes
from tests.support import cfn_yaml
from tests.support.sfn_harness import state_machine_resource

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "template.yaml"
FIX = "run `python scripts/sync_template_errors.py` to regenerate the template's retry lists from app/errors.py"


def iter_states(states: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every state, nested Map/Parallel ones included, named by its path."""
    for name, state in states.items():
        path = f"{prefix}{name}"
        yield path, state
        for nested in (state.get("ItemProcessor"), state.get("Iterator"), *state.get("Branches", [])):
            if nested:
                yield from iter_states(nested["States"], prefix=f"{path}/")


def definition() -> dict[str, Any]:
    resource: dict[str, Any] = state_machine_resource(cfn_yaml.load(TEMPLATE))
    result: dict[str, Any] = resource["Properties"]["Definition"]
    return result


TASKS = {path: state for path, state in iter_states(definition()["States"]) if state["Type"] == "Task"}


def load_sync_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sync_template_errors", ROOT / "scripts" / "sync_template_errors.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def expected_retry_all() -> dict[str, Any]:
    return {
        "ErrorEquals": ["States.ALL"],
        "MaxAttempts": RETRY_POLICY.max_attempts,
        "IntervalSeconds": RETRY_POLICY.interval_seconds,
        "BackoffRate": RETRY_POLICY.backoff_rate,
        "MaxDelaySeconds": RETRY_POLICY.max_delay_seconds,
    }


def test_the_state_machine_has_a_task_per_activity() -> None:
    assert set(TASKS) >= {"Plan", "Assemble"}
    assert len(TASKS) >= 3


@pytest.mark.parametrize("task", sorted(TASKS))
def test_task_fails_fast_on_exactly_the_non_retryable_codes(task: str) -> None:
    retry = TASKS[task].get("Retry", [])
    assert retry, f"Task {task!r} has no Retry; {FIX}"
    fail_fast = retry[0]
    listed = fail_fast.get("ErrorEquals", [])
    expected = non_retryable_codes()
    missing = sorted(set(expected) - set(listed))
    extra = sorted(set(listed) - set(expected))
    assert listed == expected, f"Task {task!r}: missing {missing}, extra {extra}, or out of order; {FIX}"
    assert fail_fast.get("MaxAttempts") == 0, f"Task {task!r}: the fail-fast retrier must have MaxAttempts 0"


@pytest.mark.parametrize("task", sorted(TASKS))
def test_task_retries_everything_else_with_the_shared_policy(task: str) -> None:
    retry = TASKS[task]["Retry"]
    assert len(retry) == 2, f"Task {task!r}: expected [fail-fast, States.ALL] retriers, got {len(retry)}"
    assert retry[1] == expected_retry_all(), f"Task {task!r}: retry policy differs from RETRY_POLICY; {FIX}"


def test_every_fail_fast_list_is_marked_so_the_sync_script_finds_it() -> None:
    sync = load_sync_script()
    text = TEMPLATE.read_text(encoding="utf-8")
    markers = sum(1 for line in text.splitlines() if sync._FAIL_FAST_LINE.match(line))
    assert markers == len(TASKS), (
        f"{markers} '- ErrorEquals: {sync.FAIL_FAST_MARKER} ...' lines for {len(TASKS)} Tasks: "
        "mark every Task's first retrier so scripts/sync_template_errors.py can regenerate it"
    )


def test_sync_script_leaves_an_up_to_date_template_unchanged() -> None:
    sync = load_sync_script()
    text = TEMPLATE.read_text(encoding="utf-8")
    fields = sync.retry_fields(
        RETRY_POLICY.max_attempts,
        RETRY_POLICY.interval_seconds,
        RETRY_POLICY.backoff_rate,
        RETRY_POLICY.max_delay_seconds,
    )

    synced, lists, retriers = sync.sync_text(text, non_retryable_codes(), fields)

    assert (lists, retriers) == (len(TASKS), len(TASKS))
    assert synced == text, FIX


def test_sync_script_repairs_a_drifted_template() -> None:
    sync = load_sync_script()
    text = TEMPLATE.read_text(encoding="utf-8")
    drifted = re.sub(r"(?m)^ *- PLAN_HASH_MISMATCH\n", "", text, count=1)
    drifted = drifted.replace("IntervalSeconds: 2", "IntervalSeconds: 9", 1)
    assert drifted != text
    codes = [*non_retryable_codes(), "SOME_NEW_CODE"]
    fields = sync.retry_fields(7, 3, 1.5, 30)

    synced, _, _ = sync.sync_text(drifted, codes, fields)

    tasks = [s for _, s in iter_states(sm_definition(synced)["States"]) if s["Type"] == "Task"]
    assert all(task["Retry"][0]["ErrorEquals"] == codes for task in tasks)
    assert all(
        task["Retry"][1]
        == {
            "ErrorEquals": ["States.ALL"],
            "MaxAttempts": 7,
            "IntervalSeconds": 3,
            "BackoffRate": 1.5,
            "MaxDelaySeconds": 30,
        }
        for task in tasks
    )


def test_sync_script_refuses_an_interval_step_functions_cannot_express() -> None:
    sync = load_sync_script()
    with pytest.raises(ValueError, match="whole number"):
        sync.retry_fields(4, 2.5, 2, 60)


def sm_definition(text: str) -> dict[str, Any]:
    result: dict[str, Any] = state_machine_resource(cfn_yaml.loads(text))["Properties"]["Definition"]
    return result
