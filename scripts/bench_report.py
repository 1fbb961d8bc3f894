"""BENCHMARKS.md is shared by several bench scripts: each one owns a marked section and rewrites only it.

A section is the text between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->``; a script that runs
for the first time appends its section. The file is replaced atomically, so an interrupted bench never
leaves it half-written.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

REPORT = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"
TITLE = "# Benchmarks\n\nEach section is written by the bench script it names (`make bench` runs them all).\n"


def write_section(name: str, markdown: str, report: Path = REPORT) -> None:
    block = f"<!-- bench:{name} -->\n{markdown.strip()}\n<!-- /bench:{name} -->"
    text = report.read_text() if report.exists() else TITLE
    pattern = re.compile(rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->", re.DOTALL)
    found = pattern.search(text)
    text = f"{text[: found.start()]}{block}{text[found.end() :]}" if found else f"{text.rstrip()}\n\n{block}\n"
    fd, tmp = tempfile.mkstemp(prefix=".BENCHMARKS.", dir=report.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, report)
    finally:
        Path(tmp).unlink(missing_ok=True)
    print(f"wrote section {name!r} of {report}")
