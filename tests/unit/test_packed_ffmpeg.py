"""The image's zstd-packed ffmpeg: unpacked once into TMPDIR, atomically, with clear errors.

The Lambda image stores ffmpeg packed (FRAMECAST_FFMPEG_PACKED) to stay under its size budget; these
tests pack the host's ffmpeg the same way and check what the container relies on.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from app.engine import ffmpeg
from app.engine.scratch import sweep_stale
from app.errors import RuntimeMissingError

pytestmark = pytest.mark.skipif(shutil.which("zstd") is None, reason="the zstd command is not installed")


@pytest.fixture(scope="module")
def packed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    real = Path(ffmpeg.ffmpeg_exe())
    out = tmp_path_factory.mktemp("packed") / "ffmpeg.zst"
    # -1: fast to pack; the image uses -19, which unpacks the same way.
    subprocess.run(["zstd", "-q", "-1", "-T0", str(real), "-o", str(out)], check=True)
    return out


def test_unpacks_once_and_runs(packed: Path, tmp_path: Path) -> None:
    exe = ffmpeg.unpacked_ffmpeg(packed, into=tmp_path)
    assert exe.parent.parent == tmp_path
    assert subprocess.run([str(exe), "-hide_banner", "-version"], capture_output=True, check=False).returncode == 0
    first_inode = exe.stat().st_ino
    assert ffmpeg.unpacked_ffmpeg(packed, into=tmp_path) == exe
    assert exe.stat().st_ino == first_inode, "a second call must reuse the unpacked file"
    assert [p.name for p in exe.parent.iterdir()] == ["ffmpeg"], "no partial files are left beside it"


def test_ffmpeg_exe_follows_the_packed_variable(packed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FRAMECAST_FFMPEG", raising=False)
    monkeypatch.setenv(ffmpeg.PACKED_ENV, str(packed))
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    exe = Path(ffmpeg.ffmpeg_exe())
    assert exe.is_relative_to(tmp_path) and exe.name == "ffmpeg"


def test_a_removed_unpacked_copy_is_unpacked_again(
    packed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A CLI run's private temp folder holds the copy and is removed when the run ends.
    monkeypatch.delenv("FRAMECAST_FFMPEG", raising=False)
    monkeypatch.setenv(ffmpeg.PACKED_ENV, str(packed))
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    first = Path(ffmpeg.ffmpeg_exe())
    shutil.rmtree(first.parent)
    assert Path(ffmpeg.ffmpeg_exe()).is_file()


def test_the_stale_temp_sweep_leaves_the_unpacked_copy_alone(packed: Path, tmp_path: Path) -> None:
    exe = ffmpeg.unpacked_ffmpeg(packed, into=tmp_path)
    assert sweep_stale(tmp_path) == []
    assert exe.is_file()


def test_concurrent_first_calls_share_one_file(packed: Path, tmp_path: Path) -> None:
    results: list[Path] = []

    def unpack() -> None:
        results.append(ffmpeg.unpacked_ffmpeg(packed, into=tmp_path))

    threads = [threading.Thread(target=unpack) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1 and len(results) == 4
    assert sorted(p.name for p in results[0].parent.iterdir()) == ["ffmpeg"]


def test_a_damaged_pack_fails_clearly_and_leaves_nothing(tmp_path: Path) -> None:
    damaged = tmp_path / "ffmpeg.zst"
    damaged.write_bytes(b"\x28\xb5\x2f\xfd" + b"not really zstd" * 100)
    out = tmp_path / "out"
    with pytest.raises(RuntimeMissingError, match="could not unpack ffmpeg"):
        ffmpeg.unpacked_ffmpeg(damaged, into=out)
    assert [p for p in out.rglob("*") if p.is_file()] == []


def test_a_missing_pack_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(RuntimeMissingError, match=r"FRAMECAST_FFMPEG_PACKED=.*cannot be read"):
        ffmpeg.unpacked_ffmpeg(tmp_path / "absent.zst", into=tmp_path)


def test_without_zstd_the_error_says_what_to_install(
    packed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ffmpeg.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeMissingError, match="zstd"):
        ffmpeg.unpacked_ffmpeg(packed, into=tmp_path)


def test_a_new_pack_is_not_served_by_an_old_unpacked_file(packed: Path, tmp_path: Path) -> None:
    old = ffmpeg.unpacked_ffmpeg(packed, into=tmp_path)
    newer = tmp_path / "newer.zst"
    shutil.copyfile(packed, newer)
    with newer.open("ab") as handle:  # a different size stands in for a rebuilt image's pack
        subprocess.run(["zstd", "-q", "-c", "-"], input=b"", stdout=handle, check=True)
    assert ffmpeg.unpacked_ffmpeg(newer, into=tmp_path) != old
