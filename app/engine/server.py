"""Serves a project on 127.0.0.1 for capture, with framecast's scripts injected into the entry page.

Owns the URL space the page sees: project files at their relative paths, the entry page with the
HyperFrames runtime injected at the end of ``<head>`` and our bridge before ``</body>``, and
framecast's own files under ``/__framecast__/`` (runtime, bridge, pinned GSAP, extracted video
frames). Nothing outside the project folder (or those files) is ever served.
"""

from __future__ import annotations

import logging
import mimetypes
import posixpath
import re
import threading
from functools import partial
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlsplit

from app.engine import runtime

log = logging.getLogger(__name__)

PREFIX = "/__framecast__/"
SHUTDOWN_POLL_SECONDS = 0.02
_HEAD_END = re.compile(rb"</head\s*>", re.IGNORECASE)
_BODY_END = re.compile(rb"</body\s*>", re.IGNORECASE)
_HEAD_START = re.compile(rb"<head[^>]*>", re.IGNORECASE)


def inject(html: bytes) -> bytes:
    """Add the runtime at the end of <head> and the bridge before </body> (appending when absent)."""
    runtime_tag = f'<script src="{PREFIX}runtime.js"></script>'.encode()
    bridge_tag = f'<script src="{PREFIX}bridge.js"></script>'.encode()
    head_end = _HEAD_END.search(html)
    if head_end:
        html = html[: head_end.start()] + runtime_tag + html[head_end.start() :]
    else:
        head_start = _HEAD_START.search(html)
        at = head_start.end() if head_start else 0
        html = html[:at] + runtime_tag + html[at:]
    matches = list(_BODY_END.finditer(html))
    if matches:
        body_end = matches[-1]  # the last one: an earlier "</body>" may sit inside a script string
        return html[: body_end.start()] + bridge_tag + html[body_end.start() :]
    return html + bridge_tag


class ProjectServer:
    """A threaded HTTP server on 127.0.0.1 for one project; use as a context manager."""

    def __init__(self, project_dir: Path, entry: str = "index.html", frames_dir: Path | None = None) -> None:
        self.entry = entry
        self.serve_from(project_dir, frames_dir)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        # shutdown() waits for the loop's next poll: at the default 0.5 s that is up to half a second at
        # the end of every render and chunk, on its critical path.
        serve = partial(self._httpd.serve_forever, poll_interval=SHUTDOWN_POLL_SECONDS)
        self._thread = threading.Thread(target=serve, name="framecast-server", daemon=True)

    def serve_from(self, project_dir: Path, frames_dir: Path | None = None) -> None:
        """Serve these folders from now on, at the same origin (a kept page's URLs stay valid)."""
        self.project_dir = project_dir.resolve()
        self.frames_dir = frames_dir.resolve() if frames_dir else None

    @property
    def origin(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def entry_url(self) -> str:
        return f"{self.origin}/{self.entry}"

    def frame_url(self, relative: str) -> str:
        return f"{PREFIX}frames/{relative}"

    def __enter__(self) -> ProjectServer:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def resolve(self, url_path: str) -> tuple[Path | None, bool]:
        """Map a URL path to (file, inject?); None when it is outside what we serve."""
        path = posixpath.normpath(unquote(urlsplit(url_path).path))
        if path.startswith(PREFIX):
            return self._own_file(path[len(PREFIX) :]), False
        relative = path.lstrip("/") or self.entry
        candidate = (self.project_dir / relative).resolve()
        if not candidate.is_relative_to(self.project_dir):
            return None, False
        if candidate.is_dir():
            candidate = candidate / "index.html"
        return candidate, candidate == (self.project_dir / self.entry).resolve()

    def _own_file(self, name: str) -> Path | None:
        if name == "runtime.js":
            return runtime.runtime_file()
        if name == "bridge.js":
            return runtime.script_file("bridge.js")
        if name.startswith("gsap/"):
            return runtime.gsap_file(name.removeprefix("gsap/"))
        if name.startswith("frames/") and self.frames_dir is not None:
            candidate = (self.frames_dir / name.removeprefix("frames/")).resolve()
            return candidate if candidate.is_relative_to(self.frames_dir) else None
        return None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                file, should_inject = server.resolve(self.path)
                if file is None or not file.is_file():
                    self.send_error(HTTPStatus.NOT_FOUND)
                    return
                body = file.read_bytes()
                if should_inject:
                    body = inject(body)
                content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store" if should_inject else "max-age=3600")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                log.debug("serve " + format, *args)

        return Handler
