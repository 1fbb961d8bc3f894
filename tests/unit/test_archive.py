"""Project archives: hostile tarballs are refused naming the member and leave nothing behind."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from app.aws.archive import extract_archive, pack_project
from app.distributed.layout import SKIPPED_NAMES
from app.errors import CompositionInvalidError, UnsafeArchiveError

MiB = 1024**2
LIMITS = {"max_bytes": 1 * MiB, "max_members": 50}


def make_tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as tar:  # type: ignore[call-overload]  # mode is a literal at every call
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def file_entry(name: str, data: bytes = b"<html></html>") -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def special_entry(name: str, kind: bytes, linkname: str = "") -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info, None


def assert_nothing_left(parent: Path) -> None:
    assert list(parent.iterdir()) == [], f"left behind: {sorted(p.name for p in parent.iterdir())}"


HOSTILE: dict[str, tuple[list[tuple[tarfile.TarInfo, bytes | None]], str]] = {
    "parent-dir entry": ([file_entry("index.html"), file_entry("../evil.txt")], "'../evil.txt'"),
    "nested parent-dir entry": ([file_entry("assets/../../evil.txt")], "climbs out"),
    "absolute path": ([file_entry("index.html"), file_entry("/etc/cron.d/evil")], "absolute path"),
    "symlink": ([file_entry("index.html"), special_entry("link", tarfile.SYMTYPE, "/etc/passwd")], "symbolic link"),
    "relative symlink": ([special_entry("assets", tarfile.SYMTYPE, ".."), file_entry("assets/x")], "symbolic link"),
    "hardlink": ([file_entry("index.html"), special_entry("hard", tarfile.LNKTYPE, "index.html")], "hard link"),
    "character device": ([file_entry("index.html"), special_entry("tty", tarfile.CHRTYPE)], "device or FIFO"),
    "block device": ([special_entry("disk", tarfile.BLKTYPE)], "device or FIFO"),
    "fifo": ([file_entry("index.html"), special_entry("pipe", tarfile.FIFOTYPE)], "device or FIFO"),
    "duplicate file": ([file_entry("index.html"), file_entry("./index.html", b"other")], "appears twice"),
    "oversize": ([file_entry("index.html"), file_entry("big.bin", b"\0" * (LIMITS["max_bytes"] + 1))], "'big.bin'"),
    "too many members": ([file_entry(f"f{i}.txt", b"x") for i in range(LIMITS["max_members"] + 1)], "more than 50"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_archives_are_refused_and_leave_dest_untouched(tmp_path: Path, case: str) -> None:
    members, expected = HOSTILE[case]
    archive = make_tar(tmp_path / "project.tar.gz", members)
    parent = tmp_path / "work"
    parent.mkdir()
    with pytest.raises(UnsafeArchiveError) as caught:
        extract_archive(archive, parent / "project", **LIMITS)
    assert expected in caught.value.message
    assert caught.value.code == "UNSAFE_ARCHIVE"
    assert_nothing_left(parent)
    assert not (tmp_path / "evil.txt").exists()


def test_an_unreadable_archive_is_unsafe(tmp_path: Path) -> None:
    archive = tmp_path / "project.tar.gz"
    archive.write_bytes(b"this is not a tarball at all" * 100)
    parent = tmp_path / "work"
    parent.mkdir()
    with pytest.raises(UnsafeArchiveError, match=r"not a readable tar\.gz"):
        extract_archive(archive, parent / "project", **LIMITS)
    assert_nothing_left(parent)


def test_a_truncated_archive_leaves_nothing(tmp_path: Path) -> None:
    whole = make_tar(tmp_path / "whole.tar.gz", [file_entry("index.html", bytes(range(256)) * 2000)])
    archive = tmp_path / "cut.tar.gz"
    archive.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    parent = tmp_path / "work"
    parent.mkdir()
    with pytest.raises(UnsafeArchiveError):
        extract_archive(archive, parent / "project", **LIMITS)
    assert_nothing_left(parent)


def test_a_good_archive_round_trips(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "assets" / "fonts").mkdir(parents=True)
    (project / "index.html").write_text("<div id='root'></div>")
    (project / "assets" / "logo.svg").write_text("<svg/>")
    (project / "assets" / "fonts" / "a.woff2").write_bytes(bytes(range(256)))
    archive = pack_project(project, tmp_path / "p.tar.gz")
    out = extract_archive(archive, tmp_path / "work" / "project", **LIMITS)
    assert out == tmp_path / "work" / "project"
    assert tree(out) == tree(project)
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["project"]  # no temporary sibling left


def test_plain_uncompressed_tar_and_dot_slash_names_are_accepted(tmp_path: Path) -> None:
    info = tarfile.TarInfo("./assets")
    info.type = tarfile.DIRTYPE
    archive = make_tar(tmp_path / "p.tar", [(info, None), file_entry("./assets/a.txt", b"a")], mode="w")
    out = extract_archive(archive, tmp_path / "dest", **LIMITS)
    assert (out / "assets" / "a.txt").read_bytes() == b"a"


def test_extract_refuses_an_existing_destination(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "p.tar.gz", [file_entry("index.html")])
    (tmp_path / "dest").mkdir()
    with pytest.raises(FileExistsError):
        extract_archive(archive, tmp_path / "dest", **LIMITS)


def test_pack_project_skips_build_and_vcs_folders(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "index.html").write_text("<html></html>")
    for skipped in ("node_modules", ".git", "out", "output", "dist", "__pycache__", ".cache"):
        (project / skipped).mkdir()
        (project / skipped / "junk.js").write_text("junk")
    (project / "assets").mkdir()
    (project / "assets" / "node_modules").mkdir()  # skipped at any depth
    (project / "assets" / "node_modules" / "x.js").write_text("x")
    (project / "assets" / "keep.css").write_text("body{}")
    with tarfile.open(pack_project(project, tmp_path / "p.tar.gz")) as tar:
        names = tar.getnames()
    assert sorted(names) == ["assets/keep.css", "index.html"]
    assert {"node_modules", ".git", "out", "output", "dist"} <= SKIPPED_NAMES  # the one list plan also uses


def test_pack_project_is_reproducible_and_packs_inner_symlinks_as_files(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "index.html").write_text("<html></html>")
    (project / "real.css").write_text("body{}")
    (project / "alias.css").symlink_to(project / "real.css")
    first = pack_project(project, tmp_path / "a.tar.gz")
    second = pack_project(project, tmp_path / "b.tar.gz")
    assert digest(first) == digest(second)
    with tarfile.open(first) as tar:
        assert tar.getnames() == ["alias.css", "index.html", "real.css"]
        assert all(member.isfile() and member.mtime == 0 for member in tar.getmembers())


def test_pack_project_refuses_a_link_leaving_the_project(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "index.html").write_text("<html></html>")
    (tmp_path / "secret.txt").write_text("outside")
    (project / "leak.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(CompositionInvalidError, match="outside the project"):
        pack_project(project, tmp_path / "p.tar.gz")
    assert not (tmp_path / "p.tar.gz").exists()


def test_pack_project_needs_an_index_html(tmp_path: Path) -> None:
    with pytest.raises(CompositionInvalidError, match=r"index\.html"):
        pack_project(tmp_path)


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("case", ["parent-dir entry", "absolute path", "symlink", "character device"])
def test_without_tarfile_filters_as_on_python_3_11_2_archives_still_extract_safely(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    # Debian bookworm's python3 (the Lambda image's) predates tarfile.data_filter / FilterError (3.11.4).
    import app.aws.archive as archive_module

    monkeypatch.setattr(archive_module, "_DATA_FILTER", {})
    monkeypatch.setattr(archive_module, "_FILTER_ERRORS", ())
    good = make_tar(tmp_path / "good.tar.gz", [file_entry("index.html"), file_entry("assets/a.css", b"a{}")])
    out = extract_archive(good, tmp_path / "good", **LIMITS)
    assert (out / "assets" / "a.css").read_bytes() == b"a{}"
    members, expected = HOSTILE[case]
    parent = tmp_path / "work"
    parent.mkdir()
    with pytest.raises(UnsafeArchiveError, match=expected.replace(".", r"\.")):
        extract_archive(make_tar(tmp_path / "bad.tar.gz", members), parent / "project", **LIMITS)
    assert_nothing_left(parent)
