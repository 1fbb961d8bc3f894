"""A page that hangs after load fails with CAPTURE_TIMEOUT naming the frame (issue 12, class 6).

The composition's GSAP ``onUpdate`` loops for ever once the timeline reaches 0.5 s (frame 15 at
30 fps). The CLI runs as a subprocess with a 2 s frame deadline (FRAMECAST_FRAME_TIMEOUT_SECONDS): it
must exit 1 with ``CAPTURE_TIMEOUT`` naming frame 15 well before a minute, write no output, touch
nothing in the project, and leave no process behind (every process it started carries a unique
environment marker, looked for in /proc afterwards).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.support.compositions import ProjectFactory, write_composition
from tests.support.tree import tree_snapshot

pytestmark = pytest.mark.chrome

HANG_SCRIPT = """
tl.to("#box", { x: 200, duration: 1, onUpdate: () => { if (tl.time() >= 0.5) { for (;;) {} } } }, 0);
"""
FRAME_DEADLINE_SECONDS = 2
BOUND_SECONDS = 60  # launch + 15 frames + the deadline + teardown, with room for a loaded machine


def processes_with_marker(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        if marker.encode() in environ:
            found.append(int(entry))
    return found


@pytest.fixture(scope="module")
def hanging_project(make_project: ProjectFactory) -> Path:
    return make_project(
        "hang",
        writer=write_composition,
        id="hang",
        duration=1,
        fps=30,
        body_html='<div id="box" style="width:20px;height:20px;background:#f00"></div>',
        script=HANG_SCRIPT,
    )


CASES = {
    "mp4": (["--format", "mp4"], "out.mp4"),
    "png-sequence": (["--format", "png-sequence"], "frames"),
    "chunked": (["--chunks", "2", "--workers", "1"], "out.mp4"),
}


@pytest.mark.parametrize(("options", "output"), CASES.values(), ids=CASES.keys())
def test_a_hanging_page_fails_in_bounded_time_and_leaves_nothing(
    hanging_project: Path, tmp_path: Path, options: list[str], output: str
) -> None:
    framecast = shutil.which("framecast")
    command = [framecast] if framecast else [sys.executable, "-m", "app.cli.main"]
    marker = f"FRAMECAST_TEST_MARKER={uuid.uuid4().hex}"
    env = {**os.environ, "FRAMECAST_FRAME_TIMEOUT_SECONDS": str(FRAME_DEADLINE_SECONDS)}
    env[marker.split("=")[0]] = marker.split("=")[1]
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    before = tree_snapshot(hanging_project)
    started = time.monotonic()

    done = subprocess.run(
        [*command, "render", str(hanging_project), "-o", str(out_dir / output), *options],
        env=env,
        capture_output=True,
        text=True,
        timeout=BOUND_SECONDS * 2,
        check=False,
    )

    elapsed = time.monotonic() - started
    text = done.stdout + done.stderr
    assert done.returncode == 1, text
    assert "CAPTURE_TIMEOUT: frame 15 " in text and "Traceback" not in text, text
    assert elapsed < BOUND_SECONDS, f"took {elapsed:.0f} s"
    assert list(out_dir.iterdir()) == [], "a failed render left output"
    assert tree_snapshot(hanging_project) == before
    deadline = time.monotonic() + 5  # a killed process may take a moment to be reaped by init
    while processes_with_marker(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_with_marker(marker) == [], "the render left processes running"
