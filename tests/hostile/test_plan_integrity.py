"""Everything a worker trusts is covered by the plan hash and checked as a model (issue 12, class 5).

Each case edits a copy of one real plan: either without fixing the manifest (PLAN_HASH_MISMATCH) or
re-computing every digest and the plan hash the way an attacker with write access would (PLAN_INVALID:
the invariants catch what the hash cannot). Every case runs ``chunk`` and ``assemble`` through the CLI:
exit 1, one ``CODE: message`` line, no output, the plan folder untouched, no browser launched.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.cli.main import main
from app.distributed import PlanResult, RenderConfig, plan
from app.distributed.manifest import MANIFEST_NAME, ManifestEntry, plan_hash_of
from app.engine import chrome
from tests.support.compositions import ProjectFactory, write_motion
from tests.support.tree import tree_snapshot

pytestmark = pytest.mark.chrome

META = "meta/plan.json"


@pytest.fixture(scope="module")
def pristine(make_project: ProjectFactory, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, PlanResult]:
    project = make_project("integrity", writer=write_motion, duration=1, fps=30)
    plan_dir = tmp_path_factory.mktemp("integrity") / "plan"
    result = plan(project, RenderConfig(max_parallel_chunks=3, min_chunk_frames=1), plan_dir)
    assert result.chunk_count == 3
    return plan_dir, result


def _manifest(plan_dir: Path) -> dict[str, Any]:
    return json.loads((plan_dir / MANIFEST_NAME).read_text())


def _write_manifest(plan_dir: Path, raw: dict[str, Any], *, rehash: bool) -> None:
    if rehash:
        for entry in raw["entries"]:
            path = plan_dir / entry["path"]
            if path.is_file():
                entry["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
                entry["size"] = path.stat().st_size
        entries = [ManifestEntry.model_construct(**{**e, "roles": tuple(e["roles"])}) for e in raw["entries"]]
        raw["plan_hash"] = plan_hash_of(entries, raw["chunk_count"])
    (plan_dir / MANIFEST_NAME).write_text(json.dumps(raw))


def _edit_manifest(edit: Callable[[dict[str, Any]], None], *, rehash: bool) -> Callable[[Path], None]:
    def apply(plan_dir: Path) -> None:
        raw = _manifest(plan_dir)
        edit(raw)
        _write_manifest(plan_dir, raw, rehash=rehash)

    return apply


def _edit_meta(edit: Callable[[dict[str, Any]], Any], *, rehash: bool = True) -> Callable[[Path], None]:
    def apply(plan_dir: Path) -> None:
        meta = json.loads((plan_dir / META).read_text())
        replaced = edit(meta)
        text = replaced if isinstance(replaced, str) else json.dumps(meta)
        (plan_dir / META).write_text(text)
        _write_manifest(plan_dir, _manifest(plan_dir), rehash=rehash)

    return apply


def _add_file(relative: str) -> Callable[[Path], None]:
    def apply(plan_dir: Path) -> None:
        (plan_dir / relative).parent.mkdir(parents=True, exist_ok=True)
        (plan_dir / relative).write_text("<script>exfiltrate()</script>")

    return apply


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda data: data.__setitem__(key, value)


def _set_roles(raw: dict[str, Any]) -> None:
    entry = next(e for e in raw["entries"] if e["path"] == "audio.m4a" or e["path"].startswith("project/"))
    entry["roles"] = ["chunk:0"]


def _add_entry_outside(raw: dict[str, Any]) -> None:
    raw["entries"].append({"path": "../outside.txt", "sha256": "0" * 64, "size": 1, "roles": ["chunk"]})


CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    # Edited without fixing the manifest: the hash covers it.
    "chunk-count-edited": (_edit_manifest(_set("chunk_count", 7), rehash=False), "PLAN_HASH_MISMATCH"),
    "chunk-count-999": (_edit_manifest(_set("chunk_count", 999), rehash=False), "PLAN_INVALID"),
    "chunk-count-lowered": (_edit_manifest(_set("chunk_count", 2), rehash=False), "PLAN_HASH_MISMATCH"),
    "roles-edited": (_edit_manifest(_set_roles, rehash=False), "PLAN_HASH_MISMATCH"),
    "version-edited": (_edit_manifest(_set("version", 1), rehash=False), "PLAN_INVALID"),
    "meta-edited": (_edit_meta(_set("crf", 0), rehash=False), "PLAN_HASH_MISMATCH"),
    "file-added-to-project": (_add_file("project/extra.js"), "PLAN_HASH_MISMATCH"),
    "file-added-to-frames": (_add_file("frames/clip/frame_000001.jpg"), "PLAN_HASH_MISMATCH"),
    "manifest-not-json": (lambda d: (d / MANIFEST_NAME).write_text("{ nope"), "PLAN_HASH_MISMATCH"),
    # Edited and re-hashed: the models' invariants refuse it.
    "chunk-count-999-rehashed": (_edit_manifest(_set("chunk_count", 999), rehash=True), "PLAN_INVALID"),
    "chunk-count-5-rehashed": (_edit_manifest(_set("chunk_count", 5), rehash=True), "PLAN_INVALID"),
    "entry-outside-rehashed": (_edit_manifest(_add_entry_outside, rehash=True), "PLAN_INVALID"),
    "negative-range": (_edit_meta(_set("chunks", [[-20, 10], [10, 20], [20, 30]])), "PLAN_INVALID"),
    "range-past-the-end": (_edit_meta(_set("chunks", [[0, 10], [10, 20], [20, 150]])), "PLAN_INVALID"),
    "gap-between-ranges": (_edit_meta(_set("chunks", [[0, 10], [12, 20], [20, 30]])), "PLAN_INVALID"),
    "empty-range": (_edit_meta(_set("chunks", [[0, 10], [10, 10], [10, 30]])), "PLAN_INVALID"),
    "total-frames-15000": (_edit_meta(_set("total_frames", 15000)), "PLAN_INVALID"),
    "total-and-ranges-15000": (
        _edit_meta(lambda m: m.update(total_frames=15000, chunks=[[0, 10], [10, 20], [20, 15000]])),
        "PLAN_INVALID",
    ),
    "fps-not-a-number": (_edit_meta(_set("fps", "fast")), "PLAN_INVALID"),
    "fps-unsupported": (_edit_meta(_set("fps", 121)), "PLAN_INVALID"),
    "codec-of-another-format": (_edit_meta(_set("codec", "prores")), "PLAN_INVALID"),
    "unknown-field": (_edit_meta(_set("evil", True)), "PLAN_INVALID"),
    "meta-not-json": (_edit_meta(lambda m: "[[[[not json"), "PLAN_INVALID"),
    "meta-deeply-nested": (_edit_meta(lambda m: "[" * 100_000 + "]" * 100_000), "PLAN_INVALID"),
}


@pytest.mark.parametrize("verb", ["chunk", "assemble"])
@pytest.mark.parametrize(("tamper", "code"), CASES.values(), ids=CASES.keys())
def test_a_plan_that_cannot_be_trusted_is_refused_before_any_work(
    pristine: tuple[Path, PlanResult],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    tamper: Callable[[Path], None],
    code: str,
    verb: str,
) -> None:
    source, result = pristine
    plan_dir = tmp_path / "plan"
    shutil.copytree(source, plan_dir)
    tamper(plan_dir)
    before = tree_snapshot(plan_dir)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    chrome.shutdown_browser()
    if verb == "chunk":
        argv = ["chunk", str(plan_dir), "1", "-o", str(out_dir / "chunk.mp4")]
    else:
        fakes = [tmp_path / f"c{i}.mp4" for i in range(result.chunk_count)]
        for fake in fakes:
            fake.write_bytes(b"never read: the plan is refused first")
        argv = ["assemble", str(plan_dir), *map(str, fakes), "-o", str(out_dir / "final.mp4")]

    exit_code = main(argv)

    captured = capsys.readouterr()
    output = captured.out + captured.err
    assert exit_code == 1, output
    assert output.startswith(f"{code}: ") and "Traceback" not in output, output
    assert len(output.strip().splitlines()) == 1, output
    assert list(out_dir.iterdir()) == [], "a refused task wrote output"
    assert tree_snapshot(plan_dir) == before, "a refused task changed the plan"
    assert not chrome.warm_browser_running(), "a browser was launched for a plan that was refused"
