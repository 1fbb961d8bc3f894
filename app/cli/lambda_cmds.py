"""``framecast lambda <verb>``: deploy, sites, progress, cancel, destroy (rendering is ``render --backend lambda``).

Every verb takes ``--stack``, ``--region``, ``--profile`` and ``--json`` and follows ``AWS_PROFILE``,
``AWS_REGION`` and ``AWS_ENDPOINT_URL``. Human output goes to stderr (rich); ``--json`` prints one JSON
object on stdout. Errors are ``CODE: message`` (main.py): exit 2 for bad input, 1 for a failure on AWS.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import BaseModel

if TYPE_CHECKING:
    from app.cloud.cost import CostBreakdown

from app.cli.progress import console, human_size
from app.cloud import deploy as deploy_mod
from app.cloud import renders, sites
from app.cloud.render_progress import RenderProgress
from app.cloud.session import AwsTarget, clients
from app.cloud.stack import StackState, check_stack_name, list_stacks, load_stack, stack_clients
from app.errors import InputError, RegionMismatchError, StackNotFoundError

lambda_app = typer.Typer(name="lambda", help="Deploy and drive framecast on AWS Lambda.", no_args_is_help=True)
sites_app = typer.Typer(
    name="sites", help="Projects uploaded to a stack's bucket, for renders to reuse.", no_args_is_help=True
)
lambda_app.add_typer(sites_app)

Stack = Annotated[str, typer.Option("--stack", help="CloudFormation stack name (see 'framecast lambda deploy').")]
Region = Annotated[str | None, typer.Option("--region", help="AWS region (default: the stack's, AWS_REGION, profile).")]
Profile = Annotated[str | None, typer.Option("--profile", help="AWS profile (default: AWS_PROFILE).")]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


def emit_json(value: BaseModel | dict[str, Any]) -> None:
    data = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
    typer.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def stack_state(stack: str, region: str | None) -> StackState:
    return load_stack(check_stack_name(stack), region)


# ------------------------------------------------------------------------------------------ deploy
@lambda_app.command("deploy")
def deploy_cmd(
    stack: Stack,
    image_uri: Annotated[
        str | None, typer.Option("--image-uri", help="Use this ECR image; skip build and push.")
    ] = None,
    memory: Annotated[int, typer.Option("--memory", min=2048, max=10240, help="Function memory in MB.")] = 10240,
    concurrency: Annotated[int | None, typer.Option("--concurrency", min=1, help="Reserved concurrency.")] = None,
    timeout: Annotated[int, typer.Option("--timeout", min=60, max=900, help="Per-invocation timeout, s.")] = 900,
    arch: Annotated[str, typer.Option("--arch", help="x86_64 or arm64 (the image is built for it).")] = "x86_64",
    tag: Annotated[str | None, typer.Option("--tag", help="Image tag to push (default: UTC time).")] = None,
    alarm_email: Annotated[str | None, typer.Option("--alarm-email", help="Send the stack's alarms here.")] = None,
    region: Region = None,
    profile: Profile = None,
    json_out: Json = False,
) -> None:
    """Build and push the image (or use --image-uri), deploy infra/template.yaml, record the stack."""
    check_stack_name(stack)
    options = deploy_mod.DeployOptions(
        image_uri=image_uri,
        memory_mb=memory,
        concurrency=concurrency,
        timeout_seconds=timeout,
        arch=arch,
        tag=tag,
        alarm_email=alarm_email,
    )
    aws = clients(AwsTarget(stack=stack, region=region, profile=profile))
    previous = next((s for s in list_stacks() if s.stack == stack), None)
    if previous is not None and previous.region != aws.region:
        raise RegionMismatchError(
            f"stack {stack!r} is already recorded in {previous.region}, not {aws.region}; "
            f"pass --region {previous.region}, or destroy it first, or pick another --stack"
        )
    log = (lambda _m: None) if json_out else (lambda message: console.print(f"deploy: {message}", highlight=False))
    result = deploy_mod.deploy(aws, stack, options, log=log)
    if json_out:
        emit_json(result)
        return
    state = result.state
    verb = "created" if result.created else ("updated" if result.changed else "unchanged")
    console.print(
        f"[green]✓[/] stack {state.stack} {verb} in {state.region}: bucket {state.bucket}, "
        f"function {state.function_name} ({state.memory_mb} MB, {state.architecture}), image {state.image_uri}; "
        f"recorded in {result.state_file}",
        highlight=False,
        soft_wrap=True,
    )


# ------------------------------------------------------------------------------------------- sites
@sites_app.command("create")
def sites_create(
    project: Annotated[Path, typer.Argument(help="Project folder containing index.html.")],
    stack: Stack,
    region: Region = None,
    profile: Profile = None,
    json_out: Json = False,
) -> None:
    """Upload a project once (content-addressed: the same files give the same site id)."""
    state = stack_state(stack, region)
    site = sites.create_site(state, project, aws=stack_clients(state, profile))
    if json_out:
        emit_json(site.model_dump(mode="json") | {"projectS3Uri": site.project_s3_uri})
        return
    what = "uploaded" if site.uploaded else "already uploaded, reused"
    console.print(
        f"[green]✓[/] site {site.site_id} ({site.name}, {human_size(site.size_bytes)}) {what}", highlight=False
    )
    typer.echo(site.site_id)


@sites_app.command("ls")
def sites_ls(stack: Stack, region: Region = None, profile: Profile = None, json_out: Json = False) -> None:
    """List the stack's sites, newest first."""
    state = stack_state(stack, region)
    found = sites.list_sites(state, aws=stack_clients(state, profile))
    if json_out:
        emit_json({"sites": [site.model_dump(mode="json") for site in found]})
        return
    if not found:
        console.print(f"no sites on stack {state.stack}; create one with 'framecast lambda sites create PROJECT'")
    for site in found:
        created = site.created_at.isoformat() if site.created_at else "?"
        typer.echo(f"{site.site_id}  {created}  {human_size(site.size_bytes):>9}  {site.name}")


@sites_app.command("rm")
def sites_rm(
    site_id: Annotated[str, typer.Argument(help="Site id (s-...).")],
    stack: Stack,
    region: Region = None,
    profile: Profile = None,
    json_out: Json = False,
) -> None:
    """Delete a site (renders that used it keep their outputs)."""
    state = stack_state(stack, region)
    deleted = sites.remove_site(state, site_id, aws=stack_clients(state, profile))
    if json_out:
        emit_json({"siteId": site_id, "objectsDeleted": deleted})
        return
    console.print(f"[green]✓[/] site {site_id} removed ({deleted} objects)", highlight=False)


# ------------------------------------------------------------------------------- progress, cancel
def describe_progress(progress: RenderProgress, state: StackState) -> list[str]:
    """Human lines for ``progress`` (also the summary after ``render --wait``)."""
    chunks = f"{progress.chunks_done}/{progress.chunk_count}" if progress.chunk_count is not None else "planning"
    frames = f"{progress.frames_done}/{progress.total_frames}" if progress.total_frames is not None else "-"
    lines = [
        f"render {progress.render_id} on stack {state.stack}: {progress.status} {progress.percent:.0f}%",
        f"  chunks {chunks}, frames {frames}, elapsed {progress.elapsed_seconds:.1f} s",
        f"  lambda {len(progress.invocations)} invocations, {progress.lambda_billed_seconds:.1f} s billed "
        f"({progress.lambda_gb_seconds:.1f} GB-s at {progress.memory_mb} MB), "
        f"{progress.state_transitions} state transitions",
    ]
    lines += [f"  {line}" for line in cost_lines(progress, state)]
    if progress.output_uri:
        size = f" ({human_size(progress.output_size_bytes)})" if progress.output_size_bytes else ""
        lines.append(f"  output {progress.output_uri}{size}")
    if progress.error_code:
        lines.append(f"  error {progress.error_code}: {progress.error_cause or ''}")
    return lines


def bill(progress: RenderProgress, state: StackState) -> CostBreakdown:
    """The render's cost so far (finished invocations and transitions), itemised."""
    from app.cloud.cost import actual_cost

    arch: Any = state.architecture
    return actual_cost(progress.billed_ms, state.memory_mb, progress.state_transitions, arch)


def cost_lines(progress: RenderProgress, state: StackState) -> list[str]:
    lines = bill(progress, state).lines()
    head = lines[-1] if progress.finished else f"cost so far: ${bill(progress, state).total_usd:.4f}"
    return [head, *lines[:-1]]


def progress_document(progress: RenderProgress, state: StackState) -> dict[str, Any]:
    return progress.model_dump(mode="json") | {
        "stack": state.stack,
        "cost": bill(progress, state).model_dump(mode="json"),
    }


@lambda_app.command("progress")
def progress_cmd(
    render_id: Annotated[str, typer.Argument(help="Render id printed by 'framecast render --backend lambda'.")],
    stack: Stack,
    region: Region = None,
    profile: Profile = None,
    json_out: Json = False,
) -> None:
    """Status, percent, chunks, frames, cost, output and errors of one render."""
    renders.check_render_id(render_id)
    state = stack_state(stack, region)
    progress = renders.get_progress(state, render_id, aws=stack_clients(state, profile))
    if json_out:
        emit_json(progress_document(progress, state))
        return
    for line in describe_progress(progress, state):
        typer.echo(line)


@lambda_app.command("cancel")
def cancel_cmd(
    render_id: Annotated[str, typer.Argument(help="Render id to stop.")],
    stack: Stack,
    region: Region = None,
    profile: Profile = None,
    json_out: Json = False,
) -> None:
    """Stop a render and delete its intermediates (renders/<id>/); outputs already written are kept."""
    renders.check_render_id(render_id)
    state = stack_state(stack, region)
    result = renders.cancel_render(state, render_id, aws=stack_clients(state, profile))
    if json_out:
        emit_json(result)
        return
    what = "stopped" if result.stopped else f"was already {result.status_before}"
    console.print(
        f"[green]✓[/] render {render_id} {what}; {result.intermediates_deleted} intermediate objects removed",
        highlight=False,
    )


# ----------------------------------------------------------------------------------------- destroy
@lambda_app.command("destroy")
def destroy_cmd(
    stack: Stack,
    delete_bucket: Annotated[bool, typer.Option("--delete-bucket", help="Also empty and delete the bucket.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before deleting the bucket.")] = False,
    region: Region = None,
    profile: Profile = None,
    json_out: Json = False,
) -> None:
    """Delete the stack (the bucket and its outputs are kept unless --delete-bucket) and its state file."""
    check_stack_name(stack)
    try:
        state: StackState | None = load_stack(stack, region)
    except StackNotFoundError:
        state = None
    aws = stack_clients(state, profile) if state else clients(AwsTarget(stack=stack, region=region, profile=profile))
    if state is None and deploy_mod.stack_outputs(aws, stack) is None:
        raise StackNotFoundError(
            f"no stack {stack!r} is recorded here or exists in {aws.region} "
            f"(known stacks: {', '.join(s.stack for s in list_stacks()) or 'none'}); pass another --stack"
        )
    bucket = state.bucket if state else (deploy_mod.stack_outputs(aws, stack) or {}).get("BucketName")
    if delete_bucket and not yes:
        if json_out or not console.is_terminal:
            raise InputError(f"--delete-bucket deletes every output in {bucket}; add --yes to confirm")
        if not typer.confirm(f"Delete bucket {bucket} and every render output in it?", default=False, err=True):
            raise InputError("not confirmed; nothing was deleted")
    log = (lambda _m: None) if json_out else (lambda message: console.print(f"destroy: {message}", highlight=False))
    result = deploy_mod.destroy(aws, stack, bucket=bucket, delete_bucket=delete_bucket, log=log)
    if json_out:
        emit_json(result)
        return
    kept = "" if result.bucket_deleted else f"; bucket {bucket} kept (outputs survive; --delete-bucket removes it)"
    console.print(f"[green]✓[/] stack {stack} destroyed{kept}", highlight=False, soft_wrap=True)
