"""Project tarballs: ``pack_project`` (deterministic tar.gz) and ``extract_archive`` (safe unpack).

An archive comes from whoever may write to the bucket, so extraction trusts nothing: every member is
checked before anything is written (no absolute paths, no ``..``, only regular files and folders,
no duplicates, a member count and a total size cap), then extracted with tarfile's ``data`` filter as
a second line of defence. Extraction goes into a temporary sibling of ``dest`` that is renamed into
place only when every member succeeded, so a rejected archive leaves nothing behind.
``pack_project`` is reproducible (sorted entries, zeroed times and owners), so uploading the same
project twice produces the same object.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from app.distributed.layout import SKIPPED_NAMES
from app.errors import CompositionInvalidError, UnsafeArchiveError


def _project_files(project_dir: Path) -> Iterator[tuple[str, Path]]:
    """(archive name, path) of every file to pack, sorted; links inside the project are packed as files."""
    root = project_dir.resolve()
    for current, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_NAMES)
        for name in sorted(f for f in files if f not in SKIPPED_NAMES):
            path = Path(current) / name
            # Extraction refuses links, so a link is packed as the file it points to, if that stays inside.
            if path.is_symlink() and not path.resolve().is_relative_to(root):
                raise CompositionInvalidError(
                    f"{path} is a link to {path.resolve()}, outside the project; copy the file into the project"
                )
            if path.is_file():
                yield path.relative_to(root).as_posix(), path


def pack_project(project_dir: Path, dest: Path | None = None) -> Path:
    """Write ``project_dir`` as a reproducible tar.gz (``dest`` or a new temporary file); return its path.

    Entries are sorted, with a fixed mode and zero times and owners, so the same files always give
    the same bytes (a re-upload is a no-op change).
    """
    if not (project_dir / "index.html").is_file():
        raise CompositionInvalidError(f"{project_dir} has no index.html; pass a HyperFrames project folder")
    if dest is None:
        fd, name = tempfile.mkstemp(prefix="framecast-project-", suffix=".tar.gz")
        os.close(fd)
        dest = Path(name)
    try:
        with (
            dest.open("wb") as raw,
            gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz,
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            for relative, path in _project_files(project_dir):
                info = tarfile.TarInfo(relative)
                info.size = path.stat().st_size
                info.mode = 0o644
                with path.open("rb") as source:
                    tar.addfile(info, source)
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    return dest


def _check_member(member: tarfile.TarInfo, seen: set[str]) -> str:
    """The normalised relative path of a safe member; UNSAFE_ARCHIVE naming it otherwise."""
    name = member.name
    shown = repr(name[:200])
    if member.issym() or member.islnk():
        kind = "a symbolic link" if member.issym() else "a hard link"
        raise UnsafeArchiveError(f"archive member {shown} is {kind}; links are not allowed in a project archive")
    if member.ischr() or member.isblk() or member.isfifo():
        raise UnsafeArchiveError(f"archive member {shown} is a device or FIFO; only files and folders are allowed")
    if not (member.isreg() or member.isdir()):
        raise UnsafeArchiveError(f"archive member {shown} has an unsupported type; only files and folders are allowed")
    path = PurePosixPath(name)
    if name.startswith(("/", "\\")) or path.is_absolute() or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchiveError(f"archive member {shown} has an absolute path; archive paths must be relative")
    parts = [part for part in path.parts if part not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchiveError(f"archive member {shown} climbs out of the folder with '..'")
    normalised = "/".join(parts)
    if not normalised:
        if member.isdir():
            return ""
        raise UnsafeArchiveError(f"archive member {shown} has an empty path")
    if normalised in seen and not member.isdir():
        raise UnsafeArchiveError(f"archive member {shown} appears twice; an archive must list each file once")
    seen.add(normalised)
    return normalised


def _extract_members(tar: tarfile.TarFile, tmp: Path, max_bytes: int, max_members: int) -> None:
    seen: set[str] = set()
    total = 0
    for count, member in enumerate(tar, start=1):
        if count > max_members:
            raise UnsafeArchiveError(
                f"archive has more than {max_members} members (at {member.name[:200]!r}); "
                "raise FRAMECAST_MAX_ARCHIVE_MEMBERS or slim the project"
            )
        relative = _check_member(member, seen)
        total += member.size
        if total > max_bytes:
            raise UnsafeArchiveError(
                f"archive member {member.name[:200]!r} takes the unpacked size past {max_bytes} bytes; "
                "raise FRAMECAST_MAX_ARCHIVE_BYTES or slim the project"
            )
        if not relative:
            continue
        member.name = relative
        try:
            tar.extract(member, tmp, set_attrs=False, filter="data")
        except tarfile.FilterError as exc:
            raise UnsafeArchiveError(f"archive member {relative!r} was refused: {exc}") from exc
        except (NotADirectoryError, IsADirectoryError, FileExistsError) as exc:
            raise UnsafeArchiveError(f"archive member {relative!r} clashes with another member's path") from exc


def extract_archive(archive: Path, dest: Path, max_bytes: int, max_members: int) -> Path:
    """Safely unpack the tar (optionally gzipped) ``archive`` into ``dest``, which must not exist yet.

    Raises UNSAFE_ARCHIVE naming the offending member; on any failure nothing is left at ``dest``.
    """
    if dest.exists():
        raise FileExistsError(f"{dest} already exists; extract_archive creates its destination")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.partial-", dir=dest.parent))
    try:
        # Stream mode ("r|*") reads members one by one: the caps apply before the whole archive is read.
        with archive.open("rb") as raw, tarfile.open(fileobj=raw, mode="r|*") as tar:
            _extract_members(tar, tmp, max_bytes, max_members)
        tmp.rename(dest)
    except (
        tarfile.ReadError,
        tarfile.CompressionError,
        tarfile.StreamError,
        EOFError,
        zlib.error,
        gzip.BadGzipFile,
    ) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise UnsafeArchiveError(f"{archive.name} is not a readable tar.gz archive ({exc}); upload a .tar.gz") from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest
