"""Code that runs inside a local render-batch worker process (spawned, one warm browser each).

The process ignores SIGINT and leaves the terminal's process group, so a Ctrl-C reaches only the
batch process, which decides what happens to in-flight rows. The browser is launched by the first
row and reused by every later row in the same process (app.engine.chrome keeps it warm); a counter
around the launch lets the batch report (and tests assert) how many browsers were started.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from app.engine import chrome
from app.engine.render import RenderOptions, render

_launches = 0


def init_worker() -> None:
    global _launches
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.setsid()
    _launches = 0
    launch = chrome._launch

    def counted_launch(mode: chrome.CaptureMode) -> chrome.WarmBrowser:
        global _launches
        _launches += 1
        return launch(mode)

    # The spy wraps, never replaces: the launch itself is chrome's own.
    chrome._launch = counted_launch


def render_row(project: str, out_path: str, options: dict[str, Any]) -> dict[str, Any]:
    """Render one row to ``out_path`` (the engine writes it atomically); return what the manifest needs."""
    started = time.perf_counter()
    result = render(Path(project), Path(out_path), RenderOptions(**options))
    return {
        "frames": result.frames,
        "seconds": time.perf_counter() - started,
        "size": result.size_bytes,
        "pid": os.getpid(),
        "launches": _launches,
    }
