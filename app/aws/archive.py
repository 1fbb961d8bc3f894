"""Project tarballs: ``pack_project`` (deterministic tar.gz) and ``extract_archive`` (safe unpack).

An archive comes from whoever may write to the bucket, so extraction trusts nothing: every member is
checked before anything is written (no absolute paths, no ``..``, only regular files and folders,
no duplicates, names, paths and depth the file system can hold, a member count and a total size
cap): a first pass reads only the headers, so an oversized archive is refused in seconds, before
any file is written; the second pass extracts with tarfile's ``data`` filter as
a second line of defence. Extraction goes into a temporary sibling of ``dest`` that is renamed into
place only when every member succeeded, so a rejected archive leaves nothing behind.
``pack_project`` is reproducible (sorted entries, zeroed times and owners), so uploading the same
project twice produces the same object.
"""

from __future__ import annotations

import errno
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

# tarfile's extraction filters arrived in Python 3.11.4, and Debian bookworm's python3 (the image's) is
# 3.11.2. _check_member already refuses everything the "data" filter would (links, devices, absolute
# paths, "..") and set_attrs=False drops modes and owners, so the filter is a second guard where it exists.
_DATA_FILTER: dict[str, str] = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
_FILTER_ERRORS: tuple[type[Exception], ...] = (tarfile.FilterError,) if hasattr(tarfile, "FilterError") else ()

MAX_NAME_BYTES = 255  # one path component (NAME_MAX on Linux file systems)
MAX_PATH_CHARS = 1024  # well below PATH_MAX once the work folder is prepended
MAX_DEPTH = 64
_STREAM_BUFFER = 1 << 20  # tarfile's default 10 KiB reads make a header-only pass needlessly slow
# Errors the file system raises for a member's own path: the archive's fault, never worth a retry.
_PATH_ERRNOS = frozenset({errno.ENAMETOOLONG, errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.EINVAL, errno.EILSEQ})


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
    if len(name) > MAX_PATH_CHARS or len(parts) > MAX_DEPTH:
        raise UnsafeArchiveError(
            f"archive member {shown} has a path of {len(name)} characters and {len(parts)} levels; "
            f"keep paths under {MAX_PATH_CHARS} characters and {MAX_DEPTH} levels"
        )
    if any(len(part.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES for part in parts):
        raise UnsafeArchiveError(
            f"archive member {shown} has a file or folder name longer than {MAX_NAME_BYTES} bytes; shorten it"
        )
    normalised = "/".join(parts)
    if not normalised:
        if member.isdir():
            return ""
        raise UnsafeArchiveError(f"archive member {shown} has an empty path")
    if normalised in seen and not member.isdir():
        raise UnsafeArchiveError(f"archive member {shown} appears twice; an archive must list each file once")
    seen.add(normalised)
    return normalised


def _checked_members(tar: tarfile.TarFile, max_bytes: int, max_members: int) -> Iterator[tuple[tarfile.TarInfo, str]]:
    """Each member with its safe relative path, refusing the archive at the first member over a cap."""
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
        yield member, relative


def _extract_members(tar: tarfile.TarFile, tmp: Path, max_bytes: int, max_members: int) -> None:
    for member, relative in _checked_members(tar, max_bytes, max_members):
        if not relative:
            continue
        member.name = relative
        try:
            tar.extract(member, tmp, set_attrs=False, **_DATA_FILTER)  # type: ignore[arg-type]
        except _FILTER_ERRORS as exc:
            raise UnsafeArchiveError(f"archive member {relative!r} was refused: {exc}") from exc
        except (NotADirectoryError, IsADirectoryError, FileExistsError) as exc:
            raise UnsafeArchiveError(f"archive member {relative!r} clashes with another member's path") from exc
        except OSError as exc:
            if exc.errno not in _PATH_ERRNOS:
                raise
            raise UnsafeArchiveError(f"archive member {relative[:200]!r} cannot be written: {exc.strerror}") from exc


def extract_archive(archive: Path, dest: Path, max_bytes: int, max_members: int) -> Path:
    """Safely unpack the tar (optionally gzipped) ``archive`` into ``dest``, which must not exist yet.

    Raises UNSAFE_ARCHIVE naming the offending member; on any failure nothing is left at ``dest``.
    """
    if dest.exists():
        raise FileExistsError(f"{dest} already exists; extract_archive creates its destination")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.partial-", dir=dest.parent))
    try:
        # Stream mode ("r|*") reads members one by one. Pass 1 reads headers only (data is skipped), so
        # the caps refuse a huge archive before a single file is written; pass 2 extracts.
        with archive.open("rb") as raw, tarfile.open(fileobj=raw, mode="r|*", bufsize=_STREAM_BUFFER) as tar:
            for _ in _checked_members(tar, max_bytes, max_members):
                pass
        with archive.open("rb") as raw, tarfile.open(fileobj=raw, mode="r|*", bufsize=_STREAM_BUFFER) as tar:
            _extract_members(tar, tmp, max_bytes, max_members)
        tmp.rename(dest)
    except (
        tarfile.ReadError,
        tarfile.CompressionError,
        tarfile.StreamError,
        EOFError,
        zlib.error,
        gzip.BadGzipFile,
        RecursionError,
    ) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise UnsafeArchiveError(f"{archive.name} is not a readable tar.gz archive ({exc}); upload a .tar.gz") from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest
