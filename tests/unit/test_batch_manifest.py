"""The manifest: journalled as rows change, compacted atomically, readable after a crash mid-write."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.batch.batch_file import parse_batch_text
from app.batch.manifest import BatchHeader, ManifestJournal, ManifestRow, read_manifest
from app.batch.resume import check_same_batch, plan_run
from app.errors import BatchManifestError

HEADER = BatchHeader(
    batch_file="people.jsonl", batch_digest="d" * 64, batch_id="b" * 16, backend="lambda", project="/p", rows=3
)


def rows(*statuses: str) -> list[ManifestRow]:
    return [
        ManifestRow(line=i + 1, output_key=f"k{i + 1}.mp4", status=status)  # type: ignore[arg-type]
        for i, status in enumerate(statuses)
    ]


def test_journal_appends_every_change_and_close_compacts_to_one_row_per_line(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    journal = ManifestJournal(path, HEADER, rows("would-start", "would-start", "would-start"))
    journal.open()
    journal.record(journal.row(2).with_(status="started", execution_arn="arn:2", render_id="r2"))
    journal.record(journal.row(2).with_(status="succeeded", output_uri="s3://b/k2.mp4", cost=0.01))
    journal.record(journal.row(1).with_(status="failed-to-start", error="THROTTLED: slow down"))
    assert len(path.read_text().splitlines()) == 1 + 3 + 3  # header, starting rows, three appended events
    header, by_line = read_manifest(path)
    assert header == HEADER
    assert by_line[2].status == "succeeded" and by_line[2].execution_arn == "arn:2"
    journal.close()
    lines = path.read_text().splitlines()
    assert len(lines) == 4
    assert [json.loads(line)["line"] for line in lines[1:]] == [1, 2, 3]
    assert json.loads(lines[2]) == {
        "line": 2,
        "outputKey": "k2.mp4",
        "status": "succeeded",
        "renderId": "r2",
        "executionArn": "arn:2",
        "error": None,
        "outputUri": "s3://b/k2.mp4",
        "cost": 0.01,
    }
    assert not list(tmp_path.glob(".m.jsonl.tmp-*"))


def test_a_torn_last_line_after_kill_is_ignored_and_earlier_events_survive(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    journal = ManifestJournal(path, HEADER, rows("would-start", "would-start", "would-start"))
    journal.open()
    journal.record(journal.row(1).with_(status="started", execution_arn="arn:1"))
    with open(path, "a", encoding="utf-8") as handle:  # what kill -9 in the middle of a write leaves
        handle.write('{"line": 2, "outputKey": "k2.mp4", "status": "sta')
    _, by_line = read_manifest(path)
    assert by_line[1].execution_arn == "arn:1"
    assert by_line[2].status == "would-start"


def test_garbage_in_the_middle_or_a_foreign_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    journal = ManifestJournal(path, HEADER, rows("would-start"))
    journal.open()
    journal.close()
    text = path.read_text()
    path.write_text(text + "{broken\n" + text.splitlines()[1] + "\n")
    with pytest.raises(BatchManifestError, match="line 3 is not valid JSON"):
        read_manifest(path)
    path.write_text('{"outputKey": "a.mp4"}\n')
    with pytest.raises(BatchManifestError, match="does not start with a render-batch header"):
        read_manifest(path)
    with pytest.raises(BatchManifestError, match="cannot read manifest"):
        read_manifest(tmp_path / "nope.jsonl")


def test_resume_keeps_done_and_started_rows_and_retries_failures_only_when_asked(tmp_path: Path) -> None:
    text = "".join(f'{{"outputKey": "k{i}.mp4"}}\n' for i in range(1, 8)).encode()
    batch = parse_batch_text(text, tmp_path / "b.jsonl", None)
    previous = {
        row.line: row for row in rows("succeeded", "started", "failed", "failed-to-start", "cancelled", "would-start")
    }
    plan = plan_run(batch, previous, durable_starts=True, retry_failed=False, wait=False)
    assert [t.row.line for t in plan.tasks] == [5, 6, 7]
    assert plan.kept == 4
    plan = plan_run(batch, previous, durable_starts=True, retry_failed=True, wait=True)
    assert [(t.row.line, t.follow_only) for t in plan.tasks] == [
        (2, True),
        (3, False),
        (4, False),
        (5, False),
        (6, False),
        (7, False),
    ]
    # Locally a "started" row died with the process that rendered it: it runs again.
    plan = plan_run(batch, previous, durable_starts=False, retry_failed=False, wait=True)
    assert [t.row.line for t in plan.tasks] == [2, 5, 6, 7]


def test_resume_refuses_a_manifest_of_another_batch_or_backend_or_changed_rows(tmp_path: Path) -> None:
    with pytest.raises(BatchManifestError, match="different batch file"):
        check_same_batch(HEADER, HEADER.model_copy(update={"batch_digest": "e" * 64}), "m.jsonl")
    with pytest.raises(BatchManifestError, match="--backend lambda"):
        check_same_batch(HEADER, HEADER.model_copy(update={"backend": "local"}), "m.jsonl")
    batch = parse_batch_text(b'{"outputKey": "other.mp4"}\n', tmp_path / "b.jsonl", None)
    with pytest.raises(BatchManifestError, match=r"batch file now says 'other\.mp4'"):
        plan_run(batch, {1: rows("started")[0]}, durable_starts=True, retry_failed=False, wait=False)
