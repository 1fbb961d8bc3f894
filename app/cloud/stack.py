"""The state file of a deployed stack: what every other verb needs to reach it, one JSON file per stack.

``save_stack`` writes ``<state dir>/<stack>.json`` atomically (temp file, then rename); the state dir
is ``.framecast/stacks`` under the current folder, or ``FRAMECAST_STATE_DIR``. ``load_stack`` raises
STACK_NOT_FOUND listing the stacks it knows, and REGION_MISMATCH when the caller asks for another
region than the stack was deployed to (a render must never start in a region the stack is not in).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Final

from pydantic import BaseModel, ConfigDict, ValidationError

from app.cloud.session import AwsClients, AwsTarget, clients
from app.errors import InputError, RegionMismatchError, StackNotFoundError

STATE_DIR_ENV: Final = "FRAMECAST_STATE_DIR"
STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,47}$")
"""CloudFormation stack names, capped at 48 so the template's IAM role names stay under 64 characters."""


class StackState(BaseModel):
    """A deployed stack, as ``framecast lambda deploy`` recorded it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stack: str
    region: str
    account_id: str
    stack_id: str
    bucket: str
    state_machine_arn: str
    function_name: str
    function_arn: str
    memory_mb: int
    timeout_seconds: int
    architecture: str
    reserved_concurrency: int | None = None
    image_uri: str
    image_digest: str | None
    deployed_at: datetime


def check_stack_name(name: str) -> str:
    if not STACK_NAME.match(name):
        raise InputError(
            f"stack name {name!r} must be 1-48 letters, digits or hyphens, starting with a letter (e.g. --stack prod)"
        )
    return name


def state_dir() -> Path:
    return Path(os.environ.get(STATE_DIR_ENV) or Path(".framecast") / "stacks")


def state_path(name: str) -> Path:
    return state_dir() / f"{check_stack_name(name)}.json"


def list_stacks() -> list[StackState]:
    """Every readable state file, by stack name (unreadable ones are skipped: they name no usable stack)."""
    folder = state_dir()
    found: list[StackState] = []
    if folder.is_dir():
        for path in sorted(folder.glob("*.json")):
            try:
                found.append(StackState.model_validate_json(path.read_bytes()))
            except (OSError, ValidationError):
                continue
    return found


def _known() -> str:
    names = [f"{state.stack} ({state.region})" for state in list_stacks()]
    return ", ".join(names) if names else "none"


def load_stack(name: str, region: str | None = None) -> StackState:
    """The recorded stack ``name``; ``region``, when given, must be the stack's."""
    path = state_path(name)
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise StackNotFoundError(
            f"no stack {name!r} is recorded in {state_dir()} (known stacks: {_known()}); "
            f"deploy it with 'framecast lambda deploy --stack {name}' or pass another --stack"
        ) from exc
    try:
        state = StackState.model_validate_json(data)
    except ValidationError as exc:
        raise StackNotFoundError(
            f"the state file {path} is not a framecast stack record ({exc.error_count()} problems); "
            f"re-run 'framecast lambda deploy --stack {name}' to rewrite it"
        ) from exc
    if region is not None and region != state.region:
        raise RegionMismatchError(
            f"stack {name!r} is deployed in {state.region}, not {region}; pass --region {state.region} or omit --region"
        )
    return state


def save_stack(state: StackState) -> Path:
    """Write the state file atomically; return its path."""
    path = state_path(state.stack)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{state.stack}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(state.model_dump(mode="json"), indent=2, sort_keys=True) + "\n")
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


def delete_stack_state(name: str) -> bool:
    """Remove the state file; False when there was none."""
    try:
        state_path(name).unlink()
    except FileNotFoundError:
        return False
    return True


def stack_clients(state: StackState, profile: str | None = None) -> AwsClients:
    """The cached clients that reach ``state``'s region (profile: argument, else AWS_PROFILE)."""
    return clients(AwsTarget(stack=state.stack, region=state.region, profile=profile))
