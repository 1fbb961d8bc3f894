"""scripts/select_shard.py: CI shards partition the test files deterministically."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "select_shard.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("select_shard", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


select_shard = _load()


def _tree(root: Path, names: list[str]) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")


@pytest.fixture
def suite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    _tree(
        tmp_path,
        [
            "tests/unit/test_b.py",
            "tests/unit/test_a.py",
            "tests/unit/helpers.py",
            "tests/unit/conftest.py",
            "tests/integration/test_c.py",
            "tests/functional/render_test.py",
            "tests/unit/__pycache__/test_stale.py",
            "tests/.hidden/test_hidden.py",
            "tests/fixtures/test_data.json",
        ],
    )
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_discover_finds_pytest_test_files_sorted_and_skips_caches(suite: Path) -> None:
    assert select_shard.discover([Path("tests")], suite) == [
        "tests/functional/render_test.py",
        "tests/integration/test_c.py",
        "tests/unit/test_a.py",
        "tests/unit/test_b.py",
    ]


def test_discover_accepts_files_and_overlapping_roots_without_duplicates(suite: Path) -> None:
    found = select_shard.discover([Path("tests/unit"), Path("tests/unit/test_a.py")], suite)
    assert found == ["tests/unit/test_a.py", "tests/unit/test_b.py"]


def test_select_deals_sorted_files_round_robin() -> None:
    files = ["e", "a", "d", "b", "c"]
    assert select_shard.select(files, 0, 2) == ["a", "c", "e"]
    assert select_shard.select(files, 1, 2) == ["b", "d"]


@pytest.mark.parametrize("shards", [1, 2, 3, 4, 7])
def test_shards_partition_the_files(shards: int) -> None:
    files = [f"tests/t{i:02d}/test_x.py" for i in range(23)]
    picked = [select_shard.select(files, k, shards) for k in range(shards)]
    flat = [name for shard in picked for name in shard]
    assert sorted(flat) == sorted(files)
    assert len(flat) == len(set(flat))
    assert max(map(len, picked)) - min(map(len, picked)) <= 1


def test_select_ignores_input_order() -> None:
    files = [f"f{i}" for i in range(10)]
    assert select_shard.select(files, 1, 3) == select_shard.select(list(reversed(files)), 1, 3)


@pytest.mark.parametrize(("shard", "shards"), [(4, 4), (-1, 4), (0, 0)])
def test_select_rejects_out_of_range(shard: int, shards: int) -> None:
    with pytest.raises(ValueError, match="shard"):
        select_shard.select(["a"], shard, shards)


def test_main_prints_the_shard_taking_defaults_from_the_environment(
    suite: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert select_shard.main([], {"SHARD": "1", "SHARDS": "2"}) == 0
    assert capsys.readouterr().out.splitlines() == [
        "tests/integration/test_c.py",
        "tests/unit/test_b.py",
    ]


def test_main_flags_override_the_environment(suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert select_shard.main(["--shard", "0", "--shards", "4"], {"SHARD": "3", "SHARDS": "9"}) == 0
    assert capsys.readouterr().out.splitlines() == ["tests/functional/render_test.py"]


def test_main_without_shard_settings_selects_everything(suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert select_shard.main([], {}) == 0
    assert len(capsys.readouterr().out.splitlines()) == 4


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        ([], {"SHARD": "x", "SHARDS": "4"}, "SHARD='x' is not an integer"),
        (["--shard", "4", "--shards", "4"], {}, "shard 4 out of range [0, 4)"),
        (["--shards", "0"], {}, "must be at least 1"),
    ],
)
def test_main_reports_bad_settings_with_exit_2(
    suite: Path, capsys: pytest.CaptureFixture[str], argv: list[str], env: dict[str, str], message: str
) -> None:
    assert select_shard.main(argv, env) == 2
    assert message in capsys.readouterr().err


def test_run_on_an_empty_shard_exits_5_instead_of_running_everything(
    suite: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert select_shard.main(["--run", "--shard", "5", "--shards", "6"], {}) == 5
    assert "has no test files" in capsys.readouterr().err


def test_run_execs_pytest_with_the_args_after_the_separator(suite: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(select_shard.os, "execv", lambda path, argv: calls.append((path, argv)))

    select_shard.main(["--run", "--shard", "1", "--shards", "2", "--", "-n", "2", "-q"], {})

    assert calls == [
        (
            sys.executable,
            [
                sys.executable,
                "-m",
                "pytest",
                "-n",
                "2",
                "-q",
                "tests/integration/test_c.py",
                "tests/unit/test_b.py",
            ],
        )
    ]


def test_script_runs_as_a_command(suite: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--shard", "0", "--shards", "2", "tests"],
        cwd=suite,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.stdout.splitlines() == ["tests/functional/render_test.py", "tests/unit/test_a.py"]


def test_the_real_suite_splits_into_four_non_empty_shards() -> None:
    files = select_shard.discover([Path("tests")], REPO_ROOT)
    assert str(Path(__file__).relative_to(REPO_ROOT).as_posix()) in files
    if len(files) >= 4:
        assert all(select_shard.select(files, k, 4) for k in range(4))
