"""Deterministic Step Functions execution names (and render ids) for batch rows.

A row's name is derived from the batch id (batch file digest + site), its line and its own digest,
unless the row gives ``executionName``. Starting the same row again after a crash therefore uses the
same name with the same input, which Step Functions answers with the execution it already has. An
execution that ended cannot be started again under its name, so a retry adds ``-r<N>``.
"""

from __future__ import annotations

import re

from app.batch.batch_file import MAX_EXECUTION_NAME, BatchRow
from app.batch.manifest import ManifestRow

NAME_PREFIX = "fcb"
_RETRY_SUFFIX = re.compile(r"-r(\d+)$")


def derived_name(batch_id: str, row: BatchRow, attempt: int = 1) -> str:
    """The deterministic execution name (and render id) of ``row``'s ``attempt``-th start."""
    name = f"{NAME_PREFIX}-{batch_id[:16]}-{row.line}-{row.digest[:10]}"
    return name if attempt <= 1 else f"{name}-r{attempt}"


def execution_name_for(batch_id: str, row: BatchRow, current: ManifestRow) -> str:
    """The name to start ``row`` with now: a retry of an execution that already ran needs a new one."""
    base = row.execution_name or derived_name(batch_id, row)
    if current.execution_arn is None:
        return base
    previous = current.execution_arn.rsplit(":", 1)[-1]
    match = _RETRY_SUFFIX.search(previous)
    attempt = int(match.group(1)) + 1 if match else 2
    suffix = f"-r{attempt}"
    return base[: MAX_EXECUTION_NAME - len(suffix)] + suffix
