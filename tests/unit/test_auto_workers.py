"""`framecast render --workers auto` (the default): how many capture processes a local render uses."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from app.cli.render_cmd import parse_workers, workers_for
from app.local.pool import AUTO_MAX_WORKERS, auto_workers
from tests.support.compositions import write_composition


@pytest.mark.parametrize(
    ("frames", "width", "height", "cpus", "expected"),
    [
        (300, 1920, 1080, 2, 2),  # 10 s 1080p30 on this kind of machine: both cores
        (60, 320, 180, 2, 1),  # a 2 s thumbnail: a second browser costs more than it saves
        (30, 1920, 1080, 8, 1),  # one second of 1080p: not worth the plan and assemble steps
        (1800, 1920, 1080, 1, 1),  # one core: never more processes than cores
        (18000, 3840, 2160, 64, AUTO_MAX_WORKERS),  # a big machine: capped
        (0, 1920, 1080, 4, 1),
    ],
)
def test_auto_workers_follows_frames_size_and_cores(
    frames: int, width: int, height: int, cpus: int, expected: int
) -> None:
    assert auto_workers(frames, width, height, cpus=cpus) == expected


@pytest.mark.parametrize(("raw", "expected"), [("auto", None), ("AUTO", None), ("1", 1), ("16", 16)])
def test_workers_option_accepts_auto_or_a_count(raw: str, expected: int | None) -> None:
    assert parse_workers(raw) == expected


@pytest.mark.parametrize("raw", ["0", "17", "-2", "two", "1.5", ""])
def test_workers_option_refuses_anything_else(raw: str) -> None:
    with pytest.raises(typer.BadParameter):
        parse_workers(raw)


def test_auto_reads_the_composition_without_a_browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    big = write_composition(tmp_path / "big", id="big", width=1920, height=1080, duration=10, fps=30)
    small = write_composition(tmp_path / "small", id="small", duration=2, fps=30)
    assert workers_for(big, None) == 2
    assert workers_for(small, None) == 1
    assert workers_for(big, 1) == 1  # --fps 1: ten frames


def test_auto_falls_back_to_one_process_when_the_project_is_unreadable(tmp_path: Path) -> None:
    # The render itself then reports what is wrong with the project.
    assert workers_for(tmp_path / "missing", None) == 1
    no_duration = write_composition(tmp_path / "open-ended", id="o", duration=None)
    assert workers_for(no_duration, None) == 1
