"""Remote assets that cannot or must not be fetched fail with a typed error naming the URL, and leave nothing.

Each case publishes one bad "remote" image on tests/support/remote_server.py (127.0.0.1) and renders a
composition that uses it, from the command line, single and chunked. The fetch happens before any
browser starts (launching one fails the test): the error is REMOTE_ASSET_REFUSED (exit 2: 404, too
large, a redirect to file: or data:, a link-local host such as a cloud metadata service) or
REMOTE_ASSET_FAILED (exit 1, retryable: 5xx after the retries, a timeout), the message names the URL
and the reason, and the output folder, the temp folder and the cache hold no leftover.
"""

from __future__ import annotations

import importlib
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from app.cli.main import main
from app.engine.remote_assets import RemoteAssets, fetch_remote_assets
from app.errors import PlanInvalidError, RemoteAssetFailedError, RemoteAssetRefusedError
from tests.support.compositions import ProjectFactory
from tests.support.remote_server import RemoteServer, remote_cache, remote_server

__all__ = ["remote_cache", "remote_server"]  # fixtures

ERROR_LINE = re.compile(r"^([A-Z][A-Z_]+): (.+)$", re.MULTILINE)

Publish = Callable[[RemoteServer], str]  # publishes the bad file, returns the URL the page uses

CASES: dict[str, tuple[Publish, str, int, str]] = {
    "not-found": (lambda s: s.status("gone.png", 404), "REMOTE_ASSET_REFUSED", 2, "HTTP 404"),
    "server-error-after-retries": (lambda s: s.status("flaky.png", 503), "REMOTE_ASSET_FAILED", 1, "HTTP 503"),
    "timeout": (lambda s: s.slow("slow.png", 3.0), "REMOTE_ASSET_FAILED", 1, "timeout"),
    "too-large": (lambda s: s.add("huge.png", b"x" * 50_000, "image/png"), "REMOTE_ASSET_REFUSED", 2, "too large"),
    "redirect-to-file": (
        lambda s: s.redirect("to-file.png", "file:///etc/passwd"),
        "REMOTE_ASSET_REFUSED",
        2,
        "redirects to 'file:///etc/passwd'",
    ),
    "metadata-service": (
        lambda s: "http://169.254.169.254/latest/meta-data/",
        "REMOTE_ASSET_REFUSED",
        2,
        "link-local address",
    ),
    "redirect-to-metadata-service": (
        lambda s: s.redirect("to-meta.png", "http://169.254.169.254/latest/meta-data/"),
        "REMOTE_ASSET_REFUSED",
        2,
        "redirects to 'http://169.254.169.254/latest/meta-data/', which is on a link-local address",
    ),
    "redirect-to-data": (
        lambda s: s.redirect("to-data.png", "data:image/png;base64,AAAA"),
        "REMOTE_ASSET_REFUSED",
        2,
        "not an http(s) URL",
    ),
}


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Small, fast limits; a private TMPDIR to prove nothing is left in it."""
    monkeypatch.setenv("FRAMECAST_REMOTE_TIMEOUT_SECONDS", "0.5")
    monkeypatch.setenv("FRAMECAST_REMOTE_MAX_FILE_MB", "0.01")
    monkeypatch.setenv("FRAMECAST_REMOTE_BACKOFF_SECONDS", "0")
    monkeypatch.setenv("FRAMECAST_REMOTE_ATTEMPTS", "2")
    folder = tmp_path / "tmpdir"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a browser was launched before the remote assets were fetched")

    monkeypatch.setattr("app.engine.render.acquire_browser", refuse)
    monkeypatch.setattr(importlib.import_module("app.distributed.plan"), "acquire_browser", refuse)
    return folder


def files_under(root: Path) -> list[str]:
    return sorted(str(Path(d, f).relative_to(root)) for d, _, names in os.walk(root) for f in names)


@pytest.mark.parametrize("mode", [["--workers", "1"], ["--chunks", "2"]], ids=["single", "chunked"])
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_remote_asset_that_cannot_be_fetched_fails_typed_naming_the_url_and_leaves_nothing(
    make_project: ProjectFactory,
    remote_server: RemoteServer,
    remote_cache: Path,
    limits: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    case: tuple[Publish, str, int, str],
    mode: list[str],
) -> None:
    publish, code, exit_code, reason = case
    url = publish(remote_server)
    project = make_project("hostile-remote", id="remote", body_html=f'<img src="{url}">', duration=1, fps=30)
    out_dir = tmp_path / "out"
    out_dir.mkdir()

    status = main(["render", str(project), "-o", str(out_dir / "video.mp4"), *mode])

    err = capsys.readouterr().err
    found = ERROR_LINE.search(err)
    assert status == exit_code and found and found.group(1) == code, err
    assert url in found.group(2) and reason in found.group(2), err
    assert "Traceback" not in err
    assert files_under(out_dir) == [], "nothing may be written beside the output"
    assert files_under(limits) == [], "a temporary file was left"
    assert [name for name in files_under(remote_cache) if Path(name).name.startswith(".")] == []


@pytest.mark.chrome
@pytest.mark.parametrize("src", ["file:///etc/passwd", "data:video/mp4;base64,AAAA"], ids=["file-url", "data-url"])
def test_a_file_or_data_media_src_is_refused_before_any_fetch(
    make_project: ProjectFactory,
    remote_server: RemoteServer,
    remote_cache: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    src: str,
) -> None:
    project = make_project(
        "hostile-remote-src", id="remote", body_html=f'<video id="v" src="{src}" data-start="0"></video>'
    )
    out = tmp_path / "video.mp4"
    status = main(["render", str(project), "-o", str(out), "--workers", "1"])
    err = capsys.readouterr().err
    assert status == 2, err
    assert f"VIDEO_SOURCE_UNRENDERABLE: media src {src!r}" in err
    assert not out.exists() and remote_server.total_hits() == 0


def test_a_server_error_is_retried_and_a_client_error_is_not(
    remote_server: RemoteServer, remote_cache: Path, limits: Path, tmp_path: Path
) -> None:
    flaky, gone = remote_server.status("flaky.png", 502), remote_server.status("gone.png", 404)
    (tmp_path / "index.html").write_text(f'<img src="{flaky}"><img src="{gone}">')
    with pytest.raises(RemoteAssetFailedError, match="HTTP 502"):
        fetch_remote_assets(tmp_path)
    assert remote_server.hits["/flaky.png"] == 2, "FRAMECAST_REMOTE_ATTEMPTS=2"
    (tmp_path / "index.html").write_text(f'<img src="{gone}">')
    with pytest.raises(RemoteAssetRefusedError, match="HTTP 404"):
        fetch_remote_assets(tmp_path)
    assert remote_server.hits["/gone.png"] == 1


def test_a_cache_entry_older_than_the_ttl_is_fetched_again(
    remote_server: RemoteServer, remote_cache: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = remote_server.add("a.png", b"first", "image/png")
    (tmp_path / "index.html").write_text(f'<img src="{url}">')
    first = fetch_remote_assets(tmp_path)
    assert fetch_remote_assets(tmp_path) == first and remote_server.hits["/a.png"] == 1
    remote_server.add("a.png", b"second", "image/png")
    monkeypatch.setenv("FRAMECAST_REMOTE_CACHE_TTL_SECONDS", "0")
    again = fetch_remote_assets(tmp_path)
    assert remote_server.hits["/a.png"] == 2
    hit = again.lookup(url)
    assert hit is not None and hit[0].read_bytes() == b"second"


def test_the_cache_is_pruned_least_recently_used_first_but_never_below_what_a_render_uses(
    remote_server: RemoteServer, remote_cache: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FRAMECAST_REMOTE_MAX_CACHE_MB", "0.015")  # room for one 10 kB file
    old, new = (
        remote_server.add("old.png", b"o" * 10_000, "image/png"),
        remote_server.add("new.png", b"n" * 10_000, "image/png"),
    )
    (tmp_path / "index.html").write_text(f'<img src="{old}">')
    first = fetch_remote_assets(tmp_path)
    (tmp_path / "index.html").write_text(f'<img src="{new}">')
    second = fetch_remote_assets(tmp_path)
    old_blob, new_blob = first.lookup(old), second.lookup(new)
    assert old_blob is not None and new_blob is not None
    assert not old_blob[0].exists() and new_blob[0].exists()
    (tmp_path / "index.html").write_text(f'<img src="{old}">')
    fetch_remote_assets(tmp_path)
    assert remote_server.hits["/old.png"] == 2, "a pruned file is fetched again"


@pytest.mark.parametrize(
    "index",
    ["{not json", '{"https://a.example/x.png": {"sha256": "../../etc/passwd", "size": 1, "content_type": "x/y"}}'],
    ids=["not-json", "path-instead-of-digest"],
)
def test_a_plan_remote_index_that_is_not_ours_is_refused(tmp_path: Path, index: str) -> None:
    (tmp_path / "index.json").write_text(index)
    with pytest.raises(PlanInvalidError, match="not a valid remote asset index"):
        RemoteAssets.load(tmp_path)
