"""A worker refuses a plan it cannot trust, with a typed error, before rendering anything and without output.

Covers edited and missing plan files, a foreign plan hash, corrupt published blobs, an index outside the
plan, a worker whose ffmpeg or Chrome differs from the planner's, and plans that fail half-way (which must
leave no plan folder behind).
"""

from __future__ import annotations

import importlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from app.distributed import PlanResult, RenderConfig, assemble, plan, render_chunk
from app.distributed.manifest import LocalBlobStore, chunk_role, materialize, publish, read_manifest
from app.engine.chrome import acquire_browser
from app.errors import (
    BrowserVersionMismatchError,
    ChunkIndexOutOfRangeError,
    CompositionInvalidError,
    DurationOutOfRangeError,
    FfmpegVersionMismatchError,
    FramecastError,
    InvalidConfigError,
    MissingPlanArtifactError,
    PlanArtifactDigestMismatchError,
    PlanHashMismatchError,
    VideoSourceUnrenderableError,
)
from tests.support.compositions import ProjectFactory, write_motion
from tests.support.media_fixtures import make_tone

pytestmark = pytest.mark.chrome

# ``app.distributed.render_chunk`` is the function (re-exported by the package); patch the module's names.
render_chunk_module = importlib.import_module("app.distributed.render_chunk")


@pytest.fixture(scope="module")
def project(make_project: ProjectFactory) -> Path:
    folder = make_project(
        "tamper", writer=write_motion, duration=1, fps=30, extra_html='<audio id="a" src="tone.wav"></audio>'
    )
    make_tone(folder / "tone.wav", seconds=1)
    return folder


@pytest.fixture(scope="module")
def pristine(project: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, PlanResult]:
    plan_dir = tmp_path_factory.mktemp("pristine") / "plan"
    result = plan(project, RenderConfig(max_parallel_chunks=3, min_chunk_frames=1), plan_dir)
    assert result.chunk_count == 3 and result.has_audio
    return plan_dir, result


@pytest.fixture
def plan_copy(pristine: tuple[Path, PlanResult], tmp_path: Path) -> tuple[Path, PlanResult]:
    """A private copy of the module's plan, free to tamper with."""
    plan_dir, result = pristine
    copy = tmp_path / "plan"
    shutil.copytree(plan_dir, copy)
    return copy, result


def refused(error: type[FramecastError], out: Path, call: Callable[[], object]) -> FramecastError:
    """Run ``call``; it must raise ``error`` and leave nothing at ``out``."""
    with pytest.raises(error) as caught:
        call()
    assert not out.exists(), f"{out} was created by a refused task"
    leftovers = [p for p in out.parent.glob(f".{out.name}*")] if out.parent.exists() else []
    assert leftovers == [], f"temporary output left: {leftovers}"
    return caught.value


def test_edited_project_file_is_plan_hash_mismatch(plan_copy: tuple[Path, PlanResult], tmp_path: Path) -> None:
    plan_dir, result = plan_copy
    index = plan_dir / "project" / "index.html"
    index.write_text(index.read_text().replace("#f97316", "#000001"))
    out = tmp_path / "chunk.mp4"
    error = refused(PlanHashMismatchError, out, lambda: render_chunk(plan_dir, 0, out, plan_hash=result.plan_hash))
    assert error.code == "PLAN_HASH_MISMATCH" and "project/index.html" in error.message


def test_edited_plan_decisions_are_plan_hash_mismatch(plan_copy: tuple[Path, PlanResult], tmp_path: Path) -> None:
    plan_dir, _ = plan_copy
    meta = plan_dir / "meta" / "plan.json"
    data = json.loads(meta.read_text())
    data["crf"] = 0
    meta.write_text(json.dumps(data))
    out = tmp_path / "chunk.mp4"
    refused(PlanHashMismatchError, out, lambda: render_chunk(plan_dir, 1, out))


def test_foreign_plan_hash_is_plan_hash_mismatch(plan_copy: tuple[Path, PlanResult], tmp_path: Path) -> None:
    plan_dir, _ = plan_copy
    out = tmp_path / "chunk.mp4"
    error = refused(PlanHashMismatchError, out, lambda: render_chunk(plan_dir, 0, out, plan_hash="ab" * 32))
    assert "abababababab" in error.message


def test_corrupt_published_blob_is_refused_when_materialized(pristine: tuple[Path, PlanResult], tmp_path: Path) -> None:
    plan_dir, _ = pristine
    store = LocalBlobStore(tmp_path / "store")
    ref = publish(plan_dir, store)
    entry = next(e for e in read_manifest(plan_dir).entries if e.path == "project/index.html")
    blob = tmp_path / "store" / "blobs" / entry.sha256
    blob.write_bytes(blob.read_bytes().replace(b"#f97316", b"#000001"))
    worker = tmp_path / "worker"
    error = refused(
        PlanArtifactDigestMismatchError,
        worker / "project" / "index.html",
        lambda: materialize(store, ref, chunk_role(0), worker),
    )
    assert error.code == "PLAN_ARTIFACT_DIGEST_MISMATCH"
    assert not (worker / "plan-manifest.json").exists()


def test_materialized_plan_renders_without_the_files_its_role_does_not_need(
    pristine: tuple[Path, PlanResult], tmp_path: Path
) -> None:
    plan_dir, result = pristine
    store = LocalBlobStore(tmp_path / "store")
    ref = publish(plan_dir, store)
    worker = tmp_path / "worker"
    materialize(store, ref, chunk_role(2), worker)
    assert not (worker / "audio.m4a").exists(), "only the assembler needs the audio"
    chunk = render_chunk(worker, 2, tmp_path / "chunk2.mp4", plan_hash=result.plan_hash)
    assert chunk.frames == 10


@pytest.mark.parametrize("missing", ["project/index.html", "meta/plan.json"])
def test_deleted_plan_file_is_missing_plan_artifact(
    plan_copy: tuple[Path, PlanResult], tmp_path: Path, missing: str
) -> None:
    plan_dir, result = plan_copy
    (plan_dir / missing).unlink()
    out = tmp_path / "chunk.mp4"
    error = refused(MissingPlanArtifactError, out, lambda: render_chunk(plan_dir, 0, out, plan_hash=result.plan_hash))
    assert error.code == "MISSING_PLAN_ARTIFACT" and missing in error.message


def test_deleted_manifest_is_missing_plan_artifact(plan_copy: tuple[Path, PlanResult], tmp_path: Path) -> None:
    plan_dir, _ = plan_copy
    (plan_dir / "plan-manifest.json").unlink()
    out = tmp_path / "chunk.mp4"
    refused(MissingPlanArtifactError, out, lambda: render_chunk(plan_dir, 0, out))


@pytest.mark.parametrize("index", [3, 99, -1])
def test_index_outside_the_plan_names_the_valid_range(
    pristine: tuple[Path, PlanResult], tmp_path: Path, index: int
) -> None:
    plan_dir, result = pristine
    out = tmp_path / "chunk.mp4"
    error = refused(
        ChunkIndexOutOfRangeError, out, lambda: render_chunk(plan_dir, index, out, plan_hash=result.plan_hash)
    )
    assert error.code == "CHUNK_INDEX_OUT_OF_RANGE"
    assert f"chunk index {index}" in error.message and "[0, 3)" in error.message


def test_worker_with_another_ffmpeg_is_refused(
    pristine: tuple[Path, PlanResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan_dir, result = pristine
    monkeypatch.setattr(render_chunk_module, "ffmpeg_version", lambda: "n0.0.1-other-build")
    out = tmp_path / "chunk.mp4"
    error = refused(FfmpegVersionMismatchError, out, lambda: render_chunk(plan_dir, 0, out, plan_hash=result.plan_hash))
    assert error.code == "FFMPEG_VERSION_MISMATCH" and "n0.0.1-other-build" in error.message


def test_worker_with_another_chrome_is_refused(
    pristine: tuple[Path, PlanResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan_dir, result = pristine
    monkeypatch.setattr(acquire_browser("beginframe"), "version", "HeadlessChrome/1.0.0.0")
    out = tmp_path / "chunk.mp4"
    error = refused(
        BrowserVersionMismatchError, out, lambda: render_chunk(plan_dir, 0, out, plan_hash=result.plan_hash)
    )
    assert error.code == "BROWSER_VERSION_MISMATCH" and "HeadlessChrome/1.0.0.0" in error.message


def test_assembling_a_tampered_plan_is_refused(plan_copy: tuple[Path, PlanResult], tmp_path: Path) -> None:
    plan_dir, result = plan_copy
    (plan_dir / "audio.m4a").write_bytes(b"not audio")
    fake_chunks = []
    for i in range(result.chunk_count):
        fake = tmp_path / f"chunk{i}.mp4"
        fake.write_bytes(b"x")
        fake_chunks.append(fake)
    out = tmp_path / "final.mp4"
    refused(PlanHashMismatchError, out, lambda: assemble(plan_dir, fake_chunks, out, plan_hash=result.plan_hash))


def test_assembling_with_a_chunk_missing_is_refused(pristine: tuple[Path, PlanResult], tmp_path: Path) -> None:
    plan_dir, _ = pristine
    out = tmp_path / "final.mp4"
    error = refused(MissingPlanArtifactError, out, lambda: assemble(plan_dir, [tmp_path / "c0.mp4"], out))
    assert "1 chunk(s)" in error.message and "3" in error.message


def assert_no_plan_left(plan_dir: Path) -> None:
    assert not plan_dir.exists(), "a failed plan left its folder"
    assert [p.name for p in plan_dir.parent.iterdir() if p.name.startswith(f".{plan_dir.name}")] == []


def test_invalid_config_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidConfigError, match="fps"):
        RenderConfig.parse({"fps": 121})
    with pytest.raises(InvalidConfigError, match=r"maxParallelChunks|max_parallel_chunks"):
        RenderConfig.parse({"maxParallelChunks": 0})


def test_config_the_engine_rejects_leaves_no_plan(project: Path, tmp_path: Path) -> None:
    plan_dir = tmp_path / "plan"
    with pytest.raises(InvalidConfigError, match="crf 60"):
        plan(project, RenderConfig(crf=60), plan_dir)
    assert_no_plan_left(plan_dir)


def test_zero_duration_leaves_no_plan(make_project: ProjectFactory, tmp_path: Path) -> None:
    project = make_project("zero", writer=write_motion, duration=0)
    plan_dir = tmp_path / "plan"
    with pytest.raises(DurationOutOfRangeError):
        plan(project, RenderConfig(), plan_dir)
    assert_no_plan_left(plan_dir)


def test_failure_after_copying_the_project_leaves_no_plan(make_project: ProjectFactory, tmp_path: Path) -> None:
    # The audio file is missing: plan fails while mixing, after the project was copied into staging.
    project = make_project("no-audio", writer=write_motion, extra_html='<audio id="a" src="gone.wav"></audio>')
    plan_dir = tmp_path / "plan"
    with pytest.raises(VideoSourceUnrenderableError, match=r"gone\.wav"):
        plan(project, RenderConfig(), plan_dir)
    assert_no_plan_left(plan_dir)


def test_link_out_of_the_project_fails_the_plan_and_leaves_nothing(
    make_project: ProjectFactory, tmp_path: Path
) -> None:
    project = make_project("escape", writer=write_motion)
    secret = tmp_path / "secret.txt"
    secret.write_text("not part of the project")
    (project / "assets").mkdir()
    (project / "assets" / "secret.txt").symlink_to(secret)
    plan_dir = tmp_path / "plan"
    with pytest.raises(CompositionInvalidError, match="outside the project"):
        plan(project, RenderConfig(), plan_dir)
    assert_no_plan_left(plan_dir)


def test_failed_re_plan_keeps_the_previous_plan_intact(project: Path, tmp_path: Path) -> None:
    plan_dir = tmp_path / "plan"
    first = plan(project, RenderConfig(max_parallel_chunks=2, min_chunk_frames=1), plan_dir)
    broken = tmp_path / "broken"
    shutil.copytree(project, broken)
    (broken / "tone.wav").unlink()
    with pytest.raises(VideoSourceUnrenderableError):
        plan(broken, RenderConfig(), plan_dir)
    assert read_manifest(plan_dir).plan_hash == first.plan_hash
