"""The Lambda cost model: exact arithmetic, monotonic estimates, transitions equal to the template's."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from app.cloud import cost
from app.errors import InvalidConfigError
from tests.support import cfn_yaml
from tests.support.sfn_harness import state_machine_resource

TEMPLATE = Path(__file__).resolve().parents[2] / "infra" / "template.yaml"
DEFINITION: dict[str, Any] = state_machine_resource(cfn_yaml.load(TEMPLATE))["Properties"]["Definition"]

# --------------------------------------------------------------------------------- actual bills


def test_actual_cost_of_a_known_render_is_exact() -> None:
    # 2 invocations of 1 s at 1024 MB = 2 GB-s; 512 MB ephemeral is free; 10 transitions.
    bill = cost.actual_cost([1000, 1000], 1024, 10, "x86_64", ephemeral_mb=512)
    assert bill.lambda_gb_seconds == 2.0
    assert bill.lambda_requests == 2
    assert bill.lambda_usd == 0.0000337334  # 2 x 0.0000166667 + 2 x 0.0000002
    assert bill.state_transitions == 10
    assert bill.step_functions_usd == 0.00025
    assert bill.total_usd == 0.0002837334
    assert bill.estimated is False
    assert [line.item for line in bill.items] == [
        "Lambda compute",
        "Lambda requests",
        "Lambda ephemeral storage",
        "Step Functions transitions",
    ]
    assert bill.lines()[-1] == "total (actual, x86_64): $0.0003"


def test_arm64_is_billed_at_its_own_rate_and_ephemeral_storage_above_512_mb_costs_extra() -> None:
    arm = cost.actual_cost([2048], 2048, 0, "arm64", ephemeral_mb=1536)
    # 2.048 s x 2 GB = 4.096 GB-s at 0.0000133334; 1 GB extra storage x 2.048 s at 0.0000000309.
    assert arm.lambda_gb_seconds == 4.096
    assert arm.lambda_usd == float(Decimal("0.0000546136064") + Decimal("0.0000002") + Decimal("0.0000000632832"))
    assert arm.step_functions_usd == 0.0
    assert arm.total_usd < cost.actual_cost([2048], 2048, 0, "x86_64", ephemeral_mb=1536).total_usd


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"invocations": [-1], "memory_mb": 1024, "state_transitions": 0}, "billed durations"),
        ({"invocations": [1], "memory_mb": 64, "state_transitions": 0}, "memory_mb 64"),
        ({"invocations": [1], "memory_mb": 20000, "state_transitions": 0}, "memory_mb 20000"),
        ({"invocations": [1], "memory_mb": 1024, "state_transitions": -3}, "state_transitions"),
        ({"invocations": [1], "memory_mb": 1024, "state_transitions": 0, "arch": "sparc"}, "arch 'sparc'"),
    ],
)
def test_actual_cost_refuses_impossible_input(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidConfigError, match=message):
        cost.actual_cost(**kwargs)


# ------------------------------------------------------------------------------------- estimates


def test_estimate_is_itemised_and_adds_up() -> None:
    estimate = cost.estimate_render_cost(300, 1920, 1080, 10240, 8)
    assert estimate.estimated is True
    assert estimate.lambda_requests == 1 + 8 + 1
    assert estimate.state_transitions == cost.state_transitions(8)
    assert estimate.total_usd == pytest.approx(estimate.lambda_usd + estimate.step_functions_usd, abs=1e-12)
    assert sum(line.usd for line in estimate.items) == pytest.approx(estimate.total_usd, abs=1e-12)
    assert len(estimate.lines()) == len(estimate.items) + 1


def test_estimate_of_a_known_render_follows_the_model_exactly() -> None:
    # 100 frames of 1 MP at 1769 MB (one vCPU): 100 x 0.17 s = 17 s of rendering over 2 chunks.
    estimate = cost.estimate_render_cost(100, 1000, 1000, 1769, 2, ephemeral_mb=512)
    per_chunk_ms = round((17.0 / 2 + cost.CHUNK_BOOT_SECONDS) * 1000)
    billed_ms = round(cost.PLAN_SECONDS * 1000) + 2 * per_chunk_ms + round(cost.ASSEMBLE_SECONDS * 1000)
    assert estimate.lambda_gb_seconds == pytest.approx(billed_ms / 1000 * 1769 / 1024, rel=1e-12)
    assert estimate.state_transitions == cost.TRANSITIONS_FIXED + 2


@pytest.mark.parametrize("frames", [10, 11, 100, 1000, 10_000])
def test_estimate_grows_with_frames(frames: int) -> None:
    smaller = cost.estimate_render_cost(frames, 1280, 720, 4096, 4)
    larger = cost.estimate_render_cost(frames + 1, 1280, 720, 4096, 4)
    assert larger.total_usd >= smaller.total_usd
    assert larger.lambda_gb_seconds > smaller.lambda_gb_seconds


def test_estimate_grows_with_memory_across_lambdas_range() -> None:
    totals = [cost.estimate_render_cost(600, 1920, 1080, mb, 8).total_usd for mb in range(2048, 10241, 512)]
    assert totals == sorted(totals)
    assert totals[-1] > totals[0]


def test_estimate_grows_with_pixels_and_webhook() -> None:
    base = cost.estimate_render_cost(300, 1280, 720, 10240, 4)
    assert cost.estimate_render_cost(300, 1920, 1080, 10240, 4).total_usd > base.total_usd
    with_hook = cost.estimate_render_cost(300, 1280, 720, 10240, 4, webhook=True)
    assert with_hook.state_transitions == base.state_transitions + cost.TRANSITIONS_WEBHOOK
    assert with_hook.total_usd > base.total_usd


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0, 1280, 720, 4096, 1), "frames must be at least 1"),
        ((10, 0, 720, 4096, 1), "width must be at least 1"),
        ((10, 1280, 720, 4096, 0), "chunk_count must be at least 1"),
        ((10, 1280, 720, 4096, 11), "chunk_count 11 exceeds frames 10"),
        ((10, 1280, 720, 100, 1), "memory_mb 100"),
    ],
)
def test_estimate_refuses_impossible_input(args: tuple[int, int, int, int, int], message: str) -> None:
    with pytest.raises(InvalidConfigError, match=message):
        cost.estimate_render_cost(*args)


def test_memory_beyond_the_measured_parallelism_buys_no_speed() -> None:
    assert cost.effective_vcpus(1769) == pytest.approx(1.0)
    assert cost.effective_vcpus(10240) == cost.MEASURED_PARALLELISM


# ---------------------------------------------------------------- transitions vs the template


def _holds(rule: dict[str, Any], facts: dict[str, Any]) -> bool:
    variable = rule["Variable"]
    if "IsPresent" in rule:
        return (variable in facts) == rule["IsPresent"]
    value = facts[variable]
    if "NumericLessThanEquals" in rule:
        return bool(value <= rule["NumericLessThanEquals"])
    if "NumericGreaterThan" in rule:
        return bool(value > rule["NumericGreaterThan"])
    if "StringEquals" in rule:
        return bool(value == rule["StringEquals"])
    raise AssertionError(f"the walker does not know the rule {rule}")


def _next_of_choice(state: dict[str, Any], facts: dict[str, Any]) -> str:
    for rule in state["Choices"]:
        if "Or" in rule:
            if any(
                _holds(r if "Not" not in r else {**r["Not"], "IsPresent": not r["Not"]["IsPresent"]}, facts)
                for r in rule["Or"]
            ):
                return str(rule["Next"])
        elif _holds(rule, facts):
            return str(rule["Next"])
    return str(state["Default"])


def walk(states: dict[str, Any], start: str, facts: dict[str, Any], items: int) -> int:
    """States entered from ``start`` on a run where every Task succeeds, Map iterations included."""
    entered, name = 0, start
    while True:
        entered += 1
        state = states[name]
        if state["Type"] == "Map":
            inner = state["ItemProcessor"]
            entered += items * walk(inner["States"], inner["StartAt"], facts, items)
        if state["Type"] in ("Succeed", "Fail") or state.get("End"):
            return entered
        name = _next_of_choice(state, facts) if state["Type"] == "Choice" else state["Next"]


def facts_for(chunks: int, webhook: bool) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "$.ProjectS3Uri": "s3://b/p.tgz",
        "$.OutputS3Uri": "s3://b/o.mp4",
        "$.RenderId": "r",
        "$.Config": {},
        "$.Plan.ChunkCount": chunks,
        "$.Status": "SUCCEEDED",
    }
    if webhook:
        facts["$$.Execution.Input.WebhookUrl"] = "https://example.com/hook"
    return facts


@pytest.mark.parametrize("chunks", [1, 2, 16, 40, 41, 500])
@pytest.mark.parametrize("webhook", [False, True])
def test_transitions_formula_equals_a_walk_of_the_template_definition(chunks: int, webhook: bool) -> None:
    walked = walk(DEFINITION["States"], DEFINITION["StartAt"], facts_for(chunks, webhook), chunks)
    assert cost.state_transitions(chunks, webhook=webhook) == walked


def test_the_walk_takes_the_distributed_map_past_40_chunks() -> None:
    # Guards the walker itself: 41 chunks must go through the other Map state.
    assert _next_of_choice(DEFINITION["States"]["AssertChunkCount"], facts_for(41, False)) == "RenderChunksDistributed"
    assert _next_of_choice(DEFINITION["States"]["AssertChunkCount"], facts_for(40, False)) == "RenderChunks"
