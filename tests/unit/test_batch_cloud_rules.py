"""Lambda batch rules that need no AWS: deterministic execution names and the cost gate."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from app.batch.batch_file import BatchRow, execution_name_problem, parse_batch_text
from app.batch.cost_gate import Estimate, cost_gate, estimate
from app.batch.manifest import ManifestRow
from app.batch.naming import derived_name, execution_name_for
from app.engine.composition import read_composition
from app.engine.render import RenderOptions
from app.errors import CostLimitExceededError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "variables"
BATCH = (
    b'{"outputKey": "a.mp4", "variables": {"name": "A"}}\n'
    b'{"outputKey": "b.mp4", "variables": {"name": "B"}}\n'
    b'{"outputKey": "c.mp4", "executionName": "' + b"n" * 80 + b'"}\n'
)


def rows() -> list[tuple[BatchRow, ManifestRow]]:
    batch = parse_batch_text(BATCH, Path("b.jsonl"), None)
    return [(r, ManifestRow(line=r.line, output_key=r.output_key, status="would-start")) for r in batch.rows]


def test_names_are_deterministic_distinct_per_row_and_valid_step_functions_names() -> None:
    (first, fresh1), (second, fresh2), _ = rows()
    name = execution_name_for("0123456789abcdef0123", first, fresh1)
    assert name == execution_name_for("0123456789abcdef0123", first, fresh1)
    assert name != execution_name_for("0123456789abcdef0123", second, fresh2)
    assert name != execution_name_for("fedcba9876543210", first, fresh1)
    assert execution_name_problem(name) is None
    assert name == derived_name("0123456789abcdef0123", first)


def test_a_retry_after_an_execution_ran_gets_the_next_attempt_suffix_within_80_characters() -> None:
    (first, fresh), _, (custom, custom_fresh) = rows()
    base = execution_name_for("b" * 16, first, fresh)
    ran = fresh.with_(status="would-start", execution_arn=f"arn:aws:states:us-east-1:1:execution:sm:{base}")
    second = execution_name_for("b" * 16, first, ran)
    assert second == base + "-r2"
    ran_again = fresh.with_(execution_arn=f"arn:aws:states:us-east-1:1:execution:sm:{second}")
    assert execution_name_for("b" * 16, first, ran_again) == base + "-r3"
    assert execution_name_for("b" * 16, custom, custom_fresh) == "n" * 80
    retried = custom_fresh.with_(execution_arn="arn:aws:states:us-east-1:1:execution:sm:" + "n" * 80)
    renamed = execution_name_for("b" * 16, custom, retried)
    assert renamed.endswith("-r2") and len(renamed) == 80 and execution_name_problem(renamed) is None


def test_the_estimate_multiplies_one_render_by_the_rows_and_uses_frames_and_chunks() -> None:
    composition = read_composition(EXAMPLE)  # 1280x720, 4 s at 30 fps
    seen: list[tuple[int, int, int, int, int]] = []

    def price(frames: int, width: int, height: int, memory_mb: int, chunks: int) -> float:
        seen.append((frames, width, height, memory_mb, chunks))
        return 0.01

    found = estimate(composition, RenderOptions(), 250, 3008, price)
    assert seen == [(120, 1280, 720, 3008, 12)]
    assert found.frames == 30_000 and found.usd == pytest.approx(2.5)
    assert found.describe() == "250 renders, 30,000 frames, estimated $2.50"


def console() -> tuple[Console, io.StringIO]:
    stream = io.StringIO()
    return Console(file=stream, force_terminal=False, width=200), stream


def test_without_a_terminal_an_estimate_over_the_limit_is_refused_unless_yes() -> None:
    out, stream = console()
    with pytest.raises(CostLimitExceededError) as caught:
        cost_gate(Estimate(1000, 120, 12.5), yes=False, max_cost=5.0, console=out)
    assert caught.value.exit_code == 2
    assert "$12.50 is over --max-cost $5.00" in caught.value.message and "--yes" in caught.value.message
    assert "1000 renders, 120,000 frames, estimated $12.50" in stream.getvalue()
    cost_gate(Estimate(1000, 120, 12.5), yes=True, max_cost=5.0, console=out)
    cost_gate(Estimate(10, 120, 0.12), yes=False, max_cost=5.0, console=out)
    with pytest.raises(CostLimitExceededError, match="unknown cost"):
        cost_gate(Estimate(10, None, None), yes=False, max_cost=5.0, console=out)
