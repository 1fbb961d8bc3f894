"""A stand-in for the Lambda Runtime Interface Emulator: one HTTP endpoint that runs a handler.

``POST /2015-03-31/functions/function/invocations`` with a JSON event calls ``handler(event, context)``
and answers like the RIE does: 200 with the JSON result, or 200 with ``{"errorType":
type(exc).__name__, "errorMessage": str(exc), "stackTrace": [...]}`` when the handler raises.

One fake is one Lambda sandbox: invocations run one at a time on a single *function thread*, never on
the HTTP request threads. That is what the RIE does, and it matters for the real handler: Playwright's
sync API ties the warm browser to the thread that launched it. The HTTP layer still accepts requests
concurrently and records how many were in flight at once, so a test can assert what the *client* did.

Two ways to run one:

* ``FakeRie(handler)``: in this process, for plain-Python handlers (counters, scripted failures).
* ``spawn_fake_rie("app.aws.handler:handler", env=...)``: ``python -m tests.support.fake_rie`` in a
  subprocess, one per endpoint, like one container each. Use it for the real handler: every process
  has its own warm browser and reads its own environment (settings are cached per process). Its
  counters are read over HTTP (``GET /__fake_rie/stats``).

Both can fail their first N matching invocations with a transient error, as a crashed or overloaded
sandbox would: HTTP 502 (``failure="http502"``) or the RIE's ``Runtime.ExitError`` function error
(``failure="exit_error"``). Failed invocations never reach the handler.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

INVOKE_PATH = "/2015-03-31/functions/function/invocations"
STATS_PATH = "/__fake_rie/stats"
REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60.0
# Invocations shorter than the remaining-time budget the real Lambda would give (15 min).
FUNCTION_TIMEOUT_MS = 900_000

Handler = Callable[[dict[str, Any], Any], Any]
Failure = Literal["http502", "exit_error"]


@dataclass
class RieStats:
    """What one fake endpoint saw. ``invocations`` holds ``"plan"``, ``"renderChunk:3"``, ... in arrival order."""

    calls: int = 0
    invocations: list[str] = field(default_factory=list)
    injected_failures: int = 0
    in_flight: int = 0
    max_in_flight: int = 0


class LambdaContext:
    """The attributes of awslambdaric's context object that handlers (and Powertools) read."""

    function_name = "function"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:012345678912:function:function"
    memory_limit_in_mb = "3008"
    log_group_name = "/aws/lambda/function"
    log_stream_name = "fake-rie"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + FUNCTION_TIMEOUT_MS / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _describe(event: Any) -> str:
    if not isinstance(event, dict):
        return "?"
    action = str(event.get("Action", "?"))
    return f"{action}:{event['ChunkIndex']}" if "ChunkIndex" in event else action


class FakeRie:
    """One RIE endpoint in this process, serving until ``close()`` (or the end of a ``with`` block)."""

    def __init__(
        self,
        handler: Handler,
        *,
        fail_first: int = 0,
        failure: Failure = "http502",
        fail_action: str | None = None,
    ) -> None:
        self.handler = handler
        self.fail_first = fail_first
        self.failure = failure
        self.fail_action = fail_action
        self._stats = RieStats()
        self._lock = threading.Lock()
        self._function = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fake-rie-function")
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _RequestHandler)
        self._server.daemon_threads = True
        self._server.fake = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-rie-http", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def stats(self) -> RieStats:
        with self._lock:
            return RieStats(**{**asdict(self._stats), "invocations": list(self._stats.invocations)})

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._function.shutdown(wait=True)

    def __enter__(self) -> FakeRie:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- called by the request handler -----------------------------------------------------------

    def begin(self, event: Any) -> Failure | None:
        """Record an arriving invocation; return the failure to inject, if any."""
        with self._lock:
            stats = self._stats
            stats.calls += 1
            stats.invocations.append(_describe(event))
            stats.in_flight += 1
            stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
            matches = self.fail_action is None or (isinstance(event, dict) and event.get("Action") == self.fail_action)
            if matches and stats.injected_failures < self.fail_first:
                stats.injected_failures += 1
                return self.failure
            return None

    def end(self) -> None:
        with self._lock:
            self._stats.in_flight -= 1

    def run(self, event: Any) -> Any:
        """Run the handler on the function thread: the JSON-able result, or the RIE's error document."""
        return self._function.submit(self._call, event).result()

    def _call(self, event: Any) -> Any:
        try:
            return self.handler(event, LambdaContext())
        except Exception as exc:  # the RIE turns every handler exception into an error document
            return {
                "errorType": type(exc).__name__,
                "errorMessage": str(exc),
                "stackTrace": traceback.format_tb(exc.__traceback__),
            }


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-rie"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    @property
    def fake(self) -> FakeRie:
        fake: FakeRie = self.server.fake  # type: ignore[attr-defined]
        return fake

    def do_GET(self) -> None:
        if self.path != STATS_PATH:
            self._send(404, {"message": f"no route {self.path}"})
            return
        self._send(200, asdict(self.fake.stats()))

    def do_POST(self) -> None:
        if self.path != INVOKE_PATH:
            self._send(404, {"message": f"no route {self.path}"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        try:
            event = json.loads(self.rfile.read(length) or b"{}")
        except ValueError as exc:
            self._send(400, {"errorType": "InvalidRequestContent", "errorMessage": str(exc)})
            return
        fake = self.fake
        failure = fake.begin(event)
        try:
            if failure == "http502":
                status, answer = 502, {"message": "injected transient failure (bad gateway)"}
            elif failure == "exit_error":
                message = "RequestId: injected Error: Runtime exited with error: signal: killed"
                status, answer = 200, {"errorType": "Runtime.ExitError", "errorMessage": message}
            else:
                status, answer = 200, fake.run(event)
        finally:
            # Before the answer leaves: a client may send its next request the moment it has read one,
            # and that must not count as two at once.
            fake.end()
        self._send(status, answer)

    def _send(self, status: int, document: Any) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


# --- the subprocess flavour ------------------------------------------------------------------------


def load_handler(ref: str) -> Handler:
    """``"package.module:function"`` → the function."""
    module_name, _, name = ref.partition(":")
    handler: Handler = getattr(importlib.import_module(module_name), name or "handler")
    return handler


class FakeRieProcess:
    """A fake RIE running in its own Python process (see ``spawn_fake_rie``)."""

    def __init__(self, proc: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
        self.proc = proc
        self.url = url
        self.log_path = log_path

    def stats(self) -> RieStats:
        import urllib.request

        with urllib.request.urlopen(self.url + STATS_PATH, timeout=10) as response:
            return RieStats(**json.loads(response.read()))

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]


@contextlib.contextmanager
def spawn_fake_rie(
    handler_ref: str,
    *,
    env: Mapping[str, str] | None = None,
    fail_first: int = 0,
    failure: Failure = "http502",
    fail_action: str | None = None,
) -> Iterator[FakeRieProcess]:
    """Run ``python -m tests.support.fake_rie`` serving ``handler_ref`` until the block ends."""
    args = [sys.executable, "-m", "tests.support.fake_rie", "--handler", handler_ref]
    args += ["--fail-first", str(fail_first), "--failure", failure]
    if fail_action is not None:
        args += ["--fail-action", fail_action]
    python_path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    child_env = {**os.environ, **(env or {}), "PYTHONPATH": python_path}
    with tempfile.TemporaryDirectory(prefix="fake-rie-") as tmp:
        log_path = Path(tmp) / "stderr.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(args, cwd=REPO_ROOT, env=child_env, stdout=subprocess.PIPE, stderr=log)
        try:
            url = _read_url(proc, log_path)
            yield FakeRieProcess(proc, url, log_path)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
            if proc.stdout is not None:
                proc.stdout.close()


def _read_url(proc: subprocess.Popen[bytes], log_path: Path) -> str:
    """The first stdout line is the URL the child serves on (it picked a free port itself)."""
    assert proc.stdout is not None
    box: list[bytes] = []
    reader = threading.Thread(target=lambda: box.append(proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(START_TIMEOUT_S)
    line = box[0].decode().strip() if box else ""
    if not line.startswith("http://"):
        proc.kill()
        tail = log_path.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"fake RIE did not start (exit {proc.poll()}, said {line!r}):\n{tail}")
    return line


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a Python handler the way the Lambda RIE does.")
    parser.add_argument("--handler", required=True, help="module:function, e.g. app.aws.handler:handler")
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--failure", choices=["http502", "exit_error"], default="http502")
    parser.add_argument("--fail-action", default=None)
    ns = parser.parse_args(argv)
    fake = FakeRie(load_handler(ns.handler), fail_first=ns.fail_first, failure=ns.failure, fail_action=ns.fail_action)
    print(fake.url, flush=True)
    try:
        threading.Event().wait()  # serve until terminated
    finally:
        fake.close()


if __name__ == "__main__":
    main()
