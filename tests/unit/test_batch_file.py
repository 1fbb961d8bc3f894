"""The batch file: every class of bad line is reported in one error, each with its line number."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.batch.batch_file import execution_name_problem, output_key_problem, parse_batch, parse_batch_text
from app.errors import BatchInvalidError

DECLARATION: list[dict[str, Any]] = [
    {"id": "name", "type": "string", "default": "Ada"},
    {"id": "theme", "type": "enum", "default": "dark", "options": [{"value": "dark"}, {"value": "light"}]},
    {"id": "size", "type": "number", "default": 3, "min": 1, "max": 10},
]

# line number -> (line text, a fragment the report must contain for that line)
BAD_LINES: dict[int, tuple[str, str]] = {
    2: ("{not json", "not valid JSON"),
    3: ('{"variables": {"name": "x"}}', 'missing "outputKey"'),
    4: ('{"outputKey": "ok.mp4"}', "duplicate outputKey 'ok.mp4' (first on line 1)"),
    5: ('{"outputKey": "../escape.mp4"}', "'..' segment"),
    6: ('{"outputKey": "a/../../b.mp4"}', "'..' segment"),
    7: ('{"outputKey": "/etc/passwd"}', "is absolute"),
    8: ('{"outputKey": "a\\\\b.mp4"}', "backslash"),
    9: ('{"outputKey": "a//b.mp4"}', "empty path segment"),
    10: ('{"outputKey": "dir/"}', "empty path segment"),
    11: ('{"outputKey": "bell\\u0007.mp4"}', "control character"),
    12: ('{"outputKey": "v.mp4", "variables": [1, 2]}', "variables must be a JSON object, got list"),
    13: ('{"outputKey": "u.mp4", "colour": "red"}', "unknown field 'colour'"),
    14: ('{"outputKey": "e.mp4", "executionName": "has space"}', "executionName 'has space'"),
    15: ('{"outputKey": "f.mp4", "executionName": "' + "x" * 81 + '"}', "1-80 characters"),
    16: ('{"outputKey": 42}', "outputKey must be a string"),
    17: ("[1, 2]", "must be a JSON object, got list"),
    18: ('{"outputKey": ""}', "outputKey is empty"),
    19: ('{"outputKey": "g.mp4", "executionName": "same"}', ""),
    20: ('{"outputKey": "h.mp4", "executionName": "same"}', "duplicate executionName 'same' (first on line 19)"),
    21: ('{"outputKey": "./here.mp4"}', "'.' or '..' segment"),
}


def write_lines(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "batch.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_every_class_of_bad_line_is_reported_at_once_with_its_line_number(tmp_path: Path) -> None:
    lines = ['{"outputKey": "ok.mp4"}'] + [BAD_LINES[n][0] for n in sorted(BAD_LINES)]
    with pytest.raises(BatchInvalidError) as caught:
        parse_batch(write_lines(tmp_path, lines), DECLARATION)
    message = caught.value.message
    assert caught.value.exit_code == 2
    assert "19 problem(s); nothing was started" in message
    reported = {line.strip() for line in message.splitlines()[1:]}
    for number, (_, fragment) in BAD_LINES.items():
        if fragment:
            assert any(r.startswith(f"line {number}: ") and fragment in r for r in reported), (number, message)
    assert not any(r.startswith(("line 1:", "line 19:")) for r in reported), message


def test_one_line_with_several_problems_reports_each(tmp_path: Path) -> None:
    line = '{"outputKey": "../x", "variables": "no", "extra": 1, "executionName": "a/b"}'
    with pytest.raises(BatchInvalidError) as caught:
        parse_batch(write_lines(tmp_path, [line]), DECLARATION)
    assert "4 problem(s)" in caught.value.message
    for fragment in ("unknown field 'extra'", "'..' segment", "variables must be a JSON object", "contains '/'"):
        assert f"line 1: {fragment}" in caught.value.message or fragment in caught.value.message


def test_variable_problems_are_warnings_with_line_numbers_unless_strict(tmp_path: Path) -> None:
    lines = [
        '{"outputKey": "a.mp4", "variables": {"name": "Ada", "theme": "light"}}',
        '{"outputKey": "b.mp4", "variables": {"theme": "neon", "nickname": "x"}}',
        '{"outputKey": "c.mp4", "variables": {"size": 99}}',
    ]
    path = write_lines(tmp_path, lines)
    batch = parse_batch(path, DECLARATION)
    assert [row.output_key for row in batch.rows] == ["a.mp4", "b.mp4", "c.mp4"]
    assert len(batch.warnings) == 3
    assert any(w.startswith("line 2: ") and "'nickname' is not declared" in w for w in batch.warnings)
    assert any(w.startswith("line 2: ") and "use one of: dark, light" in w for w in batch.warnings)
    assert any(w.startswith("line 3: ") and "above its maximum 10" in w for w in batch.warnings)

    with pytest.raises(BatchInvalidError) as caught:
        parse_batch(path, DECLARATION, strict=True)
    message = caught.value.message
    assert "3 problem(s)" in message
    assert "line 2: variable 'nickname'" in message and "line 2: variable 'theme'" in message
    assert "line 3: variable 'size' is 99" in message


def test_strict_mode_collects_variable_and_structural_problems_together(tmp_path: Path) -> None:
    lines = ['{"outputKey": "a.mp4", "variables": {"size": "big"}}', "{oops"]
    with pytest.raises(BatchInvalidError) as caught:
        parse_batch(write_lines(tmp_path, lines), DECLARATION, strict=True)
    assert "line 1: variable 'size' must be a number" in caught.value.message
    assert "line 2: not valid JSON" in caught.value.message


def test_blank_lines_are_skipped_but_numbering_follows_the_file(tmp_path: Path) -> None:
    path = write_lines(tmp_path, ["", '{"outputKey": "a.mp4"}', "   ", '{"outputKey": "b.mp4", "variables": null}'])
    batch = parse_batch(path, DECLARATION)
    assert [(r.line, r.output_key, r.variables) for r in batch.rows] == [(2, "a.mp4", None), (4, "b.mp4", None)]


def test_row_digest_changes_with_the_row_and_file_digest_with_the_bytes(tmp_path: Path) -> None:
    one = parse_batch_text(b'{"outputKey": "a.mp4", "variables": {"name": "A"}}\n', tmp_path, DECLARATION)
    two = parse_batch_text(b'{"outputKey": "a.mp4", "variables": {"name": "B"}}\n', tmp_path, DECLARATION)
    same = parse_batch_text(b'{"variables": {"name": "A"}, "outputKey": "a.mp4"}\n', tmp_path, DECLARATION)
    assert one.rows[0].digest != two.rows[0].digest
    assert one.rows[0].digest == same.rows[0].digest
    assert one.digest != same.digest


def test_an_empty_file_a_missing_file_and_non_utf8_are_refused(tmp_path: Path) -> None:
    with pytest.raises(BatchInvalidError, match="has no rows"):
        parse_batch(write_lines(tmp_path, ["", "  "]), DECLARATION)
    with pytest.raises(BatchInvalidError, match="cannot read batch file"):
        parse_batch(tmp_path / "missing.jsonl", DECLARATION)
    bad = tmp_path / "latin1.jsonl"
    bad.write_bytes(b'{"outputKey": "caf\xe9.mp4"}\n')
    with pytest.raises(BatchInvalidError, match="not UTF-8"):
        parse_batch(bad, DECLARATION)


def test_a_huge_number_of_problems_is_counted_but_the_listing_is_capped(tmp_path: Path) -> None:
    path = write_lines(tmp_path, ["{bad"] * 1000)
    with pytest.raises(BatchInvalidError) as caught:
        parse_batch(path, DECLARATION)
    assert "1000 problem(s)" in caught.value.message
    assert "... and 800 more" in caught.value.message


@pytest.mark.parametrize("key", ["a.mp4", "team/ada.mp4", "deep/er/name with spaces.mp4", "ünïcode/名前.mp4"])
def test_safe_keys_pass(key: str) -> None:
    assert output_key_problem(key) is None


@pytest.mark.parametrize("name", ["fc-1", "Row_7", "a" * 80])
def test_valid_execution_names_pass(name: str) -> None:
    assert execution_name_problem(name) is None


@pytest.mark.parametrize("name", ["", "a" * 81, "a:b", "a b", "a*b", "tab\there", json.loads('"x\\u0085"'), 7])
def test_invalid_execution_names_are_refused(name: Any) -> None:
    assert execution_name_problem(name) is not None
