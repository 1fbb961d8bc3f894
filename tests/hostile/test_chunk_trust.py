"""assemble trusts no chunk (issue 12, class 4).

Chunks out of order, duplicated, from another plan, truncated, empty, not a video, without identity or
with fewer frames than they claim are refused with CHUNK_PLAN_MISMATCH / CHUNK_INVALID (exit 1 through
the CLI), before anything is written: no output, no temporary file beside it, nothing else touched.
The chunks are rendered once per module (320x180, 1 s, 3 chunks).
"""

from __future__ import annotations

import importlib
import io
import json
import shutil
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.cli.main import main
from app.distributed import RenderConfig, assemble, plan, render_chunk
from app.distributed.chunk_identity import IDENTITY_MEMBER, TAG_KEY, ChunkIdentity
from app.distributed.render_chunk import chunk_extension
from app.engine.ffmpeg import run_ffmpeg
from app.engine.output_path import MARKER_NAME
from app.engine.video_probe import VideoProbe
from app.errors import OutputFrameCountError
from tests.support.compositions import ProjectFactory, write_motion
from tests.support.tree import tree_snapshot

pytestmark = pytest.mark.chrome

CHUNKS = 3


@dataclass(frozen=True)
class Rendered:
    plan_dir: Path
    plan_hash: str
    chunks: list[Path]


def _render_plan(project: Path, folder: Path, fmt: str, **config: object) -> Rendered:
    settings = RenderConfig.parse({"format": fmt, "max_parallel_chunks": CHUNKS, "min_chunk_frames": 1, **config})
    planned = plan(project, settings, folder / "plan")
    paths = [folder / f"chunk-{i}{chunk_extension(fmt)}" for i in range(planned.chunk_count)]
    for index, path in enumerate(paths):
        render_chunk(folder / "plan", index, path, plan_hash=planned.plan_hash)
    return Rendered(folder / "plan", planned.plan_hash, paths)


@pytest.fixture(scope="module")
def rendered(make_project: ProjectFactory, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Rendered]:
    project = make_project("trust", writer=write_motion, duration=1, fps=30)
    root = tmp_path_factory.mktemp("trust-chunks")
    # "other-*" are other plans of the same composition (another crf, or variables): same frame ranges.
    return {
        "mp4": _render_plan(project, root / "mp4", "mp4"),
        "other-mp4": _render_plan(project, root / "other-mp4", "mp4", crf=40),
        "png-sequence": _render_plan(project, root / "png", "png-sequence"),
        "other-png-sequence": _render_plan(project, root / "other-png", "png-sequence", variables={"x": 1}),
    }


# --- hostile chunk lists: each builds the list to pass from the good chunks (and a scratch folder) ---------

Build = Callable[[Rendered, Rendered, Path], list[Path]]


def _swapped(good: Rendered, other: Rendered, scratch: Path) -> list[Path]:
    return [good.chunks[1], good.chunks[0], good.chunks[2]]


def _duplicated(good: Rendered, other: Rendered, scratch: Path) -> list[Path]:
    return [good.chunks[0], good.chunks[0], good.chunks[2]]


def _from_another_plan(good: Rendered, other: Rendered, scratch: Path) -> list[Path]:
    return [good.chunks[0], other.chunks[1], good.chunks[2]]


def _replaced(index: int, data: Callable[[bytes], bytes]) -> Build:
    def build(good: Rendered, other: Rendered, scratch: Path) -> list[Path]:
        chunks = list(good.chunks)
        copy = scratch / f"edited{chunks[index].suffix}"
        copy.write_bytes(data(chunks[index].read_bytes()))
        chunks[index] = copy
        return chunks

    return build


def _untagged_video(good: Rendered, other: Rendered, scratch: Path) -> list[Path]:
    bare = scratch / "bare.mp4"
    run_ffmpeg(
        ["-f", "lavfi", "-i", "testsrc=s=320x180:r=30:d=0.3333", "-c:v", "libx264", "-pix_fmt", "yuv420p", bare],
        what="a chunk without identity",
    )
    return [good.chunks[0], bare, good.chunks[2]]


def _short_video_claiming_chunk_1(good: Rendered, other: Rendered, scratch: Path) -> list[Path]:
    identity = ChunkIdentity(plan_hash=good.plan_hash, index=1, start_frame=10, end_frame=20)
    forged = scratch / "forged.mp4"
    run_ffmpeg(
        ["-f", "lavfi", "-i", "testsrc=s=320x180:r=30:d=0.1667", "-c:v", "libx264", "-pix_fmt", "yuv420p",
         "-metadata", f"{TAG_KEY}={identity.tag_value()}", forged],
        what="a short chunk with a forged identity",
    )  # fmt: skip
    return [good.chunks[0], forged, good.chunks[2]]


def _tar_rewritten(index: int, edit: Callable[[list[tuple[str, bytes]]], list[tuple[str, bytes]]]) -> Build:
    def build(good: Rendered, other: Rendered, scratch: Path) -> list[Path]:
        with tarfile.open(good.chunks[index]) as tar:
            members = [(m.name, tar.extractfile(m).read()) for m in tar.getmembers()]  # type: ignore[union-attr]
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for name, data in edit(members):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        copy = scratch / "edited.tar"
        copy.write_bytes(buffer.getvalue())
        chunks = list(good.chunks)
        chunks[index] = copy
        return chunks

    return build


def _identity_of_index_2(members: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    raw = json.loads(members[0][1])
    return [(IDENTITY_MEMBER, json.dumps({**raw, "index": 2}).encode()), *members[1:]]


VIDEO_CASES: dict[str, tuple[Build, str]] = {
    "out-of-order": (_swapped, "CHUNK_PLAN_MISMATCH"),
    "duplicated": (_duplicated, "CHUNK_PLAN_MISMATCH"),
    "another-plan": (_from_another_plan, "CHUNK_PLAN_MISMATCH"),
    "truncated-to-half": (_replaced(1, lambda data: data[: len(data) // 2]), "CHUNK_INVALID"),
    "empty": (_replaced(2, lambda data: b""), "CHUNK_INVALID"),
    "not-a-video": (_replaced(0, lambda data: b"<html>not a video</html>" * 50), "CHUNK_INVALID"),
    "no-identity": (_untagged_video, "CHUNK_INVALID"),
    "fewer-frames-than-claimed": (_short_video_claiming_chunk_1, "CHUNK_INVALID"),
}
SEQUENCE_CASES: dict[str, tuple[Build, str]] = {
    "out-of-order": (_swapped, "CHUNK_PLAN_MISMATCH"),
    "duplicated": (_duplicated, "CHUNK_PLAN_MISMATCH"),
    "another-plan": (_from_another_plan, "CHUNK_PLAN_MISMATCH"),
    "truncated-to-half": (_replaced(1, lambda data: data[: len(data) // 2]), "CHUNK_INVALID"),
    "empty": (_replaced(2, lambda data: b""), "CHUNK_INVALID"),
    "not-a-tar": (_replaced(0, lambda data: b"not a tar" * 100), "CHUNK_INVALID"),
    "no-identity": (_tar_rewritten(1, lambda members: members[1:]), "CHUNK_INVALID"),
    "frame-missing": (_tar_rewritten(1, lambda members: members[:-1]), "CHUNK_INVALID"),
    "extra-member": (_tar_rewritten(1, lambda members: [*members, ("../evil.png", b"x")]), "CHUNK_INVALID"),
    "identity-of-another-index": (_tar_rewritten(1, _identity_of_index_2), "CHUNK_PLAN_MISMATCH"),
}
CASES = [(f"mp4-{name}", "mp4", build, code) for name, (build, code) in VIDEO_CASES.items()] + [
    (f"png-{name}", "png-sequence", build, code) for name, (build, code) in SEQUENCE_CASES.items()
]


@pytest.mark.parametrize(("fmt", "build", "code"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_an_untrustworthy_chunk_is_refused_and_nothing_is_written(
    rendered: dict[str, Rendered],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fmt: str,
    build: Build,
    code: str,
) -> None:
    good, other = rendered[fmt], rendered[f"other-{fmt}"]
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    chunks = build(good, other, scratch)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / ("frames" if fmt == "png-sequence" else "final.mp4")
    watched = [good.plan_dir.parent, other.plan_dir.parent, scratch]
    before = [tree_snapshot(folder) for folder in watched]

    exit_code = main(["assemble", str(good.plan_dir), *map(str, chunks), "-o", str(out), "--plan-hash", good.plan_hash])

    captured = capsys.readouterr()
    output = captured.out + captured.err
    assert exit_code == 1, output
    assert output.startswith(f"{code}: "), output
    assert "Traceback" not in output
    assert list(out_dir.iterdir()) == [], "a refused assemble left output or a temporary file"
    assert [tree_snapshot(folder) for folder in watched] == before, "a refused assemble changed its inputs"


def test_good_chunks_still_assemble(rendered: dict[str, Rendered], tmp_path: Path) -> None:
    for fmt in ("mp4", "png-sequence"):
        good = rendered[fmt]
        out = tmp_path / ("frames" if fmt == "png-sequence" else "final.mp4")
        result = assemble(good.plan_dir, good.chunks, out, plan_hash=good.plan_hash)
        assert result.frames == 30
        if fmt == "png-sequence":
            frames = sorted(p.name for p in out.iterdir() if p.name.startswith("frame_"))
            assert frames[0] == "frame_000001.png" and len(frames) == 30
            assert (out / MARKER_NAME).is_file(), "the folder is marked as framecast's, so a re-render may replace it"


def test_a_short_joined_output_never_appears(
    rendered: dict[str, Rendered], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Chunks pass, but the joined file counts short (a muxer dropping frames): the output must not appear.
    assemble_module = importlib.import_module("app.distributed.assemble")  # the package re-exports the function
    monkeypatch.setattr(assemble_module, "probe_video", lambda path, decode=True: VideoProbe(frames=29))
    good = rendered["mp4"]
    out = tmp_path / "out" / "final.mp4"
    with pytest.raises(OutputFrameCountError, match="29 frame"):
        assemble(good.plan_dir, good.chunks, out, plan_hash=good.plan_hash)
    assert list(out.parent.iterdir()) == []
    shutil.rmtree(out.parent)
