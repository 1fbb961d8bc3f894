"""Rewrite the state machine's retry policy in infra/template.yaml from app/errors.py.

app/errors.py is the one source of truth for which error codes must fail at once and how everything
else is retried. The template spells those out once per Task (Amazon States Language has no way to
share a Retry block), so this script regenerates them; tests/unit/test_template_contract.py fails
whenever they drift.

    python scripts/sync_template_errors.py            rewrite the template in place
    python scripts/sync_template_errors.py --check    exit 1 if the template is out of date

What it rewrites, found by text so that comments and layout survive:
  * the list under every ``- ErrorEquals: # fail-fast: ...`` line becomes ``non_retryable_codes()``;
  * ``MaxAttempts``, ``IntervalSeconds``, ``BackoffRate`` and ``MaxDelaySeconds`` of every
    ``- ErrorEquals: [States.ALL]`` retrier become ``RETRY_POLICY``'s values.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TEMPLATE = ROOT / "infra" / "template.yaml"

FAIL_FAST_MARKER = "# fail-fast:"
_FAIL_FAST_LINE = re.compile(r"^(?P<indent> *)- ErrorEquals: *# *fail-fast:")
_RETRY_ALL_LINE = re.compile(r"^(?P<indent> *)- ErrorEquals: *\[ *States\.ALL *\] *$")
_KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z]+): *(?P<value>[^#\s]+)(?P<rest>.*)$")
_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_.]*$")


def _number(value: float, field: str, *, integer: bool) -> str:
    if float(value).is_integer():
        return str(int(value))
    if integer:
        raise ValueError(f"RETRY_POLICY {field} must be a whole number of seconds for Step Functions, got {value}")
    return repr(value)


def retry_fields(max_attempts: int, interval: float, backoff: float, max_delay: float) -> dict[str, str]:
    """The retrier keys this script owns, formatted as they appear in the template."""
    return {
        "MaxAttempts": str(max_attempts),
        "IntervalSeconds": _number(interval, "interval_seconds", integer=True),
        "BackoffRate": _number(backoff, "backoff_rate", integer=False),
        "MaxDelaySeconds": _number(max_delay, "max_delay_seconds", integer=True),
    }


def sync_text(text: str, codes: list[str], fields: dict[str, str]) -> tuple[str, int, int]:
    """Return (new text, fail-fast lists rewritten, States.ALL retriers rewritten)."""
    for code in codes:
        if not _CODE.match(code):
            raise ValueError(f"error code {code!r} is not a plain YAML scalar; fix app/errors.py")
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    lists = retriers = 0
    i = 0
    while i < len(lines):
        line = lines[i]
        out.append(line)
        i += 1
        if match := _FAIL_FAST_LINE.match(line):
            # "- " then the key: list items sit two columns deeper than the key.
            item_indent = " " * (len(match["indent"]) + 4)
            while i < len(lines) and lines[i].startswith(item_indent + "- "):
                i += 1
            out.extend(f"{item_indent}- {code}\n" for code in codes)
            lists += 1
        elif match := _RETRY_ALL_LINE.match(line):
            key_indent = " " * (len(match["indent"]) + 2)
            while i < len(lines) and (key := _KEY_LINE.match(lines[i])) and key["indent"] == key_indent:
                value = fields.get(key["key"], key["value"])
                out.append(f"{key_indent}{key['key']}: {value}{key['rest']}\n")
                i += 1
            retriers += 1
    return "".join(out), lists, retriers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report drift; exit 1 if any")
    parser.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE)
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    from app.errors import RETRY_POLICY, non_retryable_codes

    fields = retry_fields(
        RETRY_POLICY.max_attempts,
        RETRY_POLICY.interval_seconds,
        RETRY_POLICY.backoff_rate,
        RETRY_POLICY.max_delay_seconds,
    )
    before = args.template.read_text(encoding="utf-8")
    after, lists, retriers = sync_text(before, non_retryable_codes(), fields)
    if lists == 0 or retriers == 0:
        print(
            f"{args.template}: found {lists} fail-fast lists and {retriers} States.ALL retriers; every Task "
            f"needs both (mark the list with '- ErrorEquals: {FAIL_FAST_MARKER} ...')",
            file=sys.stderr,
        )
        return 2
    if before == after:
        print(f"{args.template}: up to date ({lists} fail-fast lists, {retriers} retriers)")
        return 0
    if args.check:
        print(f"{args.template}: out of date; run python scripts/sync_template_errors.py", file=sys.stderr)
        return 1
    args.template.write_text(after, encoding="utf-8")
    print(f"{args.template}: rewrote {lists} fail-fast lists and {retriers} retriers from app/errors.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
