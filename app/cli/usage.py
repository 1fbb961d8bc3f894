"""Command-line mistakes and invalid values, turned into one readable ``CODE: message`` line.

The installed typer bundles its own copy of click (``typer._click``), so its usage errors are not
``click.ClickException``: both families are recognised here, through typer's public
``TyperException`` base and, when installed, click's own. A pydantic ``ValidationError`` that
reaches the CLI came from user input and becomes INVALID_CONFIG naming each bad field.
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
from pydantic import ValidationError

from app.errors import InputError, InvalidConfigError


def usage_error_types() -> tuple[type[BaseException], ...]:
    """The exception classes the argument parser raises for a bad command line."""
    found: list[type[BaseException]] = []
    bundled = getattr(typer, "TyperException", None)
    if isinstance(bundled, type) and issubclass(bundled, BaseException):
        found.append(bundled)
    try:
        click_exceptions = importlib.import_module("click.exceptions")
    except ImportError:
        pass
    else:
        found.append(click_exceptions.ClickException)
    return tuple(found)


def is_help_request(exc: BaseException) -> bool:
    """``framecast`` with no arguments: the parser's way of asking to print the help."""
    return type(exc).__name__ == "NoArgsIsHelpError"


def usage_error(exc: BaseException) -> InputError:
    """The parser's complaint as one line, with where to look for help."""
    format_message = getattr(exc, "format_message", None)
    text = format_message() if callable(format_message) else str(exc)
    message = " ".join(str(text).split()).removeprefix("Error: ").rstrip(".")
    cause = exc.__cause__
    if isinstance(cause, ValidationError) and cause.errors():
        # typer validates values with pydantic and drops the value from its message; put it back.
        message += f" (got {_short(cause.errors()[0].get('input'))})"
    ctx: Any = getattr(exc, "ctx", None)
    command = getattr(ctx, "command_path", None) or "framecast"
    return InputError(f"{message} (see '{command} --help')")


def validation_error(exc: ValidationError) -> InvalidConfigError:
    """INVALID_CONFIG naming every field pydantic rejected, with the value given."""
    problems = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or exc.title
        problems.append(f"{field}: {error['msg']} (got {_short(error.get('input'))})")
    return InvalidConfigError(f"invalid {exc.title}: {'; '.join(problems)}")


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
