"""The render-batch manifest: one row per input line, written so that no started render is ever lost.

File format (JSON lines): the first line is ``{"batch": {...}}`` (what the batch is: file digest,
backend, project, site, batch id), then row records ``{line, outputKey, renderId, executionArn,
status, error, outputUri, cost}``. While a batch runs, every status change is APPENDED and fsynced
(a journal: the last record for a line wins). When the batch ends, the compact manifest (header and
one row per line, in input order) is written to a temporary file, fsynced and renamed over it. So
after ``kill -9`` at any moment the file still names every execution that was started; a torn last
line (the write the kill interrupted) is ignored by ``read_manifest``.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from pathlib import Path
from typing import IO, Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from app.errors import BatchManifestError

RowStatus = Literal["would-start", "started", "succeeded", "failed", "failed-to-start", "cancelled", "skipped"]
FINAL_STATUSES: frozenset[str] = frozenset({"succeeded", "failed", "failed-to-start", "cancelled", "skipped"})
FAILED_STATUSES: frozenset[str] = frozenset({"failed", "failed-to-start"})


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True)


class ManifestRow(_Wire):
    line: int
    output_key: str
    status: RowStatus
    render_id: str | None = None
    execution_arn: str | None = None
    error: str | None = None
    output_uri: str | None = None
    cost: float | None = None  # USD: the estimate while running, the measured cost when known

    def with_(self, **changes: Any) -> ManifestRow:
        return self.model_copy(update=changes)


class BatchHeader(_Wire):
    batch_file: str
    batch_digest: str
    batch_id: str
    backend: Literal["local", "lambda"]
    project: str
    rows: int
    site_id: str | None = None
    stack: str | None = None
    output: str | None = None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def render_manifest(header: BatchHeader, rows: list[ManifestRow]) -> str:
    """The compact manifest text: header, then one row per line in input order."""
    lines = [json.dumps({"batch": header.model_dump(by_alias=True)}, separators=(",", ":"))]
    lines.extend(row.to_json() for row in sorted(rows, key=lambda r: r.line))
    return "\n".join(lines) + "\n"


def write_manifest_atomically(path: Path, header: BatchHeader, rows: list[ManifestRow]) -> None:
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    try:
        with open(temp, "w", encoding="utf-8") as handle:
            handle.write(render_manifest(header, rows))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
        _fsync_dir(path.parent)
    finally:
        temp.unlink(missing_ok=True)


class ManifestJournal:
    """The manifest of a running batch: the current row of every line, journalled as it changes."""

    def __init__(self, path: Path, header: BatchHeader, rows: list[ManifestRow]) -> None:
        self.path = path
        self.header = header
        self._rows = {row.line: row for row in rows}
        self._lock = threading.Lock()
        self._handle: IO[str] | None = None

    def open(self) -> None:
        """Write the compact starting manifest, then keep it open for appending."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_manifest_atomically(self.path, self.header, list(self._rows.values()))
        self._handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def record(self, row: ManifestRow) -> None:
        """Make ``row`` the current state of its line, durably (appended and fsynced) before returning."""
        with self._lock:
            self._rows[row.line] = row
            if self._handle is not None:
                self._handle.write(row.to_json() + "\n")
                self._handle.flush()
                os.fsync(self._handle.fileno())

    def row(self, line: int) -> ManifestRow:
        with self._lock:
            return self._rows[line]

    def rows(self) -> list[ManifestRow]:
        with self._lock:
            return sorted(self._rows.values(), key=lambda r: r.line)

    def close(self) -> None:
        """Replace the journal with the compact manifest (atomic rename)."""
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None
            write_manifest_atomically(self.path, self.header, list(self._rows.values()))


def _parse_line(text: str, number: int, path: Path) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BatchManifestError(
            f"{path} line {number} is not valid JSON ({exc.msg}); this is not a framecast manifest "
            "or it was edited by hand"
        ) from exc
    if not isinstance(value, dict):
        raise BatchManifestError(f"{path} line {number} is not a JSON object; not a framecast manifest")
    return value


def read_manifest(path: Path) -> tuple[BatchHeader, dict[int, ManifestRow]]:
    """The header and the last record of each line; a torn final line (kill -9 mid-write) is skipped."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise BatchManifestError(f"cannot read manifest {path}: {exc.strerror or exc}") from exc
    lines = text.split("\n")
    torn_tail = not text.endswith("\n")
    records: list[tuple[int, dict[str, Any]]] = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        if torn_tail and number == len(lines):
            # The write a crash interrupted: that event had not happened durably.
            with contextlib.suppress(json.JSONDecodeError):
                records.append((number, json.loads(raw)))
            continue
        records.append((number, _parse_line(raw, number, path)))
    if not records or "batch" not in records[0][1]:
        raise BatchManifestError(f"{path} does not start with a render-batch header; pass a manifest it wrote")
    try:
        header = BatchHeader.model_validate(records[0][1]["batch"])
        rows: dict[int, ManifestRow] = {}
        for _, record in records[1:]:
            row = ManifestRow.model_validate(record)
            rows[row.line] = row
    except ValidationError as exc:
        raise BatchManifestError(f"{path} has an invalid record: {exc.errors()[0]['msg']}") from exc
    return header, rows
