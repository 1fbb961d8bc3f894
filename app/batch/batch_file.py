"""The render-batch input file: one JSON object per non-blank line, validated all at once.

Each line holds ``outputKey`` (required: an S3 key on Lambda, a relative file name under ``-o``
locally), ``variables`` (object, optional) and ``executionName`` (optional, Step Functions name
rules). ``parse_batch`` reads the whole file and reports EVERY problem with its line number in one
BatchInvalidError, so a 10 000-line file is fixed in one round trip; variables are checked against
the composition's declaration (warnings, or problems with ``strict``). Pure: no network, no browser.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.engine.variables import variable_problems
from app.errors import BatchInvalidError

KNOWN_FIELDS = frozenset({"outputKey", "variables", "executionName"})
MAX_KEY_LENGTH = 1024  # the S3 key limit, in UTF-8 bytes
MAX_EXECUTION_NAME = 80
MAX_LISTED_PROBLEMS = 200  # a message listing 10 000 problems helps nobody; the count is always given
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Step Functions execution names: 1-80 characters, none of these, no whitespace, no control characters.
_EXECUTION_FORBIDDEN = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class BatchRow:
    """One valid line of the batch file."""

    line: int
    output_key: str
    variables: dict[str, Any] | None
    execution_name: str | None
    digest: str  # sha256 of the canonical row: names derived from it change when the row changes


@dataclass(frozen=True)
class BatchFile:
    path: Path
    rows: tuple[BatchRow, ...]
    digest: str  # sha256 of the file's bytes
    warnings: tuple[str, ...] = field(default=())


def output_key_problem(key: str) -> str | None:
    """Why ``key`` is not a safe relative key (None when it is): it must never escape its root."""
    if not key:
        return "outputKey is empty"
    if _CONTROL.search(key):
        return f"outputKey {key!r} contains a control character"
    if "\\" in key:
        return f"outputKey {key!r} contains a backslash; use / between folders"
    if key.startswith("/"):
        return f"outputKey {key!r} is absolute; give a path relative to the output folder or bucket prefix"
    segments = key.split("/")
    if any(s == "" for s in segments):
        return f"outputKey {key!r} has an empty path segment (// or a trailing /)"
    if any(s in (".", "..") for s in segments):
        return f"outputKey {key!r} contains a '.' or '..' segment; keys may not leave their folder"
    if len(key.encode("utf-8")) > MAX_KEY_LENGTH:
        return f"outputKey is longer than {MAX_KEY_LENGTH} bytes"
    return None


def execution_name_problem(name: Any) -> str | None:
    if not isinstance(name, str):
        return f"executionName must be a string, got {json.dumps(name)}"
    if not 1 <= len(name) <= MAX_EXECUTION_NAME:
        return f"executionName {name!r} must be 1-{MAX_EXECUTION_NAME} characters"
    bad = _EXECUTION_FORBIDDEN.search(name)
    if bad:
        return f"executionName {name!r} contains {bad.group()!r}; use letters, digits, - and _"
    return None


def _row_problems(obj: dict[str, Any]) -> list[str]:
    problems = [
        f"unknown field {name!r} (allowed: executionName, outputKey, variables)"
        for name in sorted(set(obj) - KNOWN_FIELDS)
    ]
    key = obj.get("outputKey")
    if "outputKey" not in obj:
        problems.append('missing "outputKey"')
    elif not isinstance(key, str):
        problems.append(f"outputKey must be a string, got {json.dumps(key)}")
    else:
        problem = output_key_problem(key)
        if problem:
            problems.append(problem)
    if "variables" in obj and obj["variables"] is not None and not isinstance(obj["variables"], dict):
        problems.append(f"variables must be a JSON object, got {type(obj['variables']).__name__}")
    if "executionName" in obj:
        problem = execution_name_problem(obj["executionName"])
        if problem:
            problems.append(problem)
    return problems


class _Collector:
    """Rows and problems gathered in one pass over the file."""

    def __init__(self, declaration: list[dict[str, Any]] | None, strict: bool) -> None:
        self.declaration = declaration
        self.strict = strict
        self.rows: list[BatchRow] = []
        self.problems: list[str] = []
        self.warnings: list[str] = []
        self.keys: dict[str, int] = {}
        self.names: dict[str, int] = {}

    def add(self, number: int, text: str) -> None:
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            self.problems.append(f"line {number}: not valid JSON ({exc.msg} at column {exc.colno})")
            return
        if not isinstance(obj, dict):
            self.problems.append(f"line {number}: must be a JSON object, got {type(obj).__name__}")
            return
        problems = _row_problems(obj)
        key, name = obj.get("outputKey"), obj.get("executionName")
        if isinstance(key, str) and key in self.keys:
            problems.append(f"duplicate outputKey {key!r} (first on line {self.keys[key]})")
        if isinstance(name, str) and name in self.names:
            problems.append(f"duplicate executionName {name!r} (first on line {self.names[name]})")
        variables = obj.get("variables")
        if isinstance(variables, dict) and variables and self.declaration is not None:
            found = variable_problems(variables, self.declaration)
            if self.strict:
                problems.extend(found)
            else:
                self.warnings.extend(f"line {number}: {w}" for w in found)
        self.problems.extend(f"line {number}: {p}" for p in problems)
        if isinstance(key, str):
            self.keys.setdefault(key, number)
        if isinstance(name, str):
            self.names.setdefault(name, number)
        if not problems:
            self._append(number, obj)

    def _append(self, number: int, obj: dict[str, Any]) -> None:
        canonical = json.dumps(
            {"outputKey": obj["outputKey"], "variables": obj.get("variables") or None},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        self.rows.append(
            BatchRow(
                line=number,
                output_key=obj["outputKey"],
                variables=obj.get("variables") or None,
                execution_name=obj.get("executionName"),
                digest=hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
            )
        )


def parse_batch_text(
    data: bytes, path: Path, declaration: list[dict[str, Any]] | None, *, strict: bool = False
) -> BatchFile:
    """Validate the bytes of a batch file; raise BatchInvalidError listing every problem."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BatchInvalidError(
            f"{path} is not UTF-8 text (bad byte at offset {exc.start}); save it as UTF-8 JSON lines"
        ) from exc
    collector = _Collector(declaration, strict)
    for number, raw in enumerate(text.split("\n"), start=1):
        stripped = raw.strip()
        if stripped:
            collector.add(number, stripped)
    if collector.problems:
        listed = collector.problems[:MAX_LISTED_PROBLEMS]
        more = len(collector.problems) - len(listed)
        raise BatchInvalidError(
            f"{path}: {len(collector.problems)} problem(s); nothing was started. Fix them and run again:\n  "
            + "\n  ".join(listed)
            + (f"\n  ... and {more} more" if more else "")
        )
    if not collector.rows:
        raise BatchInvalidError(f"{path} has no rows; write one JSON object per line with an outputKey")
    return BatchFile(path, tuple(collector.rows), hashlib.sha256(data).hexdigest(), tuple(collector.warnings))


def parse_batch(path: Path, declaration: list[dict[str, Any]] | None, *, strict: bool = False) -> BatchFile:
    """Read and validate ``path`` (see ``parse_batch_text``)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BatchInvalidError(f"cannot read batch file {path}: {exc.strerror or exc}") from exc
    return parse_batch_text(data, path, declaration, strict=strict)
