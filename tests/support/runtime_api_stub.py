"""A small stand-in for the Lambda Runtime API, for running ``python -m awslambdaric ...`` in tests.

It speaks what awslambdaric needs (HTTP/1.1; ``Content-Type`` on ``/next``, without which the
client hangs; the request id, deadline and function ARN headers), hands out queued events one per
``GET .../invocation/next`` and records every ``/response``, ``/error`` and ``/init/error`` POST.

    with lambda_runtime(os.environ) as function:      # python -m awslambdaric app.aws.handler.handler
        outcome = function.invoke({"Action": "plan", ...}, timeout=60)
        outcome.kind, outcome.body, outcome.error_type   # "response" | "error", parsed JSON, errorType
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
PREFIX = "/2018-06-01/runtime"
FUNCTION_NAME = "framecast-test-render"
FUNCTION_ARN = f"arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION_NAME}"
_RESULT = re.compile(rf"^{PREFIX}/invocation/(?P<id>[^/]+)/(?P<kind>response|error)$")


@dataclass(frozen=True)
class Outcome:
    request_id: str
    kind: str  # "response" or "error"
    body: Any
    headers: dict[str, str]

    @property
    def error_type(self) -> str | None:
        return self.body.get("errorType") if self.kind == "error" else None


class RuntimeApiStub:
    def __init__(self, deadline_seconds: float = 300.0) -> None:
        self.deadline_seconds = deadline_seconds
        self._events: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self._outcomes: dict[str, Outcome] = {}
        self._done = threading.Condition()
        self.init_errors: list[Any] = []
        self._stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.stub = self
        self._thread = threading.Thread(target=self._server.serve_forever, name="runtime-api-stub", daemon=True)

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    def __enter__(self) -> RuntimeApiStub:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def submit(self, event: Any) -> str:
        request_id = str(uuid.uuid4())
        self._events.put((request_id, json.dumps(event).encode()))
        return request_id

    def wait(self, request_id: str, timeout: float) -> Outcome:
        deadline = time.monotonic() + timeout
        with self._done:
            while request_id not in self._outcomes:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.init_errors:
                    raise TimeoutError(
                        f"no answer for {request_id} in {timeout:.0f} s (init errors: {self.init_errors})"
                    )
                self._done.wait(min(remaining, 0.2))
            return self._outcomes[request_id]

    def invoke(self, event: Any, timeout: float = 60.0) -> Outcome:
        return self.wait(self.submit(event), timeout)

    def _record(self, outcome: Outcome) -> None:
        with self._done:
            self._outcomes[outcome.request_id] = outcome
            self._done.notify_all()

    def _next_event(self) -> tuple[str, bytes] | None:
        while not self._stopping.is_set():
            try:
                return self._events.get(timeout=0.2)
            except queue.Empty:
                continue
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    stub: RuntimeApiStub


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # awslambdaric keeps the connection open
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        return

    def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path != f"{PREFIX}/invocation/next":
            self._reply(404, b'{"errorMessage":"not found"}')
            return
        item = self.server.stub._next_event()
        if item is None:  # shutting down
            self._reply(503, b'{"errorMessage":"stopping"}')
            return
        request_id, body = item
        deadline_ms = int((time.time() + self.server.stub.deadline_seconds) * 1000)
        headers = {
            "Lambda-Runtime-Aws-Request-Id": request_id,
            "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
            "Lambda-Runtime-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]};Sampled=0",
        }
        self._reply(200, body, headers)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()
            return b"".join(parts)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_POST(self) -> None:
        raw = self._read_body()
        body = json.loads(raw) if raw else None
        if self.path == f"{PREFIX}/init/error":
            self.server.stub.init_errors.append(body)
            self._reply(202, b"{}")
            return
        match = _RESULT.match(self.path)
        if match is None:
            self._reply(404, b'{"errorMessage":"not found"}')
            return
        self.server.stub._record(Outcome(match["id"], match["kind"], body, dict(self.headers.items())))
        self._reply(202, b"{}")


@dataclass
class LambdaProcess:
    """A running ``python -m awslambdaric <handler>`` and the stub it polls."""

    api: RuntimeApiStub
    proc: subprocess.Popen[bytes]
    log: Any

    def invoke(self, event: Any, timeout: float = 60.0) -> Outcome:
        try:
            return self.api.invoke(event, timeout)
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}\n--- awslambdaric output ---\n{self.output()}") from exc

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return str(self.log.read().decode(errors="replace"))[-6000:]


def container_command(engine: str, image: str, env: Mapping[str, str]) -> list[str]:
    """``ENGINE run`` of the production image as Lambda runs it: read-only root, a writable /tmp, the
    image's own non-root user and entrypoint, host networking to reach the stub and the S3 server."""
    passed = sorted(k for k in env if k.startswith(("AWS_", "FRAMECAST_")) and k != "AWS_PROFILE")
    options = [arg for key in passed for arg in ("-e", f"{key}={env[key]}")]
    return [
        engine,
        "run",
        "--rm",
        "--network",
        "host",
        "--read-only",
        "--tmpfs",
        "/tmp:exec,mode=1777",
        *options,
        image,
    ]


@contextlib.contextmanager
def lambda_runtime(
    env: Mapping[str, str], handler: str = "app.aws.handler.handler", container: tuple[str, str] | None = None
) -> Iterator[LambdaProcess]:
    """Run the image's command, ``python -m awslambdaric <handler>``, against a fresh stub: here, or
    with ``container=(engine, image)`` inside that image."""
    with RuntimeApiStub() as api, tempfile.TemporaryFile() as log:
        lambda_env = {
            **env,
            "AWS_LAMBDA_RUNTIME_API": api.address,
            "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "2048",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{FUNCTION_NAME}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "test/[$LATEST]0",
            "PYTHONPATH": os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p),
        }
        command = [sys.executable, "-m", "awslambdaric", handler]
        if container is not None:
            command = container_command(*container, lambda_env)
        proc = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=lambda_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield LambdaProcess(api, proc, log)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
