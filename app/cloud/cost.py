"""What a Lambda render costs: an estimate before it starts and the actual bill after. Pure; no AWS calls.

Two things are billed per render (us-east-1 list prices, below): Lambda compute (GB-seconds at the
function's memory, billed per invocation rounded up to the millisecond, plus a per-request fee and the
ephemeral storage above the free 512 MB) and Step Functions STANDARD state transitions.

The estimate is a model, not a quote. Render seconds come from a per-frame rate measured on this
project's development machine by ``scripts/bench_cost.py`` (vCPU-seconds per frame per megapixel);
Lambda gives a function one vCPU per ``MB_PER_VCPU`` of memory, but we measured on 2 cores and do not
assume the engine scales past ``MEASURED_PARALLELISM`` vCPUs, so more memory than that buys no speed
(and costs more). Each chunk pays a browser boot; plan and assemble are fixed overheads measured by the
same script. State transitions are counted from infra/template.yaml's state machine (a test walks the
definition and runs it in moto to keep ``state_transitions`` equal to it).
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict

from app.errors import InvalidConfigError

Arch = Literal["x86_64", "arm64"]

# ----------------------------------------------------------------------------------------- prices
# us-east-1 list prices of aws.amazon.com/lambda/pricing and aws.amazon.com/step-functions/pricing (first
# Lambda tier: up to 6 billion GB-seconds a month; free tiers ignored). Written down on PRICES_READ from
# the published price list (unchanged since arm64 launched in 2021); this machine cannot reach AWS to
# re-read them, so check the pages before relying on a cent.
PRICES_READ: Final = "2026-12-02"
LAMBDA_USD_PER_GB_SECOND: Final[dict[str, Decimal]] = {
    "x86_64": Decimal("0.0000166667"),
    "arm64": Decimal("0.0000133334"),
}
LAMBDA_USD_PER_REQUEST: Final = Decimal("0.0000002")  # $0.20 per million, both architectures
# Ephemeral storage beyond the free 512 MB, per GB-second.
LAMBDA_USD_PER_EPHEMERAL_GB_SECOND: Final[dict[str, Decimal]] = {
    "x86_64": Decimal("0.0000000309"),
    "arm64": Decimal("0.0000000309"),
}
FREE_EPHEMERAL_MB: Final = 512
STEP_FUNCTIONS_USD_PER_TRANSITION: Final = Decimal("0.000025")  # $0.025 per 1,000 (STANDARD)

# --------------------------------------------------------------------------------- measured rates
# Measured by scripts/bench_cost.py on the development machine (2 cores, chromium-headless-shell 156,
# BeginFrame JPEG capture, x264; examples/hello 1280x720, 60 frames in 2 chunks, one worker), 2026-12-02.
# Measured: 0.1694 vCPU-s/frame/MP (60 frames captured+encoded in 4.68 s x 2 cores / 0.92 MP), cold boot 0.92 s
# (warm 0.64 s), plan 1.88 s, assemble 0.09 s. Lambda's vCPUs are assumed as fast as these cores.
VCPU_SECONDS_PER_MEGAPIXEL_FRAME: Final = 0.17
CHUNK_BOOT_SECONDS: Final = 0.9  # browser launch to first frame in a fresh container (warm ones pay less)
PLAN_SECONDS: Final = 1.9
ASSEMBLE_SECONDS: Final = 0.1
MEASURED_PARALLELISM: Final = 2.0  # the cores the rate was measured on; no speed-up is assumed beyond
MB_PER_VCPU: Final = 1769  # Lambda: 1 vCPU per 1,769 MB, up to 6 vCPUs at 10,240 MB
MAX_VCPUS: Final = 6.0
DEFAULT_EPHEMERAL_MB: Final = 10240  # infra/template.yaml's EphemeralStorage default

# ---------------------------------------------------------------------- state machine transitions
# Every state entered on the success path of infra/template.yaml's definition: ValidateInput, Plan,
# AssertChunkCount, the Map state, Assemble, WebhookRequested and Rendered; one RenderChunk per chunk
# (in the Distributed Map, one child execution state per chunk); NotifySucceeded, Notify and
# RenderOutcome when a webhook URL was given. Retries add one transition each and are not estimated.
TRANSITIONS_FIXED: Final = 7
TRANSITIONS_PER_CHUNK: Final = 1
TRANSITIONS_WEBHOOK: Final = 3


class CostLine(BaseModel):
    """One itemised line of a bill: ``quantity`` units at ``unit_usd`` each."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    item: str
    quantity: float
    unit: str
    unit_usd: float
    usd: float

    def describe(self) -> str:
        return f"{self.item}: {self.quantity:,.3f} {self.unit} x ${self.unit_usd:.10f} = ${self.usd:.6f}"


class CostBreakdown(BaseModel):
    """What a render costs, itemised. Money in USD, computed in exact decimals, then given as floats."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    arch: Arch
    memory_mb: int
    lambda_gb_seconds: float
    lambda_requests: int
    lambda_usd: float
    state_transitions: int
    step_functions_usd: float
    total_usd: float
    items: tuple[CostLine, ...]
    estimated: bool
    prices_read: str = PRICES_READ

    def lines(self) -> list[str]:
        """Human lines for a terminal: one per item, then the total."""
        kind = "estimated" if self.estimated else "actual"
        return [line.describe() for line in self.items] + [f"total ({kind}, {self.arch}): ${self.total_usd:.4f}"]


def state_transitions(chunk_count: int, *, webhook: bool = False) -> int:
    """State transitions of one successful execution of the template's state machine with N chunks."""
    _require_positive("chunk_count", chunk_count)
    return TRANSITIONS_FIXED + TRANSITIONS_PER_CHUNK * chunk_count + (TRANSITIONS_WEBHOOK if webhook else 0)


def effective_vcpus(memory_mb: int) -> float:
    """The vCPUs a render can use at ``memory_mb``: Lambda's share, capped at what we measured scaling on."""
    return min(memory_mb / MB_PER_VCPU, MAX_VCPUS, MEASURED_PARALLELISM)


def estimate_render_cost(
    frames: int,
    width: int,
    height: int,
    memory_mb: int,
    chunk_count: int,
    arch: Arch = "x86_64",
    *,
    webhook: bool = False,
    ephemeral_mb: int = DEFAULT_EPHEMERAL_MB,
) -> CostBreakdown:
    """The expected cost of one render, before it starts (see the module docstring for the model)."""
    for name, value in (("frames", frames), ("width", width), ("height", height), ("chunk_count", chunk_count)):
        _require_positive(name, value)
    _require_memory(memory_mb)
    if chunk_count > frames:
        raise InvalidConfigError(f"chunk_count {chunk_count} exceeds frames {frames}; a chunk renders at least a frame")
    render_s = frames * VCPU_SECONDS_PER_MEGAPIXEL_FRAME * (width * height / 1e6) / effective_vcpus(memory_mb)
    per_chunk_s = render_s / chunk_count + CHUNK_BOOT_SECONDS
    billed_ms = [math.ceil(PLAN_SECONDS * 1000)] + [math.ceil(per_chunk_s * 1000)] * chunk_count
    billed_ms.append(math.ceil(ASSEMBLE_SECONDS * 1000))
    if webhook:
        billed_ms.append(math.ceil(CHUNK_BOOT_SECONDS * 1000))  # one POST, bounded by the function's cold start
    transitions = state_transitions(chunk_count, webhook=webhook)
    return _bill(billed_ms, memory_mb, transitions, arch, ephemeral_mb, estimated=True)


def actual_cost(
    invocations: list[int],
    memory_mb: int,
    state_transitions: int,
    arch: Arch = "x86_64",
    *,
    ephemeral_mb: int = DEFAULT_EPHEMERAL_MB,
) -> CostBreakdown:
    """The bill of a finished render: ``invocations`` are billed durations in ms, one per Lambda call."""
    _require_memory(memory_mb)
    if any(ms < 0 for ms in invocations):
        raise InvalidConfigError("billed durations must be >= 0 ms; pass each invocation's Billed Duration")
    if state_transitions < 0:
        raise InvalidConfigError(f"state_transitions must be >= 0, got {state_transitions}")
    return _bill(list(invocations), memory_mb, state_transitions, arch, ephemeral_mb, estimated=False)


def _bill(
    billed_ms: list[int], memory_mb: int, transitions: int, arch: Arch, ephemeral_mb: int, *, estimated: bool
) -> CostBreakdown:
    if arch not in LAMBDA_USD_PER_GB_SECOND:
        raise InvalidConfigError(f"arch {arch!r} is not one of {', '.join(LAMBDA_USD_PER_GB_SECOND)}")
    seconds = Decimal(sum(billed_ms)) / 1000
    gb_seconds = seconds * Decimal(memory_mb) / 1024
    extra_storage_gb_seconds = seconds * Decimal(max(0, ephemeral_mb - FREE_EPHEMERAL_MB)) / 1024
    requests = len(billed_ms)
    items = (
        _line("Lambda compute", gb_seconds, "GB-s", LAMBDA_USD_PER_GB_SECOND[arch]),
        _line("Lambda requests", Decimal(requests), "requests", LAMBDA_USD_PER_REQUEST),
        _line("Lambda ephemeral storage", extra_storage_gb_seconds, "GB-s", LAMBDA_USD_PER_EPHEMERAL_GB_SECOND[arch]),
        _line("Step Functions transitions", Decimal(transitions), "transitions", STEP_FUNCTIONS_USD_PER_TRANSITION),
    )
    lambda_usd = sum((Decimal(str(line.usd)) for line in items[:3]), Decimal(0))
    sfn_usd = Decimal(str(items[3].usd))
    return CostBreakdown(
        arch=arch,
        memory_mb=memory_mb,
        lambda_gb_seconds=float(gb_seconds),
        lambda_requests=requests,
        lambda_usd=float(lambda_usd),
        state_transitions=transitions,
        step_functions_usd=float(sfn_usd),
        total_usd=float(lambda_usd + sfn_usd),
        items=items,
        estimated=estimated,
    )


def _line(item: str, quantity: Decimal, unit: str, unit_usd: Decimal) -> CostLine:
    usd = quantity * unit_usd  # exact: every price and quantity is a finite decimal
    return CostLine(item=item, quantity=float(quantity), unit=unit, unit_usd=float(unit_usd), usd=float(usd))


def _require_positive(name: str, value: int) -> None:
    if value < 1:
        raise InvalidConfigError(f"{name} must be at least 1, got {value}")


def _require_memory(memory_mb: int) -> None:
    if not 128 <= memory_mb <= 10240:
        raise InvalidConfigError(f"memory_mb {memory_mb} is outside Lambda's range [128, 10240]; pick a size in it")
