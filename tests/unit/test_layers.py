"""The layers point inward: engine and distributed never pull in AWS, HTTP clients or the CLI."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "app"
FORBIDDEN_FOR_PURE_LAYERS = (
    "boto3",
    "botocore",
    "typer",
    "rich",
    "httpx",
    "aws_lambda_powertools",
    "app.aws",
    "app.cli",
    "app.local",
)


@pytest.mark.parametrize("package", ["app.engine", "app.distributed"])
def test_importing_a_pure_layer_loads_no_aws_or_cli_module(package: str) -> None:
    probe = (
        f"import sys, {package}, importlib, pkgutil\n"
        f"for m in pkgutil.walk_packages({package}.__path__, '{package}.'):\n"
        "    importlib.import_module(m.name)\n"
        f"forbidden = {FORBIDDEN_FOR_PURE_LAYERS!r}\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in forbidden or n.startswith(forbidden))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"{package} imported {out.stdout.strip()}"


@pytest.mark.parametrize("layer", ["engine", "distributed"])
def test_pure_layer_sources_name_no_outer_layer(layer: str) -> None:
    offenders = []
    for source in (APP / layer).rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{source.name}: {n}"
                for n in names
                if n.split(".")[0] in FORBIDDEN_FOR_PURE_LAYERS or n.startswith(("app.aws", "app.cli", "app.local"))
            ]
            if layer == "engine":
                offenders += [f"{source.name}: {n}" for n in names if n.startswith("app.distributed")]
    assert offenders == []


def test_the_cli_imports_no_aws_sdk_until_an_aws_command_runs() -> None:
    # boto3 costs a third of a second to import: a local render, and every chunk worker it spawns, skip it.
    probe = "import sys, app.cli.main\nprint(','.join(sorted(n for n in sys.modules if n.split('.')[0] == 'boto3')))\n"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"importing the CLI loaded {out.stdout.strip()}"
