#!/usr/bin/env python3
"""Pick one CI shard's test files: every test file, sorted by path, dealt round robin.

    select_shard.py [--shard K] [--shards N] [ROOT ...]            print shard K's files, one a line
    select_shard.py --run [--shard K] [--shards N] [ROOT ...] [-- PYTEST_ARGS]
                                                                     exec python -m pytest on them

K and N default to the environment variables SHARD and SHARDS (0 and 1: everything), ROOT to
``tests``. File i of the sorted list goes to shard i mod N, so the shards partition the suite and the
same tree always gives the same split on every machine. Exit status: 0, 2 for bad arguments, and with
``--run`` 5 (pytest's "no tests collected") when the shard is empty, rather than letting a bare
``pytest`` fall back to running the whole suite.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

EXIT_USAGE = 2
EXIT_NO_TESTS = 5  # pytest.ExitCode.NO_TESTS_COLLECTED
SKIPPED_DIRS = frozenset({"__pycache__", "node_modules"})


def is_test_file(path: Path) -> bool:
    """pytest's default ``python_files``: test_*.py and *_test.py."""
    return path.suffix == ".py" and (path.name.startswith("test_") or path.stem.endswith("_test"))


def discover(roots: Sequence[Path], base: Path) -> list[str]:
    """Test files under ``roots`` as POSIX paths relative to ``base``, sorted, without duplicates."""
    found: set[str] = set()
    for root in roots:
        absolute = root if root.is_absolute() else base / root
        if absolute.is_file():
            candidates = [absolute]
        else:
            candidates = [p for p in absolute.rglob("*.py") if not _in_skipped_dir(p, absolute)]
        for path in candidates:
            if is_test_file(path):
                found.add(path.relative_to(base).as_posix())
    return sorted(found)


def _in_skipped_dir(path: Path, root: Path) -> bool:
    parts = path.relative_to(root).parts[:-1]
    return any(part in SKIPPED_DIRS or part.startswith(".") for part in parts)


def select(files: Sequence[str], shard: int, shards: int) -> list[str]:
    """Shard ``shard`` of ``shards`` over ``files`` sorted by path: every ``shards``-th file."""
    if shards < 1:
        raise ValueError(f"shard count {shards} must be at least 1")
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} out of range [0, {shards}); use 0..{shards - 1}")
    return sorted(files)[shard::shards]


def pytest_argv(files: Sequence[str], pytest_args: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "pytest", *pytest_args, *files]


def _env_int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"environment variable {name}={raw!r} is not an integer") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Print or run one CI shard of the test files.")
    parser.add_argument("--shard", type=int, help="this shard's index, 0-based (default: $SHARD or 0)")
    parser.add_argument("--shards", type=int, help="number of shards (default: $SHARDS or 1)")
    parser.add_argument("--run", action="store_true", help="exec python -m pytest on the shard's files")
    parser.add_argument("roots", nargs="*", type=Path, help="directories or files to take tests from")
    return parser


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    env = os.environ if environ is None else environ
    # Everything after "--" belongs to pytest; split it off before argparse sees it.
    pytest_args: list[str] = []
    if "--" in args_in:
        cut = args_in.index("--")
        args_in, pytest_args = args_in[:cut], args_in[cut + 1 :]
    args = _parser().parse_args(args_in)

    try:
        shard = args.shard if args.shard is not None else _env_int(env, "SHARD", 0)
        shards = args.shards if args.shards is not None else _env_int(env, "SHARDS", 1)
        files = select(discover(args.roots or [Path("tests")], Path.cwd()), shard, shards)
    except ValueError as exc:
        print(f"select_shard: {exc}", file=sys.stderr)
        return EXIT_USAGE

    if not args.run:
        for name in files:
            print(name)
        return 0
    if not files:
        print(f"select_shard: shard {shard} of {shards} has no test files", file=sys.stderr)
        return EXIT_NO_TESTS
    print(f"select_shard: shard {shard} of {shards}: {len(files)} test files", file=sys.stderr, flush=True)
    command = pytest_argv(files, pytest_args)
    os.execv(command[0], command)
    return 0  # not reached: execv replaces this process


if __name__ == "__main__":
    sys.exit(main())
