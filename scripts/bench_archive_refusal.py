"""How long extract_archive takes to refuse an archive with more members than allowed (issue 12).

Builds a tar.gz of ``--members`` tiny files (default 100 001, one past the default cap of 100 000),
times the refusal and prints the numbers. The refusal happens in the header-only first pass, so
nothing is written before it.

    python scripts/bench_archive_refusal.py [--members N] [--cap N]
"""

from __future__ import annotations

import argparse
import gzip
import io
import tarfile
import tempfile
import time
from pathlib import Path

from app.aws.archive import extract_archive
from app.errors import UnsafeArchiveError


def build(path: Path, members: int) -> None:
    with (
        path.open("wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w") as tar,
    ):
        for index in range(members):
            info = tarfile.TarInfo(f"f{index}.txt")
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_001)
    parser.add_argument("--cap", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="framecast-bench-archive-") as folder:
        archive = Path(folder) / "many.tar.gz"
        started = time.perf_counter()
        build(archive, args.members)
        built = time.perf_counter() - started
        started = time.perf_counter()
        try:
            extract_archive(archive, Path(folder) / "project", max_bytes=2 * 1024**3, max_members=args.cap)
            outcome = "extracted (not refused)"
        except UnsafeArchiveError as exc:
            outcome = f"refused: {exc.code}"
        refused = time.perf_counter() - started
        written = sorted(p.name for p in Path(folder).iterdir() if p.name != archive.name)
    print(f"members={args.members} cap={args.cap} archive={archive.stat().st_size if archive.exists() else 0}B")
    print(f"build_seconds={built:.2f} refusal_seconds={refused:.2f} outcome={outcome} left_behind={written}")


if __name__ == "__main__":
    main()
