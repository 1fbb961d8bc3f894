"""Which remote URLs a composition loads, found statically (app/engine/remote_urls.py); no network."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.engine.remote_urls import absolute_remote, canonical_url, css_references, find_remote_urls

PAGE = """<!doctype html><html><head>
<script src="https://cdn.jsdelivr.net/npm/gsap@3.15.0/dist/gsap.min.js"></script>
<script src="https://cdn.example.com/lib.js"></script>
<link rel="stylesheet" href="https://fonts.example.com/css?family=Inter">
<link rel="preconnect" href="https://fonts.example.com">
<link rel="stylesheet" href="styles/local.css">
<style>@import "https://cdn.example.com/theme.css"; .a { background: url('https://img.example.com/bg.jpg'); }</style>
</head><body>
<div data-composition-id="main" data-width="320" data-height="180" data-duration="1">
  <img src="HTTPS://IMG.example.com:443/a%20b.png#frag" srcset="https://img.example.com/1x.png 1x, local.png 2x">
  <video src="https://media.example.com/clip.mp4" poster="//img.example.com/poster.jpg"></video>
  <div style="background-image: url(https://img.example.com/inline.png)"></div>
  <div data-composition-src="scenes/intro.html"></div>
  <div data-composition-src="https://cdn.example.com/outro.html"></div>
  <img data-src="https://img.example.com/lazy.png" src="data:image/png;base64,AAAA">
  <a href="https://example.com/not-loaded">a link is not an asset</a>
  <svg xmlns="http://www.w3.org/2000/svg"><image href="https://img.example.com/svg.png"/></svg>
  <img src="file:///etc/passwd"><img src="local/only.png">
</div></body></html>
"""


def write(project: Path) -> Path:
    (project / "styles").mkdir(parents=True)
    (project / "scenes").mkdir()
    (project / "index.html").write_text(PAGE)
    (project / "styles" / "local.css").write_text(
        "/* url(https://img.example.com/commented.png) */ @import 'more.css'; .b { background: url(local.png) }"
    )
    (project / "styles" / "more.css").write_text("@font-face { src: url(https://fonts.example.com/f.woff2) }")
    (project / "scenes" / "intro.html").write_text('<img src="https://img.example.com/intro.png">')
    return project


def test_every_loading_reference_is_found_once_and_nothing_else(tmp_path: Path) -> None:
    found = find_remote_urls(write(tmp_path))
    assert len(found) == len(set(found))
    assert sorted(found) == sorted(
        [
            "https://cdn.example.com/lib.js",
            "https://fonts.example.com/css?family=Inter",
            "https://img.example.com/a%20b.png",
            "https://img.example.com/1x.png",
            "https://media.example.com/clip.mp4",
            "http://img.example.com/poster.jpg",
            "https://img.example.com/inline.png",
            "https://img.example.com/lazy.png",
            "https://img.example.com/svg.png",
            "https://cdn.example.com/theme.css",
            "https://img.example.com/bg.jpg",
            "https://fonts.example.com/f.woff2",
            "https://img.example.com/intro.png",
            "https://cdn.example.com/outro.html",
        ]
    )


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("HTTPS://Example.COM:443/a b.png#x", "https://example.com/a%20b.png"),
        ("http://example.com:8080", "http://example.com:8080/"),
        ("https://example.com/a%20b.png?q=1 2", "https://example.com/a%20b.png?q=1%202"),
    ],
)
def test_a_url_has_one_canonical_spelling(raw: str, canonical: str) -> None:
    assert canonical_url(raw) == canonical


def test_references_in_remote_css_resolve_against_the_stylesheet() -> None:
    refs = css_references("@import url('b.css'); @font-face { src: url(\"../f/x.woff2\") format('woff2') }")
    base = "https://cdn.example.com/css/a.css"
    assert [absolute_remote(r, base) for r in refs] == [
        "https://cdn.example.com/css/b.css",
        "https://cdn.example.com/f/x.woff2",
    ]
    assert absolute_remote("data:font/woff2;base64,AAAA", base) is None
