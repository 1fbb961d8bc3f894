"""Render-time variables: parse them and check them against the composition's declaration.

A composition declares its variables as JSON on ``data-composition-variables`` (id, type, default,
and per type: options, min, max). Values given at render time are checked against it; problems are
warnings unless strict, and strict mode reports every problem at once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.errors import VariablesInvalidError

_COLOR = re.compile(r"^(#[0-9a-fA-F]{3,8}|rgba?\([^)]*\)|hsla?\([^)]*\)|[a-zA-Z]+)$")


def parse_variables(text: str | None = None, file: Path | None = None) -> dict[str, Any] | None:
    """Variables from a JSON string and/or a JSON file (the string wins key by key)."""
    merged: dict[str, Any] = {}
    sources: list[tuple[str, str]] = []
    if file is not None:
        try:
            sources.append((f"--variables-file {file}", file.read_text(encoding="utf-8")))
        except OSError as exc:
            raise VariablesInvalidError(f"cannot read --variables-file {file}: {exc.strerror}") from exc
    if text is not None:
        sources.append(("--variables", text))
    if not sources:
        return None
    for where, raw in sources:
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise VariablesInvalidError(
                f"{where} is not valid JSON ({exc.msg} at line {exc.lineno} col {exc.colno})"
            ) from exc
        if not isinstance(value, dict):
            raise VariablesInvalidError(f'{where} must be a JSON object like {{"name": "Ada"}}')
        merged.update(value)
    return merged


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_number(name: str, value: Any, spec: dict[str, Any]) -> str | None:
    if not _is_number(value):
        return f"variable {name!r} must be a number, got {value!r}"
    if _is_number(spec.get("min")) and value < spec["min"]:
        return f"variable {name!r} is {value}, below its minimum {spec['min']}"
    if _is_number(spec.get("max")) and value > spec["max"]:
        return f"variable {name!r} is {value}, above its maximum {spec['max']}"
    return None


def _check_enum(name: str, value: Any, spec: dict[str, Any]) -> str | None:
    options = [o.get("value") if isinstance(o, dict) else o for o in spec.get("options", [])]
    if value not in options:
        return f"variable {name!r} is {value!r}; use one of: {', '.join(map(str, options))}"
    return None


def _check_string(kind: str) -> Callable[[str, Any, dict[str, Any]], str | None]:
    def check(name: str, value: Any, spec: dict[str, Any]) -> str | None:
        if not isinstance(value, str):
            return f"variable {name!r} must be a {kind} string, got {value!r}"
        if kind == "color" and not _COLOR.match(value.strip()):
            return f"variable {name!r} is {value!r}, which is not a CSS colour"
        return None

    return check


def _check_boolean(name: str, value: Any, spec: dict[str, Any]) -> str | None:
    return None if isinstance(value, bool) else f"variable {name!r} must be true or false, got {value!r}"


_CHECKS: dict[str, Callable[[str, Any, dict[str, Any]], str | None]] = {
    "string": _check_string("text"),
    "number": _check_number,
    "color": _check_string("color"),
    "boolean": _check_boolean,
    "enum": _check_enum,
    "font": _check_string("font"),
    "image": _check_string("image"),
}


def variable_problems(values: dict[str, Any], declaration: list[dict[str, Any]]) -> list[str]:
    """Every mismatch between ``values`` and the declaration, in a stable order."""
    declared = {str(spec["id"]): spec for spec in declaration}
    problems = []
    for name in sorted(values):
        spec = declared.get(name)
        if spec is None:
            known = ", ".join(sorted(declared)) or "none"
            problems.append(f"variable {name!r} is not declared by the composition (declared: {known})")
            continue
        check = _CHECKS.get(str(spec.get("type", "string")))
        problem = check(name, values[name], spec) if check else None
        if problem:
            problems.append(problem)
    return problems


def check_variables(values: dict[str, Any] | None, declaration: list[dict[str, Any]], *, strict: bool) -> list[str]:
    """Return the problems as warnings, or raise VariablesInvalidError listing all of them when strict."""
    if not values:
        return []
    problems = variable_problems(values, declaration)
    if problems and strict:
        raise VariablesInvalidError(f"{len(problems)} variable problem(s): " + "; ".join(problems))
    return problems
