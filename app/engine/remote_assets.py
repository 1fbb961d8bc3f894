"""Remote assets: fetch every ``http(s)://`` file a composition loads, once, before any frame is captured.

Owns the fetch contract (README "What compositions are supported"):

* **What**: the URLs :func:`~app.engine.remote_urls.find_remote_urls` finds, plus what fetched remote
  CSS references (``@import``, ``url(...)``: web fonts behind a font service's stylesheet).
* **How**: one download at a time through remote_fetch (http(s) only, never a link-local host, a
  timeout that also bounds the whole body, a per-file cap), a total size cap, a few attempts with
  backoff on connection errors, timeouts, 429 and 5xx. Any failure is REMOTE_ASSET_REFUSED (not
  retryable: 4xx, too large, a bad target) or REMOTE_ASSET_FAILED (retryable), naming the URL and why.
* **Cache**: content-addressed, ``<cache>/blobs/<sha256>`` written atomically (temp file + rename) and
  ``<cache>/urls/<sha256 of the URL>.json`` pointing at it; an entry younger than the TTL is used
  without asking the network. Default folder ``$XDG_CACHE_HOME/framecast/remote`` (else
  ``~/.cache/framecast/remote``); ``FRAMECAST_REMOTE_CACHE_DIR`` overrides it.

The result, :class:`RemoteAssets`, maps canonical URL → cached file and content type. Capture answers
the page's requests from it (the page itself never reaches the network), media extraction and the
audio mix read remote media from it, and a plan stores it as ``remote/`` (:meth:`RemoteAssets.copy_to`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.engine import scratch
from app.engine.remote_fetch import ENV_PREFIX, download, write_atomic
from app.engine.remote_urls import absolute_remote, css_references, find_remote_urls
from app.errors import InvalidConfigError, PlanInvalidError, RemoteAssetFailedError, RemoteAssetRefusedError

log = logging.getLogger(__name__)

CACHE_DIR_ENV = "FRAMECAST_REMOTE_CACHE_DIR"
INDEX_FILE = "index.json"
_CSS_DEPTH = 3  # remote CSS → imported CSS → fonts


class FetchLimits(BaseModel):
    """Bounds of one fetch pass; each can be set with ``FRAMECAST_REMOTE_<FIELD>`` (e.g. ``..._TIMEOUT_SECONDS``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    timeout_seconds: float = Field(default=30.0, gt=0)
    max_file_mb: float = Field(default=512.0, gt=0)
    max_total_mb: float = Field(default=2048.0, gt=0)
    attempts: int = Field(default=3, ge=1, le=10)
    backoff_seconds: float = Field(default=0.5, ge=0)
    max_urls: int = Field(default=500, ge=1)
    cache_ttl_seconds: float = Field(default=86_400.0, ge=0)
    max_cache_mb: float = Field(default=4096.0, gt=0)
    """Blobs beyond this are removed, least recently used first (a warm Lambda's /tmp must not fill up)."""

    @classmethod
    def from_env(cls) -> FetchLimits:
        values = {
            name: os.environ[ENV_PREFIX + name.upper()]
            for name in cls.model_fields
            if os.environ.get(ENV_PREFIX + name.upper(), "").strip()
        }
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            problems = "; ".join(f"{ENV_PREFIX}{str(e['loc'][0]).upper()}: {e['msg']}" for e in exc.errors())
            raise InvalidConfigError(f"invalid remote asset limits: {problems}") from exc


class RemoteFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)
    content_type: str


class RemoteAssets(BaseModel):
    """Fetched remote files: canonical URL → blob ``<root>/<sha256>`` and its content type."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    root: Path
    files: dict[str, RemoteFile] = {}

    def lookup(self, url: str) -> tuple[Path, str] | None:
        """The cached file and content type for a URL the page or a media ``src`` names, or None."""
        remote = absolute_remote(url)
        hit = self.files.get(remote) if remote else None
        return (self.root / hit.sha256, hit.content_type) if hit else None

    def copy_to(self, folder: Path) -> None:
        """Store the blobs and ``index.json`` in ``folder`` (a plan's ``remote/``), so readers need nothing else."""
        folder.mkdir(parents=True, exist_ok=True)
        for file in {f.sha256 for f in self.files.values()}:
            shutil.copyfile(self.root / file, folder / file)
        index = {url: f.model_dump() for url, f in sorted(self.files.items())}
        (folder / INDEX_FILE).write_text(json.dumps(index, indent=1, sort_keys=True), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> RemoteAssets:
        """What :meth:`copy_to` stored; an empty map when the folder has no index (a plan without remote files)."""
        index = folder / INDEX_FILE
        if not index.is_file():
            return cls(root=folder)
        try:
            return cls.model_validate({"root": folder, "files": json.loads(index.read_bytes())})
        except (ValueError, ValidationError) as exc:  # JSONDecodeError is a ValueError
            raise PlanInvalidError(f"{index} is not a valid remote asset index ({exc}); re-plan") from exc


def default_cache_dir() -> Path:
    override = os.environ.get(CACHE_DIR_ENV, "").strip()
    if override:
        return Path(override)
    return scratch.user_cache_dir("remote")


def fetch_remote_assets(
    project_dir: Path, *, cache_dir: Path | None = None, limits: FetchLimits | None = None
) -> RemoteAssets:
    """Fetch (or find in the cache) every remote file the project loads; raise REMOTE_ASSET_* naming the URL."""
    urls = find_remote_urls(project_dir)
    cache = _Cache(cache_dir or default_cache_dir(), limits or FetchLimits.from_env())
    if urls:
        log.info("fetching remote assets", extra={"urls": len(urls), "cache": str(cache.root)})
    return cache.fetch_all(urls)


class _Cache:
    def __init__(self, root: Path, limits: FetchLimits) -> None:
        self.root = root
        self.limits = limits
        self.blobs = root / "blobs"
        self._total = 0

    def fetch_all(self, urls: list[str]) -> RemoteAssets:
        files: dict[str, RemoteFile] = {}
        pending = [(url, 0) for url in urls]
        if pending:
            try:
                self.blobs.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise InvalidConfigError(
                    f"the remote asset cache {self.root} cannot be created ({exc.strerror}); "
                    f"point {CACHE_DIR_ENV} at a writable folder"
                ) from exc
        while pending:
            url, depth = pending.pop(0)
            if url in files:
                continue
            if len(files) >= self.limits.max_urls:
                raise RemoteAssetRefusedError(
                    f"the composition loads more than {self.limits.max_urls} remote files (next: {url}); "
                    f"bundle them into the project or raise {ENV_PREFIX}MAX_URLS"
                )
            files[url] = file = self._cached(url) or self._download(url)
            self._total += file.size
            if self._total > self.limits.max_total_mb * 1e6:
                raise RemoteAssetRefusedError(
                    f"remote asset {url}: the remote files add up to more than {self.limits.max_total_mb:g} MB; "
                    f"put large media in the project or raise {ENV_PREFIX}MAX_TOTAL_MB"
                )
            if file.content_type.startswith("text/css") and depth < _CSS_DEPTH:
                text = (self.blobs / file.sha256).read_text(encoding="utf-8", errors="replace")
                found = (absolute_remote(ref, url) for ref in css_references(text))
                pending += [(found_url, depth + 1) for found_url in found if found_url]
        self._prune(keep={f.sha256 for f in files.values()})
        return RemoteAssets(root=self.blobs, files=files)

    def _prune(self, keep: set[str]) -> None:
        blobs: list[tuple[float, int, Path]] = []
        for path in self.blobs.glob("[0-9a-f]*"):
            with contextlib.suppress(OSError):  # another render may prune at the same time
                info = path.stat()
                blobs.append((info.st_mtime, info.st_size, path))
        budget = self.limits.max_cache_mb * 1e6
        for _, size, path in sorted(blobs, reverse=True):  # newest first; the ones this render uses always stay
            budget -= size
            if budget < 0 and path.name not in keep:
                path.unlink(missing_ok=True)  # its URL entries then miss and fetch again

    def _entry_path(self, url: str) -> Path:
        return self.root / "urls" / f"{hashlib.sha256(url.encode()).hexdigest()}.json"

    def _cached(self, url: str) -> RemoteFile | None:
        entry = self._entry_path(url)
        try:
            if time.time() - entry.stat().st_mtime > self.limits.cache_ttl_seconds:
                return None
            file = RemoteFile.model_validate_json(entry.read_bytes())
            blob = self.blobs / file.sha256
            # The blob's name is its digest: a size check catches truncation without rehashing large media.
            if blob.stat().st_size != file.size:
                return None
            os.utime(blob)  # recently used: the last to be pruned
            return file
        except (OSError, ValidationError):
            return None

    def _download(self, url: str) -> RemoteFile:
        for attempt in range(1, self.limits.attempts + 1):
            try:
                return self._download_once(url)
            except RemoteAssetFailedError:
                if attempt == self.limits.attempts:
                    raise
                delay = self.limits.backoff_seconds * 2 ** (attempt - 1)
                log.warning("remote asset fetch failed; retrying", extra={"url": url, "attempt": attempt})
                time.sleep(delay)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _download_once(self, url: str) -> RemoteFile:
        limits = self.limits
        got = download(url, self.blobs, timeout_seconds=limits.timeout_seconds, max_mb=limits.max_file_mb)
        file = RemoteFile(sha256=got.sha256, size=got.size, content_type=got.content_type)
        write_atomic(self._entry_path(url), lambda stream: stream.write(file.model_dump_json().encode()))
        log.debug("fetched remote asset", extra={"url": url, "bytes": got.size, "sha256": got.sha256})
        return file
