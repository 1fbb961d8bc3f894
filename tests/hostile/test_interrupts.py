"""Ctrl-C and SIGTERM mid-render cancel cleanly (issue 12, class 3).

Each case runs the installed CLI as a subprocess with a private TMPDIR on a small render, waits until
the render is at the stage under test (capturing, writing PNG frames, the final mux, chunks in worker
processes), records the whole process tree below it, and signals it. It must exit 130 (SIGINT) or
143 (SIGTERM) saying the render was cancelled, without a traceback; leave no temporary folder, no
partial output and no hidden staging file; leave the project untouched; and no process of that tree
(ffmpeg, Chrome, the Playwright driver, pool workers) may survive it. A process killed outright
(SIGKILL) cannot clean up: the next run must sweep what it left in the temp folder.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from app.cli.interrupts import descendants
from app.engine import scratch
from app.engine.ffmpeg import ffmpeg_exe
from tests.support.compositions import ProjectFactory, write_motion
from tests.support.tree import tree_snapshot

pytestmark = pytest.mark.chrome

STAGE_TIMEOUT_S = 90.0


@dataclass
class Run:
    """One CLI process under test, and where it writes."""

    proc: subprocess.Popen[str]
    tmpdir: Path
    out: Path
    tree: list[int] = field(default_factory=list)

    def commands(self) -> list[str]:
        return [_cmdline(pid) for pid in descendants(self.proc.pid)]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's bookkeeping is left


def survivors_after_grace(pids: list[int], grace_s: float = 5.0) -> list[tuple[int, str, str]]:
    """Processes of ``pids`` still alive after ``grace_s``: multiprocessing's resource tracker is left to
    exit by itself when its parent has gone, which takes a moment; anything else was killed already."""
    deadline = time.monotonic() + grace_s
    while True:
        alive = [(pid, _cmdline(pid), _status(pid)) for pid in pids if _alive(pid)]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def _status(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("\n", 3)[2]
    except (OSError, IndexError):
        return ""


def capturing_video(run: Run) -> bool:
    commands = run.commands()
    return any("image2pipe" in c for c in commands) and any("chrom" in c for c in commands)


def writing_frames(run: Run) -> bool:
    return any(
        p.name.startswith(f".{run.out.name}.partial-") and any(p.glob("*.png")) for p in run.out.parent.iterdir()
    )


def final_mux(run: Run) -> bool:
    return any(p.name.startswith(f".{run.out.stem}.tmp-") for p in run.out.parent.iterdir())


def chunks_in_workers(run: Run) -> bool:
    return sum("chrom" in c and "--type=" not in c for c in run.commands()) >= 2


@dataclass(frozen=True)
class Case:
    signum: int
    options: list[str]
    output: str
    stage: Callable[[Run], bool]
    slow_mux: bool = False
    whole_group: bool = False  # what a terminal's Ctrl-C does: every process of the job gets the signal


CASES = {
    "sigint-while-capturing": Case(signal.SIGINT, [], "video.mp4", capturing_video),
    "sigterm-while-capturing": Case(signal.SIGTERM, [], "video.mp4", capturing_video),
    "sigterm-while-writing-png-frames": Case(signal.SIGTERM, ["--format", "png-sequence"], "frames", writing_frames),
    "sigint-during-the-final-mux": Case(signal.SIGINT, [], "video.mp4", final_mux, slow_mux=True),
    "sigterm-during-the-final-mux": Case(signal.SIGTERM, [], "video.mp4", final_mux, slow_mux=True),
    "sigterm-with-worker-processes": Case(signal.SIGTERM, ["--workers", "2"], "video.mp4", chunks_in_workers),
    "terminal-ctrl-c-with-worker-processes": Case(
        signal.SIGINT, ["--workers", "2"], "video.mp4", chunks_in_workers, whole_group=True
    ),
}


def framecast_command() -> list[str]:
    executable = shutil.which("framecast")
    return [executable] if executable else [sys.executable, "-m", "app.cli.main"]


def slow_mux_ffmpeg(folder: Path) -> Path:
    """An ffmpeg that, when writing a hidden ``.tmp-`` file (the final mux), finishes it and then waits."""
    script = folder / "ffmpeg-slow-mux"
    script.write_text(
        f'#!/bin/sh\n"{ffmpeg_exe()}" "$@"\nstatus=$?\ncase "$*" in *.tmp-*) sleep 120 ;; esac\nexit $status\n'
    )
    script.chmod(0o755)
    return script


def start(project: Path, tmp_path: Path, case: Case) -> Run:
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    out = tmp_path / "out" / case.output
    env = dict(os.environ, TMPDIR=str(tmpdir))
    if case.slow_mux:
        env["FRAMECAST_FFMPEG"] = str(slow_mux_ffmpeg(tmp_path))
    argv = [*framecast_command(), "render", str(project), "-o", str(out), "--quality", "draft", *case.options]
    proc = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=case.whole_group
    )
    return Run(proc, tmpdir, out)


def wait_for_stage(run: Run, stage: Callable[[Run], bool]) -> None:
    deadline = time.monotonic() + STAGE_TIMEOUT_S
    while time.monotonic() < deadline:
        if run.proc.poll() is not None:
            pytest.fail(f"the render ended (exit {run.proc.returncode}) before the stage under test")
        if run.out.parent.exists() and stage(run):
            return
        time.sleep(0.02)
    pytest.fail("the render never reached the stage under test")


def stop(run: Run) -> None:
    """Test clean-up: whatever the outcome, leave no process of this run behind."""
    if run.proc.poll() is None:
        run.proc.kill()
        run.proc.wait()
    for pid in run.tree:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def project(make_project: ProjectFactory) -> Path:
    return make_project("hostile-interrupt", writer=write_motion, duration=3, fps=30)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_signal_mid_render_cancels_cleans_up_and_stops_every_child(project: Path, tmp_path: Path, case: Case) -> None:
    before = tree_snapshot(project)
    run = start(project, tmp_path, case)
    try:
        wait_for_stage(run, case.stage)
        run.tree = descendants(run.proc.pid)
        assert run.tree, "the render should have child processes (ffmpeg, Chrome) at this stage"
        if case.whole_group:
            os.killpg(run.proc.pid, case.signum)
        else:
            run.proc.send_signal(case.signum)
        _, stderr = run.proc.communicate(timeout=60)
    finally:
        stop(run)

    assert run.proc.returncode == 128 + case.signum, stderr
    assert "cancelled" in stderr and ("SIGINT" if case.signum == signal.SIGINT else "SIGTERM") in stderr, stderr
    assert "Traceback" not in stderr
    assert list(run.tmpdir.iterdir()) == [], "a temporary folder was left"
    assert list(run.out.parent.iterdir()) == [], "a partial output or hidden staging file was left"
    assert tree_snapshot(project) == before
    assert survivors_after_grace(run.tree) == [], "child processes outlived the cancelled render"


def test_the_next_run_sweeps_what_a_killed_render_left_and_keeps_live_ones(project: Path, tmp_path: Path) -> None:
    run = start(project, tmp_path, CASES["sigterm-while-capturing"])
    try:
        wait_for_stage(run, capturing_video)
        run.tree = descendants(run.proc.pid)
        run.proc.kill()  # SIGKILL: no handler runs, nothing is cleaned up
        run.proc.wait(timeout=30)
    finally:
        stop(run)
    left = [p.name for p in run.tmpdir.iterdir()]
    assert any(name.startswith(f"framecast-run-{run.proc.pid}-") for name in left), left
    live = run.tmpdir / f"framecast-render-{os.getpid()}-keepme"  # this test process is alive
    live.mkdir()

    env = dict(os.environ, TMPDIR=str(run.tmpdir))
    later = subprocess.run(
        [*framecast_command(), "render", str(tmp_path / "missing"), "-o", str(tmp_path / "x.mp4")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert later.returncode == 2, later.stderr
    assert [p.name for p in run.tmpdir.iterdir()] == [live.name]


def test_stale_staging_files_beside_an_output_are_swept_only_for_dead_processes(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])  # exits at once: its pid names a dead process
    dead.wait()
    out = tmp_path / "video.mp4"
    stale = [tmp_path / f".video.tmp-{dead.pid}-0a1b.mp4", tmp_path / f".video.mp4.partial-{dead.pid}"]
    kept = [
        tmp_path / f".video.tmp-{os.getpid()}-0a1b.mp4",  # a live render's file
        tmp_path / f".other.tmp-{dead.pid}-0a1b.mp4",  # another output's: not ours to judge
        tmp_path / "notes.txt",
    ]
    stale[0].write_bytes(b"complete but hidden")
    stale[1].mkdir()
    (stale[1] / "frame_000001.png").write_bytes(b"png")
    for path in kept:
        path.write_bytes(b"keep")
    empty = tmp_path / "empty-tmp"
    empty.mkdir()

    removed = scratch.sweep_stale(empty, beside=out)

    assert sorted(removed) == sorted(stale)
    assert sorted(tmp_path.iterdir()) == sorted([*kept, empty])
