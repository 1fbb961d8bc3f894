"""The project server stops promptly: its shutdown sits on the critical path of every render and chunk."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

from app.engine.server import ProjectServer


def test_the_server_serves_the_project_and_stops_without_waiting_out_a_poll(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<html><head></head><body>hi</body></html>")
    stops = []
    for _ in range(3):
        with ProjectServer(tmp_path) as server:
            with urllib.request.urlopen(server.entry_url, timeout=5) as response:
                assert b"hi" in response.read()
            stopping = time.perf_counter()
        stops.append(time.perf_counter() - stopping)
    # socketserver's default poll (0.5 s) makes each stop wait up to half a second; ours polls every 20 ms.
    assert max(stops) < 0.25, stops
