"""The BeginFrame gate runs on runtime dependencies alone (the image ships no numpy, a dev-only extra)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# numpy made unimportable, as in the production image.
NO_NUMPY = (
    "import runpy, sys; sys.modules['numpy'] = None; sys.argv = ['probe']; runpy.run_path({!r}, run_name='__main__')"
)


@pytest.mark.chrome
def test_the_beginframe_probe_passes_without_numpy() -> None:
    script = NO_NUMPY.format(str(ROOT / "scripts" / "probe_beginframe.py"))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["status"] == "pass"
    assert result["center_pixel"] == [255, 0, 0]
