"""One remote download: a URL's body streamed into a content-addressed folder, within bounds, or a typed error.

Owns the HTTP side of remote assets (see remote_assets for the cache and the map): http and https
only, redirects too (at most 5); never a link-local host (cloud metadata services: 169.254.169.254);
a timeout that bounds connecting, each read and the whole body (a slow drip cannot stall a render);
a size cap checked against Content-Length and while streaming. The body goes to a temp file that is
renamed to its sha256, so a reader never sees half a file. Foreign (urllib/socket) errors are
translated here and nowhere else: REMOTE_ASSET_REFUSED (4xx, too large, a bad target) or
REMOTE_ASSET_FAILED (timeouts, connection errors, 429, 5xx: worth another attempt).
"""

from __future__ import annotations

import hashlib
import ipaddress
import mimetypes
import os
import socket
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, NamedTuple
from urllib.parse import urljoin, urlsplit

from app.engine.remote_urls import REMOTE_SCHEMES
from app.errors import RemoteAssetFailedError, RemoteAssetRefusedError

ENV_PREFIX = "FRAMECAST_REMOTE_"
_BLOCK = 1 << 16
_MAX_REDIRECTS = 5
_USER_AGENT = "framecast (remote asset fetch)"


class Download(NamedTuple):
    sha256: str
    size: int
    content_type: str


def download(url: str, blobs: Path, *, timeout_seconds: float, max_mb: float) -> Download:
    """Fetch ``url`` once into ``blobs/<sha256>``; raise REMOTE_ASSET_* naming the URL and the reason."""
    check_target(url, url)
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"})
    opener = urllib.request.build_opener(_SafeRedirects())
    try:
        with opener.open(request, timeout=timeout_seconds) as response:
            check_target(url, response.geturl())
            content_type = _content_type(url, response.headers)
            sha256, size = _store(url, response, blobs, timeout_seconds, max_mb * 1e6)
    except urllib.error.HTTPError as exc:
        error = RemoteAssetFailedError if exc.code == 429 or exc.code >= 500 else RemoteAssetRefusedError
        raise error(f"remote asset {url}: HTTP {exc.code} {exc.reason}") from exc
    except TimeoutError as exc:
        raise RemoteAssetFailedError(f"remote asset {url}: no answer within {timeout_seconds:g} s (timeout)") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RemoteAssetFailedError(f"remote asset {url}: cannot be fetched ({reason})") from exc
    return Download(sha256, size, content_type)


def _store(url: str, response: Any, blobs: Path, timeout_seconds: float, cap: float) -> tuple[str, int]:
    """Stream the body into a temp file under the cap and deadline, then rename it to its digest."""
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > cap:
        raise _too_large(url, cap)
    deadline = time.monotonic() + timeout_seconds
    digest = hashlib.sha256()
    size = 0

    def copy(stream: IO[bytes]) -> None:
        nonlocal size
        while block := response.read(_BLOCK):
            size += len(block)
            if size > cap:
                raise _too_large(url, cap)
            if time.monotonic() > deadline:  # a slow drip never times out one read, so bound the whole body
                raise TimeoutError
            digest.update(block)
            stream.write(block)

    staged = write_atomic(blobs / ".incoming", copy, keep=True)
    os.replace(staged, blobs / digest.hexdigest())
    return digest.hexdigest(), size


class _SafeRedirects(urllib.request.HTTPRedirectHandler):
    """Follows at most a few redirects, and only to http(s): urllib alone would also follow ftp."""

    max_redirections = _MAX_REDIRECTS

    def http_error_302(self, req: Any, fp: Any, code: int, msg: str, headers: Any) -> Any:
        location = headers.get("location") or headers.get("uri")
        if location:
            check_target(req.full_url, urljoin(req.full_url, location))
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


def check_target(url: str, target: str) -> None:
    """Only http(s), and never a link-local host (cloud metadata services live there: 169.254.169.254)."""
    parts = urlsplit(target)
    where = "" if target == url else f" redirects to {target[:120]!r}, which"
    scheme = parts.scheme.lower()
    if scheme not in REMOTE_SCHEMES:
        raise RemoteAssetRefusedError(
            f"remote asset {url}{where} is not an http(s) URL ({scheme or 'no'} scheme); "
            "only http and https are fetched"
        )
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname or "", None)}
    except (OSError, UnicodeError):
        return  # unresolvable: the fetch itself reports it
    if any(ipaddress.ip_address(str(address).split("%")[0]).is_link_local for address in addresses):
        raise RemoteAssetRefusedError(
            f"remote asset {url}{where} is on a link-local address (such as a cloud metadata service); "
            "it is never fetched"
        )


def _content_type(url: str, headers: Any) -> str:
    """The server's media type, else a guess from the URL (a stylesheet served untyped is ignored by Chrome)."""
    if headers.get("Content-Type"):
        return str(headers.get_content_type())
    return mimetypes.guess_type(urlsplit(url).path)[0] or "application/octet-stream"


def _too_large(url: str, cap: float) -> RemoteAssetRefusedError:
    return RemoteAssetRefusedError(
        f"remote asset {url} is larger than {cap / 1e6:g} MB (too large); put it in the project or raise "
        f"{ENV_PREFIX}MAX_FILE_MB"
    )


def write_atomic(path: Path, write: Callable[[IO[bytes]], object], *, keep: bool = False) -> Path:
    """Write through a temp file beside ``path``; rename it to ``path`` unless ``keep`` (then return the temp)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as stream:
            write(stream)
        if keep:
            return Path(tmp)
        os.replace(tmp, path)
        return path
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
