"""A stand-in for the internet: an HTTP server on 127.0.0.1 that serves "remote" files and counts requests.

``remote_server`` (a pytest fixture; import it into a test module) yields a :class:`RemoteServer`:
``add(path, body, content_type)`` publishes a file, ``status(path, code)`` makes a path answer an
error, ``redirect(path, location)`` a 302, ``slow(path, seconds)`` a response that stalls before its
body; ``url(path)`` is its address and ``hits[path]`` how often it was asked for it.
``remote_cache`` points framecast's remote asset cache at a fresh folder so no test shares one.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from app.engine.remote_assets import CACHE_DIR_ENV


@dataclass
class _Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/octet-stream"
    location: str | None = None
    stall_seconds: float = 0.0


@dataclass
class RemoteServer:
    origin: str = ""
    hits: Counter[str] = field(default_factory=Counter)
    replies: dict[str, _Reply] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"{self.origin}/{path.lstrip('/')}"

    def add(self, path: str, body: bytes, content_type: str) -> str:
        self.replies["/" + path.lstrip("/")] = _Reply(body=body, content_type=content_type)
        return self.url(path)

    def status(self, path: str, code: int) -> str:
        self.replies["/" + path.lstrip("/")] = _Reply(status=code, body=b"nope", content_type="text/plain")
        return self.url(path)

    def redirect(self, path: str, location: str) -> str:
        self.replies["/" + path.lstrip("/")] = _Reply(status=302, location=location)
        return self.url(path)

    def slow(self, path: str, seconds: float) -> str:
        self.replies["/" + path.lstrip("/")] = _Reply(body=b"late", content_type="image/png", stall_seconds=seconds)
        return self.url(path)

    def total_hits(self) -> int:
        return sum(self.hits.values())


def _handler(server: RemoteServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            server.hits[path] += 1
            reply = server.replies.get(path, _Reply(status=404, body=b"missing", content_type="text/plain"))
            if reply.stall_seconds:
                time.sleep(reply.stall_seconds)
            self.send_response(reply.status)
            if reply.location:
                self.send_header("Location", reply.location)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (a test case)
                self.wfile.write(reply.body)

        def log_message(self, format: str, *args: object) -> None:
            return None

    return Handler


@pytest.fixture
def remote_server() -> Iterator[RemoteServer]:
    state = RemoteServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    host, port = httpd.server_address[:2]
    state.origin = f"http://{host!s}:{port}"
    thread = threading.Thread(target=httpd.serve_forever, name="remote-server", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def remote_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "remote-cache"
    monkeypatch.setenv(CACHE_DIR_ENV, str(folder))
    return folder
