"""A webhook receiver on 127.0.0.1 for tests: records every POST and answers with scripted statuses.

    with WebhookReceiver(statuses=[500, 200]) as receiver:
        ...  # post to receiver.url
        receiver.requests  # [Received(path, headers, body), ...]

Statuses are answered in order; once the script runs out every request gets the last one (200 when
none is given).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class WebhookReceiver:
    def __init__(self, statuses: list[int] | None = None, path: str = "/hook") -> None:
        self._statuses = list(statuses or [200])
        self._path = path
        self._lock = threading.Lock()
        self.requests: list[Received] = []
        receiver = self

        class _Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status = receiver._record(Received(self.path, dict(self.headers.items()), body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{self._path}"

    def _record(self, received: Received) -> int:
        with self._lock:
            self.requests.append(received)
            return self._statuses.pop(0) if len(self._statuses) > 1 else self._statuses[0]

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
