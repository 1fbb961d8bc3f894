"""The ``framecast`` entry point: builds the typer app and turns typed errors into exit codes.

Exit codes: 0 success, 1 a render failed, 2 bad input (usage, project, options, output path), 130
cancelled by Ctrl-C (SIGINT), 143 cancelled by SIGTERM. Every error is printed as one ``CODE: message``
line without a traceback (usage mistakes and invalid values included, see ``usage``).
"""

from __future__ import annotations

import gc
import logging
import sys

import typer
from pydantic import ValidationError
from rich.logging import RichHandler
from rich.markup import escape

from app.cli import batch_cmd, distributed_cmds, interrupts, lambda_cmds, lambda_extras, render_cmd, usage
from app.cli.progress import console
from app.engine import chrome, scratch
from app.errors import FramecastError

app = typer.Typer(
    name="framecast",
    help="Render HyperFrames HTML compositions to video, on this machine or on AWS Lambda.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("render")(render_cmd.render)
app.command("render-batch")(batch_cmd.render_batch)
distributed_cmds.register(app)
lambda_extras.register(lambda_cmds.lambda_app)  # policies, webhook-secret
app.add_typer(lambda_cmds.lambda_app)


@app.callback()
def _configure(verbose: bool = typer.Option(False, "--verbose", "-v", help="Show debug logs.")) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False, show_time=False)],
    )


def main(argv: list[str] | None = None) -> int:
    """Run one command; return its exit code (see README "Exit codes"): 0, 1, 2, 130 or 143."""
    scratch.sweep_stale()  # temp folders of framecast processes that were killed outright
    had_browser = chrome.warm_browser_running()
    with scratch.private_temp_root(), interrupts.handled() as interrupt:
        try:
            code = _run(argv)
        except BaseException:
            if interrupt.signum is None:
                raise
            # Whatever surfaced while unwinding (Interrupted, or a child's error after it was killed):
            # the cause is the signal, and every ``finally`` on the way has already cleaned up.
        finally:
            if not had_browser:
                chrome.shutdown_browser()  # its profile lives in the private temp root removed next
        if interrupt.signum is not None:
            console.print(interrupt.message, highlight=False, soft_wrap=True)
            return interrupts.exit_code_for(interrupt.signum)
        return code


def run() -> None:
    """The ``framecast`` console script: ``main``, then exit with its code."""
    code = main()
    # Every file, process and browser is closed by now; without this the interpreter's teardown walks
    # every object once more looking for garbage (about 0.25 s of each command's wall time).
    gc.freeze()
    sys.exit(code)


def _run(argv: list[str] | None) -> int:
    try:
        result = app(args=argv, prog_name="framecast", standalone_mode=False)
    except FramecastError as exc:
        return _report(exc)
    except ValidationError as exc:
        return _report(usage.validation_error(exc))
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        console.print("aborted")
        return 130
    except usage.usage_error_types() as exc:
        if usage.is_help_request(exc):
            console.print(getattr(exc, "format_message", str)(), highlight=False, markup=False)
            return 2
        return _report(usage.usage_error(exc))
    # Without standalone mode the parser returns exit codes it would have raised (e.g. 130 on Ctrl-C).
    return result if isinstance(result, int) and not isinstance(result, bool) else 0


def _report(exc: FramecastError) -> int:
    console.print(f"[bold red]{exc.code}[/]: {escape(exc.message)}", highlight=False, soft_wrap=True)
    return exc.exit_code


if __name__ == "__main__":
    run()
