"""Render-time variables: parsing from the CLI, and every kind of mismatch with the declaration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.engine.variables import check_variables, parse_variables, variable_problems
from app.errors import VariablesInvalidError

DECLARATION: list[dict[str, Any]] = [
    {"id": "title", "type": "string", "default": "Hello"},
    {"id": "count", "type": "number", "default": 3, "min": 1, "max": 10},
    {"id": "accent", "type": "color", "default": "#ff0000"},
    {"id": "dark", "type": "boolean", "default": False},
    {"id": "size", "type": "enum", "default": "m", "options": [{"value": "s"}, {"value": "m"}, "l"]},
    {"id": "face", "type": "font", "default": "DejaVu Sans"},
    {"id": "logo", "type": "image", "default": "logo.png"},
    {"id": "untyped"},
]


def test_no_sources_means_no_variables() -> None:
    assert parse_variables(None, None) is None


def test_json_string_is_parsed() -> None:
    assert parse_variables('{"title": "Ada", "count": 2}') == {"title": "Ada", "count": 2}


def test_string_wins_over_file_key_by_key(tmp_path: Path) -> None:
    file = tmp_path / "vars.json"
    file.write_text('{"title": "from file", "count": 5}', encoding="utf-8")
    assert parse_variables('{"title": "from string"}', file) == {"title": "from string", "count": 5}


@pytest.mark.parametrize("text", ["{bad", "[1, 2]", '"text"', "3"])
def test_invalid_json_or_not_an_object_is_variables_invalid_naming_the_source(text: str) -> None:
    with pytest.raises(VariablesInvalidError, match="--variables"):
        parse_variables(text)


def test_unreadable_variables_file_is_variables_invalid_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(VariablesInvalidError, match=r"nope\.json"):
        parse_variables(None, missing)


def test_values_that_match_the_declaration_have_no_problems() -> None:
    values = {
        "title": "Ada",
        "count": 10,
        "accent": "rgb(1, 2, 3)",
        "dark": True,
        "size": "l",
        "face": "Inter",
        "logo": "a.png",
        "untyped": "x",
    }
    assert variable_problems(values, DECLARATION) == []


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("title", 5, "must be a text string"),
        ("count", "3", "must be a number"),
        ("count", True, "must be a number"),  # a JSON boolean is not a number
        ("count", 0, "below its minimum 1"),
        ("count", 11, "above its maximum 10"),
        ("accent", "not a colour!", "not a CSS colour"),
        ("accent", 255, "must be a color string"),
        ("dark", "yes", "must be true or false"),
        ("size", "xl", "use one of: s, m, l"),
        ("face", None, "must be a font string"),
        ("logo", 1, "must be a image string"),
        ("nickname", "Ada", "is not declared by the composition"),
    ],
)
def test_each_kind_of_mismatch_is_named(name: str, value: Any, fragment: str) -> None:
    problems = variable_problems({name: value}, DECLARATION)
    assert len(problems) == 1
    assert repr(name) in problems[0] and fragment in problems[0]


def test_undeclared_variable_lists_what_is_declared() -> None:
    (problem,) = variable_problems({"x": 1}, [{"id": "a"}, {"id": "b"}])
    assert "(declared: a, b)" in problem
    (problem,) = variable_problems({"x": 1}, [])
    assert "(declared: none)" in problem


def test_problems_come_in_a_stable_order() -> None:
    values = {"zeta": 1, "count": "many", "alpha": 2}
    assert variable_problems(values, DECLARATION) == variable_problems(dict(reversed(values.items())), DECLARATION)
    assert [p.split("'")[1] for p in variable_problems(values, DECLARATION)] == ["alpha", "count", "zeta"]


def test_non_strict_check_returns_the_problems_as_warnings() -> None:
    warnings = check_variables({"count": 99, "nickname": "x"}, DECLARATION, strict=False)
    assert len(warnings) == 2


def test_strict_check_raises_listing_every_problem() -> None:
    with pytest.raises(VariablesInvalidError) as caught:
        check_variables({"count": 99, "nickname": "x", "title": "ok"}, DECLARATION, strict=True)
    message = caught.value.message
    assert message.startswith("2 variable problem(s)")
    assert "'count'" in message and "'nickname'" in message and "'title'" not in message
    assert caught.value.code == "VARIABLES_INVALID"


@pytest.mark.parametrize("values", [None, {}])
def test_no_values_is_never_a_problem_even_when_strict(values: dict[str, Any] | None) -> None:
    assert check_variables(values, DECLARATION, strict=True) == []
