"""``framecast lambda policies validate FILE``: which required actions a policy document does not allow.

Reads an identity policy (``{"Version", "Statement"}``), the role form ``policies role`` prints
(its ``PolicyDocument``) or ``aws iam get-policy-version`` output (``PolicyVersion.Document``). An action
counts as allowed when an ``Allow`` statement's ``Action`` matches it (IAM wildcards ``*`` and ``?``,
case-insensitive; ``Action`` a string or a list) or its ``NotAction`` does not, and no unconditional
``Deny`` matches it. Conditions cannot be evaluated offline: a conditional Allow counts, a conditional
Deny is listed as a caveat. Resources are not compared (the check is about actions).
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from app.cloud.policies import required_actions
from app.errors import PolicyInvalidError


class PolicyCheck(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    required: int
    missing: list[str]  # not allowed by any Allow statement
    denied: list[str]  # allowed, but an unconditional Deny matches
    conditional_denies: list[str]  # Sids (or indexes) of Deny statements with a Condition

    @property
    def complete(self) -> bool:
        return not self.missing and not self.denied


@functools.lru_cache(maxsize=512)
def _pattern(glob: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob), re.IGNORECASE)


def _matches(patterns: list[str], action: str) -> bool:
    return any(_pattern(p).fullmatch(action) for p in patterns)


def _strings(value: Any, where: str) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
        raise PolicyInvalidError(f"{where} must be a string or a list of strings")
    return list(items)


def _statements(document: Any) -> list[dict[str, Any]]:
    if isinstance(document, dict) and isinstance(document.get("PolicyVersion"), dict):
        document = document["PolicyVersion"].get("Document")
    if isinstance(document, dict) and "PolicyDocument" in document and "Statement" not in document:
        document = document["PolicyDocument"]
    if not isinstance(document, dict) or "Statement" not in document:
        raise PolicyInvalidError("the file is not an IAM policy: expected a JSON object with a Statement")
    statements = document["Statement"]
    statements = [statements] if isinstance(statements, dict) else statements
    if not isinstance(statements, list) or not all(isinstance(s, dict) for s in statements):
        raise PolicyInvalidError("Statement must be an object or a list of objects")
    return statements


def _allows(statement: dict[str, Any], where: str, action: str) -> bool:
    if "Action" in statement:
        return _matches(_strings(statement["Action"], f"{where}.Action"), action)
    if "NotAction" in statement:
        return not _matches(_strings(statement["NotAction"], f"{where}.NotAction"), action)
    raise PolicyInvalidError(f"{where} has neither Action nor NotAction")


def check_policy(document: Any, required: list[str] | None = None) -> PolicyCheck:
    """Which of ``required`` (default: every action framecast needs) ``document`` does not allow."""
    wanted = required if required is not None else required_actions()
    allows: list[tuple[str, dict[str, Any]]] = []
    denies: list[tuple[str, dict[str, Any]]] = []
    conditional: list[str] = []
    for index, statement in enumerate(_statements(document)):
        where = f"Statement[{index}]" + (f" ({statement['Sid']})" if isinstance(statement.get("Sid"), str) else "")
        effect = statement.get("Effect")
        if effect == "Allow":
            allows.append((where, statement))
        elif effect == "Deny":
            if "Condition" in statement:
                conditional.append(where)
            else:
                denies.append((where, statement))
        else:
            raise PolicyInvalidError(f"{where} has Effect {effect!r}; use Allow or Deny")
    missing = [a for a in wanted if not any(_allows(s, w, a) for w, s in allows)]
    denied = [a for a in wanted if a not in missing and any(_allows(s, w, a) for w, s in denies)]
    return PolicyCheck(required=len(wanted), missing=missing, denied=denied, conditional_denies=conditional)


def load_policy_file(path: Path) -> Any:
    """The JSON in ``path``; POLICY_INVALID when it cannot be read or parsed."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyInvalidError(f"cannot read policy file {path}: {exc}; pass a readable JSON file") from exc
    try:
        return json.loads(text)
    except ValueError as exc:
        raise PolicyInvalidError(f"policy file {path} is not valid JSON ({exc}); fix it or export it again") from exc
