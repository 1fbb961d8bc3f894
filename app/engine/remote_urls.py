"""Which remote (``http(s)://``) files a composition loads, found statically before any browser runs.

Owns the discovery contract of remote assets (README "What compositions are supported"): URLs in the
entry page's loading attributes (``src``, ``srcset``, ``poster``, ``data-src``, ``data-srcset``, the
``href`` of stylesheet/preload/icon links and of SVG ``<image>``/``<use>``), inline ``style``
attributes, ``<style>`` blocks, and the ``url(...)``/``@import`` of local CSS files and of local
sub-compositions (``data-composition-src``). Remote CSS is scanned by the fetcher with
:func:`css_references`, so fonts behind a remote stylesheet are found too. Scripts are not parsed:
what a script loads at run time is out of reach. GSAP on a CDN is skipped, framecast serves its pinned
copy. :func:`canonical_url` is the one spelling both this scan and capture's request interception use.

Pure functions over local paths; no network.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, unquote, urljoin, urlsplit, urlunsplit

from app.engine import runtime
from app.engine.composition import ENTRY_FILE

REMOTE_SCHEMES = ("http", "https")
_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+?)\1\s*\)""", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"""@import\s+(['"])([^'"]+)\1""", re.IGNORECASE)
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_LINK_RELS = frozenset({"stylesheet", "preload", "modulepreload", "icon", "apple-touch-icon", "prefetch"})
_SRC_ATTRS = frozenset({"src", "poster", "data-src"})
_SRCSET_ATTRS = frozenset({"srcset", "data-srcset"})
_HREF_TAGS = frozenset({"image", "use", "feimage"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_SAFE_PATH = "/%:@!$&'()*+,;=-._~"
_MAX_LOCAL_FILES = 200  # local CSS and sub-composition files scanned per project


def canonical_url(url: str) -> str:
    """``url`` as a lookup key: scheme and host lower-cased, default port and fragment dropped, path quoted."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    path = quote(unquote(parts.path), safe=_SAFE_PATH) or "/"
    query = quote(unquote(parts.query), safe=_SAFE_PATH + "?")
    return urlunsplit((scheme, netloc, path, query, ""))


def is_remote(url: str) -> bool:
    """Whether ``url`` is absolute ``http(s)://`` or protocol-relative (``//host/...``, http on our page)."""
    text = url.strip()
    return text.startswith("//") or urlsplit(text).scheme.lower() in REMOTE_SCHEMES


def absolute_remote(url: str, base: str | None = None) -> str | None:
    """The canonical remote URL ``url`` names (resolved against a remote ``base``), else None."""
    text = url.strip()
    if base is not None:
        text = urljoin(base, text)
    elif text.startswith("//"):
        text = "http:" + text  # the capture page is served over http, so that is what Chrome asks for
    if urlsplit(text).scheme.lower() not in REMOTE_SCHEMES or not urlsplit(text).hostname:
        return None
    return canonical_url(text)


def css_references(css: str) -> list[str]:
    """Every ``url(...)`` and ``@import`` target in a stylesheet, in order, as written."""
    text = _CSS_COMMENT.sub("", css)
    found = [m.group(2).strip() for m in _CSS_IMPORT.finditer(text)]
    found += [m.group(2).strip() for m in _CSS_URL.finditer(text)]
    return [ref for ref in found if ref]


def _srcset_urls(value: str) -> list[str]:
    return [candidate.strip().split()[0] for candidate in value.split(",") if candidate.strip()]


class _Scanner(HTMLParser):
    """Collects asset references of one HTML file: URLs, CSS text, local stylesheets, sub-compositions."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self.css: list[str] = []
        self.local_css: list[str] = []
        self.local_html: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): v or "" for k, v in attrs}
        for name, value in values.items():
            if name in _SRC_ATTRS and value:
                self.urls.append(value)
            elif name in _SRCSET_ATTRS:
                self.urls += _srcset_urls(value)
            elif name == "style":
                self.css.append(value)
        if values.get("data-composition-src"):  # remote: fetched and served, though its own files are not scanned
            src = values["data-composition-src"]
            (self.urls if is_remote(src) else self.local_html).append(src)
        if tag in _HREF_TAGS:
            self.urls += [v for k, v in values.items() if k in ("href", "xlink:href") and v]
        if tag == "link" and _LINK_RELS & set(values.get("rel", "").lower().split()) and values.get("href"):
            href = values["href"]
            self.urls.append(href)
            if "stylesheet" in values.get("rel", "").lower() and not is_remote(href):
                self.local_css.append(href)
        self._in_style = tag == "style"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        self._in_style = False

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.css.append(data)


def _local_file(project: Path, current: Path, ref: str) -> Path | None:
    parts = urlsplit(ref.strip())
    if parts.scheme or parts.netloc or not parts.path:
        return None
    base = project if parts.path.startswith("/") else current.parent
    candidate = (base / unquote(parts.path).lstrip("/")).resolve()
    return candidate if candidate.is_relative_to(project) and candidate.is_file() else None


def find_remote_urls(project_dir: Path) -> list[str]:
    """The canonical remote URLs the project's pages and local CSS load, in first-seen order, GSAP CDN excluded."""
    project = Path(project_dir).resolve()
    found: dict[str, None] = {}
    pending: list[Path] = [project / ENTRY_FILE]
    seen: set[Path] = set()
    while pending and len(seen) < _MAX_LOCAL_FILES:
        path = pending.pop(0)
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix.lower() == ".css":
            refs, css, local_css, local_html = [], [text], [], []
        else:
            scanner = _Scanner()
            scanner.feed(text)
            scanner.close()
            refs, css, local_css, local_html = scanner.urls, scanner.css, scanner.local_css, scanner.local_html
        for block in css:
            for ref in css_references(block):
                if is_remote(ref):
                    refs.append(ref)
                elif path.suffix.lower() == ".css" or ref.lower().endswith(".css"):
                    local_css.append(ref)  # an @import of a local stylesheet
        for ref in refs:
            url = absolute_remote(ref) if is_remote(ref) else None
            if url is not None and runtime.gsap_cdn_file(url) is None:
                found.setdefault(url, None)
        for ref in [*local_css, *local_html]:
            local = _local_file(project, path, ref)
            if local is not None:
                pending.append(local)
    return list(found)
