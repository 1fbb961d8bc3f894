"""`--workers auto` end to end: a render big enough for two processes is planned, captured in two chunks
and assembled into the same video a single process makes; a small one stays in one process."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from app.cli.main import main
from tests.support.compositions import ProjectFactory, write_motion


@pytest.fixture(scope="module")
def project(make_project: ProjectFactory) -> Path:
    return make_project("auto-workers", writer=write_motion, duration=1, fps=30)


def frames_in(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_auto_splits_a_render_that_is_worth_it(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Pretend a 1 s 320x180 render is big: the threshold is the only thing changed.
    monkeypatch.setattr("app.local.pool.AUTO_WORK_PER_WORKER", 1.0)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    out = tmp_path / "auto.mp4"
    assert main(["render", str(project), "-o", str(out), "--quality", "draft"]) == 0
    captured = capsys.readouterr()
    summary = " ".join((captured.out + captured.err).split())
    assert "in 2 chunks" in summary, summary
    assert frames_in(out) == 30


def test_auto_keeps_a_small_render_in_one_process(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "single.mp4"
    assert main(["render", str(project), "-o", str(out), "--quality", "draft"]) == 0
    captured = capsys.readouterr()
    summary = " ".join((captured.out + captured.err).split())
    assert "chunks" not in summary and "30 frames" in summary, summary
    assert frames_in(out) == 30
