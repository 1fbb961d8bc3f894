"""The ``framecast`` entry point: builds the typer app and turns typed errors into exit codes.

Exit codes: 0 success, 1 a render failed, 2 bad input (usage, project, options). A FramecastError is
printed as ``CODE: message`` without a traceback.
"""

from __future__ import annotations

import logging
import sys

import typer
from rich.logging import RichHandler

from app.cli import distributed_cmds, render_cmd
from app.cli.progress import console
from app.errors import FramecastError

app = typer.Typer(
    name="framecast",
    help="Render HyperFrames HTML compositions to video, on this machine or on AWS Lambda.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("render")(render_cmd.render)
distributed_cmds.register(app)


@app.callback()
def _configure(verbose: bool = typer.Option(False, "--verbose", "-v", help="Show debug logs.")) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False, show_time=False)],
    )


def main(argv: list[str] | None = None) -> int:
    try:
        app(args=argv, standalone_mode=False)
    except FramecastError as exc:
        console.print(f"[bold red]{exc.code}[/]: {exc.message}", highlight=False, soft_wrap=True)
        return exc.exit_code
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        console.print("aborted")
        return 130
    except Exception as exc:  # click usage errors and the like
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show(file=sys.stderr)
            return 2
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
