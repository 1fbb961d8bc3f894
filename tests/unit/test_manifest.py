"""The plan manifest: hash framing, tamper detection, roles, and content-addressed publication."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pytest

from app.distributed.manifest import (
    HASH_HEADER,
    MANIFEST_NAME,
    ROLE_ALL_CHUNKS,
    ROLE_ASSEMBLE,
    LocalBlobStore,
    ManifestEntry,
    build_manifest,
    chunk_role,
    manifest_bytes,
    materialize,
    plan_hash_of,
    publish,
    read_manifest,
    verify_plan_files,
)
from app.errors import (
    MissingPlanArtifactError,
    PlanArtifactDigestMismatchError,
    PlanHashMismatchError,
    PlanInvalidError,
)

FILES = {
    "meta/plan.json": b'{"fps": 30}',
    "project/index.html": b"<html></html>",
    "audio.m4a": b"\x00audio",
    "frames/clip/frame_000001.jpg": b"frame one",
    "frames/clip/frame_000002.jpg": b"frame two",
}
ROLES: dict[str, tuple[str, ...]] = {
    "audio.m4a": (ROLE_ASSEMBLE,),
    "frames/clip/frame_000001.jpg": (chunk_role(0),),
    "frames/clip/frame_000002.jpg": (chunk_role(1),),
}


PINNED_HASH = "b4c296c024d93a4c60fed29c074daaedb88a44fc3e6993938f5739af66779396"


def entry(path: str, data: bytes, roles: tuple[str, ...] = (ROLE_ALL_CHUNKS,)) -> ManifestEntry:
    return ManifestEntry(path=path, sha256=hashlib.sha256(data).hexdigest(), size=len(data), roles=roles)


@pytest.fixture
def plan_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "plan"
    for name, data in FILES.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    manifest = build_manifest(folder, ROLES, chunk_count=2)
    (folder / MANIFEST_NAME).write_bytes(manifest_bytes(manifest))
    return folder


def test_plan_hash_is_sha256_of_the_documented_framing() -> None:
    entries = [entry("b.txt", b"bee"), entry("a.txt", b"ay", (ROLE_ASSEMBLE, chunk_role(1)))]
    text = HASH_HEADER + "chunks\x003\n"
    for e in sorted(entries, key=lambda x: x.path):
        text += f"{e.path}\0{e.sha256}\0{e.size}\0{','.join(e.roles)}\n"
    assert plan_hash_of(entries, 3) == hashlib.sha256(text.encode()).hexdigest()
    assert HASH_HEADER == "framecast-plan-v2\n"


def test_plan_hash_of_fixed_entries_never_changes() -> None:
    # Pinned: a change here invalidates every published plan, so it must be deliberate (bump the header).
    entries = [entry("project/index.html", b"<html></html>"), entry("meta/plan.json", b"{}")]
    assert plan_hash_of(entries, 2) == PINNED_HASH


def test_plan_hash_does_not_depend_on_entry_order() -> None:
    entries = [entry(f"file{i}.bin", bytes([i]) * i) for i in range(20)]
    reference = plan_hash_of(entries, 4)
    rng = random.Random(7)
    for _ in range(10):
        shuffled = entries[:]
        rng.shuffle(shuffled)
        assert plan_hash_of(shuffled, 4) == reference


@pytest.mark.parametrize("field", ["path", "sha256", "size", "roles", "chunk_count"])
def test_plan_hash_changes_with_any_manifest_field(field: str) -> None:
    entries = [entry("a.txt", b"ay"), entry("b.txt", b"bee")]
    if field == "chunk_count":
        assert plan_hash_of(entries, 3) != plan_hash_of(entries, 2)
        return
    changed = {"path": "c.txt", "sha256": "0" * 64, "size": 99, "roles": (ROLE_ASSEMBLE,)}[field]
    edited = [entries[0].model_copy(update={field: changed}), entries[1]]
    assert plan_hash_of(edited, 2) != plan_hash_of(entries, 2)


def test_build_manifest_lists_every_file_but_itself_with_roles(plan_dir: Path) -> None:
    manifest = read_manifest(plan_dir)
    assert sorted(e.path for e in manifest.entries) == sorted(FILES)
    by_path = {e.path: e for e in manifest.entries}
    assert by_path["audio.m4a"].roles == (ROLE_ASSEMBLE,)
    assert by_path["project/index.html"].roles == (ROLE_ALL_CHUNKS, ROLE_ASSEMBLE)  # the default
    assert by_path["meta/plan.json"].size == len(FILES["meta/plan.json"])
    assert manifest.chunk_count == 2


def test_verify_hash_detects_an_edited_entry(plan_dir: Path) -> None:
    manifest = read_manifest(plan_dir)
    edited = manifest.model_copy(update={"entries": (manifest.entries[0].model_copy(update={"size": 1}),)})
    with pytest.raises(PlanHashMismatchError, match="edited or corrupted"):
        edited.verify_hash()


def test_reading_a_manifest_whose_entries_were_edited_fails(plan_dir: Path) -> None:
    raw = json.loads((plan_dir / MANIFEST_NAME).read_bytes())
    raw["entries"][0]["sha256"] = "f" * 64
    (plan_dir / MANIFEST_NAME).write_text(json.dumps(raw))
    with pytest.raises(PlanHashMismatchError):
        read_manifest(plan_dir)


def test_reading_a_manifest_that_is_not_json_is_a_hash_mismatch(plan_dir: Path) -> None:
    (plan_dir / MANIFEST_NAME).write_text("{ not json")
    with pytest.raises(PlanHashMismatchError, match="not valid"):
        read_manifest(plan_dir)


def test_a_folder_without_manifest_is_not_a_finished_plan(tmp_path: Path) -> None:
    with pytest.raises(MissingPlanArtifactError, match="not a finished plan"):
        read_manifest(tmp_path)


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("chunk:0", {"meta/plan.json", "project/index.html", "frames/clip/frame_000001.jpg"}),
        ("chunk:1", {"meta/plan.json", "project/index.html", "frames/clip/frame_000002.jpg"}),
        ("chunk:7", {"meta/plan.json", "project/index.html"}),
        ("assemble", {"meta/plan.json", "project/index.html", "audio.m4a"}),
    ],
)
def test_roles_select_what_each_worker_needs(plan_dir: Path, role: str, expected: set[str]) -> None:
    assert {e.path for e in read_manifest(plan_dir).entries_for(role)} == expected


def test_the_bare_chunk_role_does_not_match_single_chunk_files() -> None:
    only_chunk_0 = entry("f", b"x", roles=(chunk_role(0),))
    assert not only_chunk_0.needed_by(ROLE_ALL_CHUNKS)
    assert not only_chunk_0.needed_by(ROLE_ASSEMBLE)
    assert entry("g", b"y", roles=(ROLE_ALL_CHUNKS,)).needed_by(chunk_role(12))


def test_verify_plan_files_passes_an_untouched_plan(plan_dir: Path) -> None:
    manifest = read_manifest(plan_dir)
    assert verify_plan_files(plan_dir, chunk_role(0), manifest.plan_hash) == manifest


def test_verify_plan_files_detects_an_edited_file(plan_dir: Path) -> None:
    (plan_dir / "project/index.html").write_bytes(b"<html>edited</html>")
    with pytest.raises(PlanHashMismatchError, match=r"project/index\.html"):
        verify_plan_files(plan_dir, chunk_role(0))


def test_verify_plan_files_detects_a_same_size_edit(plan_dir: Path) -> None:
    data = FILES["project/index.html"]
    (plan_dir / "project/index.html").write_bytes(data.upper())
    with pytest.raises(PlanHashMismatchError):
        verify_plan_files(plan_dir, chunk_role(0))


def test_verify_plan_files_detects_a_missing_file_the_role_needs(plan_dir: Path) -> None:
    (plan_dir / "frames/clip/frame_000002.jpg").unlink()
    verify_plan_files(plan_dir, chunk_role(0))  # chunk 0 does not need it
    with pytest.raises(MissingPlanArtifactError, match=r"frame_000002\.jpg"):
        verify_plan_files(plan_dir, chunk_role(1))


def test_verify_plan_files_refuses_another_plan_hash(plan_dir: Path) -> None:
    with pytest.raises(PlanHashMismatchError, match="expected plan"):
        verify_plan_files(plan_dir, ROLE_ASSEMBLE, "0" * 64)


def test_publish_then_materialize_round_trips_every_file(plan_dir: Path, tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "store")
    ref = publish(plan_dir, store)
    manifest = read_manifest(plan_dir)
    assert Path(ref).name == f"{manifest.plan_hash}.json"
    assert all(store.has_blob(e.sha256) for e in manifest.entries)
    for role in (chunk_role(0), chunk_role(1), ROLE_ASSEMBLE):
        dest = tmp_path / role.replace(":", "-")
        assert materialize(store, ref, role, dest) == manifest
        expected = {e.path for e in manifest.entries_for(role)}
        got = {p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()} - {MANIFEST_NAME}
        assert got == expected
        assert all((dest / path).read_bytes() == FILES[path] for path in expected)
        verify_plan_files(dest, role, manifest.plan_hash)  # a materialized plan is a valid plan for that role


def test_publishing_twice_stores_each_blob_once(plan_dir: Path, tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "store")
    assert publish(plan_dir, store) == publish(plan_dir, store)
    assert len(list((tmp_path / "store" / "blobs").iterdir())) == len(FILES)


def test_corrupted_blob_is_refused_and_not_left_behind(plan_dir: Path, tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "store")
    ref = publish(plan_dir, store)
    target = next(e for e in read_manifest(plan_dir).entries if e.path == "project/index.html")
    (tmp_path / "store" / "blobs" / target.sha256).write_bytes(b"<html>evil</html>")
    dest = tmp_path / "worker"
    with pytest.raises(PlanArtifactDigestMismatchError, match=r"project/index\.html"):
        materialize(store, ref, chunk_role(0), dest)
    assert not (dest / "project/index.html").exists()
    assert not (dest / MANIFEST_NAME).exists()  # an incomplete plan must not look finished


def test_missing_blob_is_a_missing_plan_artifact(plan_dir: Path, tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "store")
    ref = publish(plan_dir, store)
    audio = next(e for e in read_manifest(plan_dir).entries if e.path == "audio.m4a")
    (tmp_path / "store" / "blobs" / audio.sha256).unlink()
    materialize(store, ref, chunk_role(0), tmp_path / "chunk")  # chunks never need the audio
    with pytest.raises(MissingPlanArtifactError, match=audio.sha256[:12]):
        materialize(store, ref, ROLE_ASSEMBLE, tmp_path / "assembler")


def test_missing_manifest_ref_is_a_missing_plan_artifact(tmp_path: Path) -> None:
    with pytest.raises(MissingPlanArtifactError, match="does not exist"):
        materialize(LocalBlobStore(tmp_path), str(tmp_path / "manifests" / "nope.json"), ROLE_ASSEMBLE, tmp_path / "d")


def test_edited_stored_manifest_is_refused_before_any_download(plan_dir: Path, tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "store")
    ref = Path(publish(plan_dir, store))
    raw = json.loads(ref.read_bytes())
    raw["entries"][0]["size"] += 1
    ref.write_text(json.dumps(raw))
    with pytest.raises(PlanHashMismatchError):
        materialize(store, str(ref), ROLE_ASSEMBLE, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


@pytest.mark.parametrize("path", ["../outside.txt", "/etc/passwd", "a/./b", "a//b", "x\\..\\y", "plan-manifest.json"])
def test_manifest_entry_escaping_the_plan_folder_is_refused(tmp_path: Path, path: str) -> None:
    store = LocalBlobStore(tmp_path / "store")
    data = b"pwned"
    source = tmp_path / "src.bin"
    source.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    store.put_blob(sha, source)
    # Written by hand: the model itself refuses to build such an entry.
    text = f"{HASH_HEADER}chunks\x001\n{path}\0{sha}\0{len(data)}\0{ROLE_ASSEMBLE}\n"
    raw = {
        "version": 2,
        "plan_hash": hashlib.sha256(text.encode()).hexdigest(),
        "chunk_count": 1,
        "entries": [{"path": path, "sha256": sha, "size": len(data), "roles": [ROLE_ASSEMBLE]}],
    }
    ref = tmp_path / "store" / "manifests" / "evil.json"
    ref.parent.mkdir(parents=True, exist_ok=True)
    ref.write_text(json.dumps(raw))
    with pytest.raises(PlanInvalidError, match="path"):
        materialize(store, str(ref), ROLE_ASSEMBLE, tmp_path / "dest")
    assert not (tmp_path / "outside.txt").exists() and not (tmp_path / "dest").exists()
