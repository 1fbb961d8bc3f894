"""Output paths that would destroy data are refused before anything starts (issue 12, class 1).

Each case points an output at something it must never replace: the project's own page, the project
folder (directly or through a symlink), a folder that holds the project, a folder of someone else's
files, a FIFO (a stand-in for /dev/null: a non-regular file), a file path that is a folder, a folder
that cannot be written. Every writer is tried: ``render`` (single and chunked), ``plan`` and ``chunk``.
Each must exit 2 with OUTPUT_PATH_UNSAFE before a browser launches (launching one fails the test),
leave the project and everything around it byte-identical, and leave no temporary folder.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from app.cli.main import main
from app.engine import output_path
from tests.support.compositions import ProjectFactory, write_motion
from tests.support.tree import tree_snapshot

ERROR_LINE = re.compile(r"^([A-Z][A-Z_]+): (.+)$", re.MULTILINE)

Case = Callable[[Path, Path], list[str]]  # (scratch folder, project) -> argv


def own_index_html(tmp: Path, project: Path) -> list[str]:
    return ["render", str(project), "-o", str(project / "index.html")]


def own_index_html_chunked(tmp: Path, project: Path) -> list[str]:
    return ["render", str(project), "--chunks", "2", "-o", str(project / "index.html")]


def project_folder_as_sequence(tmp: Path, project: Path) -> list[str]:
    return ["render", str(project), "--format", "png-sequence", "-o", str(project)]


def project_folder_even_with_force(tmp: Path, project: Path) -> list[str]:
    return ["render", str(project), "--format", "png-sequence", "-o", str(project), "--force"]


def folder_holding_the_project(tmp: Path, project: Path) -> list[str]:
    return ["render", str(project), "--format", "png-sequence", "-o", str(project.parent)]


def symlink_to_project(tmp: Path, project: Path) -> list[str]:
    (tmp / "link").symlink_to(project, target_is_directory=True)
    return ["render", str(project), "--format", "png-sequence", "-o", str(tmp / "link")]


def folder_with_other_files(tmp: Path, project: Path) -> list[str]:
    (tmp / "holiday").mkdir()
    (tmp / "holiday" / "notes.txt").write_text("keep me")
    (tmp / "holiday" / "frame_000001.png").write_bytes(b"not ours")
    return ["render", str(project), "--format", "png-sequence", "-o", str(tmp / "holiday")]


def fifo(tmp: Path, project: Path) -> list[str]:
    os.mkfifo(tmp / "pipe.mp4")
    return ["render", str(project), "-o", str(tmp / "pipe.mp4")]


def symlink_to_fifo(tmp: Path, project: Path) -> list[str]:
    os.mkfifo(tmp / "pipe")
    (tmp / "video.mp4").symlink_to(tmp / "pipe")
    return ["render", str(project), "-o", str(tmp / "video.mp4")]


def file_output_onto_folder(tmp: Path, project: Path) -> list[str]:
    (tmp / "renders").mkdir()
    return ["render", str(project), "-o", str(tmp / "renders")]


def sequence_onto_file(tmp: Path, project: Path) -> list[str]:
    (tmp / "frames").write_bytes(b"a file, not a folder")
    return ["render", str(project), "--format", "png-sequence", "-o", str(tmp / "frames")]


def unwritable_parent(tmp: Path, project: Path) -> list[str]:
    if not Path("/proc/self").is_dir():
        pytest.skip("needs /proc, a folder nobody (not even root) can create files in")
    return ["render", str(project), "-o", "/proc/self/video.mp4"]


def plan_into_project(tmp: Path, project: Path) -> list[str]:
    return ["plan", str(project), str(project)]


def plan_over_other_files(tmp: Path, project: Path) -> list[str]:
    (tmp / "work").mkdir()
    (tmp / "work" / "thesis.tex").write_text("years of work")
    return ["plan", str(project), str(tmp / "work")]


def chunk_into_plan(tmp: Path, project: Path) -> list[str]:
    return ["chunk", str(tmp / "plan"), "0", "-o", str(tmp / "plan" / "meta")]


CASES: dict[str, Case] = {
    "own-index-html": own_index_html,
    "own-index-html-chunked": own_index_html_chunked,
    "project-folder-as-png-sequence": project_folder_as_sequence,
    "project-folder-even-with-force": project_folder_even_with_force,
    "folder-holding-the-project": folder_holding_the_project,
    "symlink-to-project": symlink_to_project,
    "folder-with-other-files": folder_with_other_files,
    "fifo": fifo,
    "symlink-to-fifo": symlink_to_fifo,
    "file-output-onto-folder": file_output_onto_folder,
    "png-sequence-onto-file": sequence_onto_file,
    "unwritable-parent": unwritable_parent,
    "plan-into-project": plan_into_project,
    "plan-over-other-files": plan_over_other_files,
    "chunk-into-plan": chunk_into_plan,
}


@pytest.fixture
def private_tmpdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "tmpdir"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def no_browser(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a browser was launched before the output path was checked")

    monkeypatch.setattr("app.engine.render.acquire_browser", refuse)


@pytest.mark.usefixtures("no_browser")
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_an_output_that_would_destroy_data_is_refused_before_the_render_and_touches_nothing(
    make_project: ProjectFactory,
    tmp_path: Path,
    private_tmpdir: Path,
    capsys: pytest.CaptureFixture[str],
    case: Case,
) -> None:
    project = make_project("hostile-output", writer=write_motion, duration=1, fps=30)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    argv = case(scratch, project)
    before = (tree_snapshot(project.parent), tree_snapshot(scratch))

    code = main(argv)

    output = capsys.readouterr().err
    assert code == 2, output
    found = ERROR_LINE.search(output)
    assert found and found.group(1) == "OUTPUT_PATH_UNSAFE", output
    assert "Traceback" not in output
    assert (tree_snapshot(project.parent), tree_snapshot(scratch)) == before, "something was touched"
    assert list(private_tmpdir.iterdir()) == [], "a temporary folder was left"


@pytest.mark.parametrize(
    ("entries", "replaceable"),
    [
        ([], True),
        (["frame_000001.png", "frame_000002.png", "audio.m4a"], True),
        ([output_path.MARKER_NAME, "anything.txt"], True),
        (["frame_000001.png", "notes.txt"], False),
        (["index.html"], False),
        (["frame_1.png"], False),
    ],
    ids=["empty", "only-frames-and-audio", "marked", "frames-and-a-note", "a-project", "foreign-frame-name"],
)
def test_only_a_previous_sequence_output_counts_as_replaceable(
    tmp_path: Path, entries: list[str], replaceable: bool
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    for name in entries:
        (folder / name).write_bytes(b"x")
    assert output_path.is_framecast_output(folder) is replaceable
    if replaceable:
        assert output_path.check_output(folder, kind="folder") == folder.resolve()
    else:
        with pytest.raises(output_path.OutputPathUnsafeError, match="--force"):
            output_path.check_output(folder, kind="folder")
        assert output_path.check_output(folder, kind="folder", force=True) == folder.resolve()


@pytest.mark.chrome
def test_force_replaces_a_foreign_folder_and_the_marked_result_is_replaced_again_without_it(
    make_project: ProjectFactory, tmp_path: Path, private_tmpdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project("hostile-output-force", writer=write_motion, duration=1, fps=30)
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "notes.txt").write_text("replace me, I said --force")
    argv = ["render", str(project), "--format", "png-sequence", "-o", str(frames), "--quality", "draft"]

    assert main([*argv, "--force"]) == 0, capsys.readouterr().err
    assert not (frames / "notes.txt").exists()
    assert (frames / output_path.MARKER_NAME).is_file()
    assert main(argv) == 0, capsys.readouterr().err  # a marked folder needs no --force
    assert len(list(frames.glob("frame_*.png"))) == 30
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert list(private_tmpdir.iterdir()) == []
