"""A render-batch run on Lambda: stack, one site upload, the cost gate, then dispatch via CloudBackend.

A dry run stops after the estimate: it reads the local stack state and hashes the project locally
(the site id a real run would upload to), and calls no AWS API.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from rich.console import Console

from app.aws.archive import pack_project
from app.batch.batch_file import BatchFile
from app.batch.cloud_backend import CloudBackend, CloudSettings
from app.batch.cost_gate import cost_gate, estimate
from app.batch.dispatch import DispatchOptions
from app.batch.manifest import BatchHeader, read_manifest
from app.batch.resume import batch_id
from app.batch.run import BatchOutcome, execute, finish_dry_run, plan_rows
from app.cloud import cost, sites, stack
from app.engine.composition import Composition
from app.engine.render import RenderOptions
from app.errors import InvalidConfigError


def run_lambda_batch(
    project: Path,
    composition: Composition,
    batch: BatchFile,
    options: RenderOptions,
    *,
    stack_name: str | None,
    region: str | None,
    site_id: str | None,
    dispatch: DispatchOptions,
    manifest_path: Path,
    manifest_given: bool,
    resume: Path | None,
    retry_failed: bool,
    dry_run: bool,
    yes: bool,
    max_cost: float,
    heartbeat_seconds: float,
    console: Console,
    poll_seconds: float,
    output_prefix: str,
) -> BatchOutcome | None:
    if not stack_name:
        raise InvalidConfigError("--backend lambda needs --stack NAME (a stack deployed with framecast lambda deploy)")
    state = stack.load_stack(stack_name, region)
    if output_prefix and (output_prefix.startswith("/") or ".." in output_prefix.split("/")):
        raise InvalidConfigError(f"--output-prefix {output_prefix!r} must be a relative S3 key prefix such as outputs/")
    if site_id is None and resume is not None:
        # A resumed batch keeps the site (and so the execution names) it started with, even if the
        # project folder changed since: that is what makes a re-dispatched row find its execution.
        site_id = read_manifest(resume)[0].site_id
    if site_id is None:
        site_id = local_site_id(project) if dry_run else sites.create_site(state, project).site_id
    header = BatchHeader(
        batch_file=str(batch.path),
        batch_digest=batch.digest,
        batch_id=batch_id(batch, site_id),
        backend="lambda",
        project=str(project.resolve()),
        rows=len(batch.rows),
        site_id=site_id,
        stack=stack_name,
    )
    plan = plan_rows(batch, header, resume, durable_starts=True, retry_failed=retry_failed, wait=dispatch.wait)
    to_start = sum(1 for task in plan.tasks if not task.follow_only)
    arch: cost.Arch = "arm64" if state.architecture == "arm64" else "x86_64"

    def price(frames: int, width: int, height: int, memory_mb: int, chunks: int) -> float:
        return float(cost.estimate_render_cost(frames, width, height, memory_mb, chunks, arch).total_usd)

    found = estimate(composition, options, to_start, state.memory_mb, price)
    if dry_run:
        console.print(found.describe(), highlight=False)
        finish_dry_run(header, plan.rows, manifest_path if manifest_given else None, False, console)
        return BatchOutcome(header, plan.rows, None, 0)
    cost_gate(found, yes=yes, max_cost=max_cost, console=console)
    config = options.model_dump(include={"fps", "format", "codec", "quality", "crf"}, exclude_none=True)
    backend = CloudBackend(CloudSettings(state, site_id, header.batch_id, config, poll_seconds, output_prefix))
    outcome = execute(
        backend, header, plan, manifest_path, dispatch, console=console, heartbeat_seconds=heartbeat_seconds
    )
    if dispatch.wait:
        measured = [row.cost for row in outcome.rows if row.cost is not None]
        console.print(f"total cost: ${sum(measured):.4f} over {len(measured)} render(s)", highlight=False)
    return outcome


def local_site_id(project: Path) -> str:
    """The id ``create_site`` would give ``project`` (same packing, same hash), computed without AWS."""
    archive = pack_project(project)
    try:
        digest = hashlib.sha256()
        with archive.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    finally:
        archive.unlink(missing_ok=True)
    return "s-" + digest.hexdigest()[:20]
