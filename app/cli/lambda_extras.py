"""``framecast lambda policies user|role|validate`` and ``framecast lambda webhook-secret``.

Registered into the ``lambda`` sub-app by ``register`` (main.py). ``policies`` prints JSON on stdout
and needs no AWS access; ``validate`` exits 0 when a policy allows every required action, 1 naming
the missing (or denied) ones, 2 when the file cannot be read or is not a policy (POLICY_INVALID).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from app.cli.lambda_cmds import Json, Profile, Region, stack_state
from app.cli.progress import console
from app.cloud import policies, policy_check, webhook

PolicyStack = Annotated[
    str, typer.Option("--stack", help="Limit resources to this stack's names (default: any stack, '*').")
]


def _print_json(value: dict[str, Any]) -> None:
    typer.echo(json.dumps(value, indent=2))


def policies_user(stack: PolicyStack = "*") -> None:
    """The least-privilege IAM policy for a user who deploys, renders, follows, cancels and destroys."""
    if stack != "*":
        from app.cloud.stack import check_stack_name

        check_stack_name(stack)
    _print_json(policies.user_policy(stack))


def policies_role(
    principal: Annotated[
        str, typer.Option("--principal", help="Who may assume the role: a 12-digit account id or an IAM ARN.")
    ],
    stack: PolicyStack = "*",
) -> None:
    """The same permissions as a role: its trust policy (AssumeRolePolicyDocument) and PolicyDocument."""
    if stack != "*":
        from app.cloud.stack import check_stack_name

        check_stack_name(stack)
    _print_json(policies.role_policy(principal, stack))


def policies_validate(
    file: Annotated[Path, typer.Argument(help="A policy JSON (or 'policies role' output) to check.")],
    json_out: Json = False,
) -> None:
    """Report the actions framecast needs that FILE does not allow; exit 1 when any is missing."""
    result = policy_check.check_policy(policy_check.load_policy_file(file))
    if json_out:
        _print_json(result.model_dump(mode="json") | {"complete": result.complete})
    else:
        for action in result.missing:
            console.print(f"missing: {action}", highlight=False)
        for action in result.denied:
            console.print(f"denied: {action} (an unconditional Deny matches it)", highlight=False)
        for where in result.conditional_denies:
            console.print(f"note: {where} is a Deny with a Condition; not evaluated here", highlight=False)
        bad = len(result.missing) + len(result.denied)
        summary = (
            f"{file}: allows all {result.required} actions framecast lambda needs"
            if result.complete
            else f"{file}: {bad} of {result.required} required actions are not allowed"
        )
        console.print(summary, highlight=False)
    if not result.complete:
        raise typer.Exit(1)


def webhook_secret(
    stack: Annotated[str, typer.Option("--stack", help="CloudFormation stack name.")],
    region: Region = None,
    profile: Profile = None,
    json_out: Json = False,
) -> None:
    """Print the stack's webhook signing secret (to verify X-Framecast-Signature on your receiver)."""
    state = stack_state(stack, region)
    secret = webhook.read_secret(state, profile)
    if json_out:
        _print_json({"stack": state.stack, "secret_name": webhook.secret_name(state.stack), "secret": secret})
    else:
        typer.echo(secret)


def register(lambda_app: typer.Typer) -> None:
    """Add ``policies`` and ``webhook-secret`` to the ``lambda`` sub-app."""
    policies_app = typer.Typer(
        name="policies", help="IAM policies framecast lambda needs: print or validate.", no_args_is_help=True
    )
    policies_app.command("user")(policies_user)
    policies_app.command("role")(policies_role)
    policies_app.command("validate")(policies_validate)
    lambda_app.add_typer(policies_app)
    lambda_app.command("webhook-secret")(webhook_secret)
