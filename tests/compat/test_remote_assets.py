"""Compat (issue 13, item 3): remote http(s) files are fetched once, before capture; the page never goes online.

The "internet" is tests/support/remote_server.py on 127.0.0.1. One 320x180, 1 s composition loads a
remote image (a red square), a remote stylesheet whose @font-face points at a remote font (relative to
the stylesheet), a remote script (paints a yellow box, then asks for a file nobody fetched), a remote
video (solid green) and remote audio (a tone, mixed). A render shows every one of them; a second
render fetches nothing; a chunked render fetches at plan time only; ``--offline`` refuses as before.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli.main import main
from app.distributed import RenderConfig, assemble, plan, render_chunk
from app.distributed.layout import REMOTE_DIR
from app.distributed.manifest import read_manifest
from app.engine.ffmpeg import run_ffmpeg
from app.engine.remote_assets import RemoteAssets, fetch_remote_assets
from app.engine.render import RenderOptions, render
from tests.support.compositions import ProjectFactory
from tests.support.media_checks import close_to, decode_frames, pixel
from tests.support.media_fixtures import make_tone
from tests.support.remote_server import RemoteServer, remote_cache, remote_server

__all__ = ["remote_cache", "remote_server"]  # fixtures

pytestmark = pytest.mark.chrome

RED, GREEN, YELLOW, BLUE = (255, 0, 0), (0, 255, 0), (255, 255, 0), (0, 0, 255)
IMAGE_SPOT, VIDEO_SPOT, SCRIPT_SPOT, FONT_SPOT = (30, 30), (250, 60), (30, 150), (250, 150)
FONT_FILES = [Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"), *Path("/usr/share/fonts").rglob("*.ttf")]

CSS = """
#img { position: absolute; left: 0; top: 0; width: 60px; height: 60px; }
#clip { position: absolute; left: 200px; top: 20px; width: 100px; height: 80px; }
#scriptbox, #fontflag { position: absolute; top: 120px; width: 60px; height: 60px; background: #000; }
#scriptbox { left: 0; } #fontflag { left: 220px; }
#text { position: absolute; left: 100px; top: 120px; font: 20px RemoteFont, serif; color: #000; }
"""
FONT_CHECK = """
document.fonts.load("20px RemoteFont").then((faces) => {
  if (faces.some((f) => f.status === "loaded")) document.getElementById("fontflag").style.background = "#0000ff";
});
"""


def _solid(path: Path, colour: str, *, video: bool) -> bytes:
    source = f"color=c={colour}:s=160x90:r=30:d=1"
    args: list[str | Path] = ["-f", "lavfi", "-i", source]
    args += ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "ultrafast"] if video else ["-frames:v", "1"]
    run_ffmpeg([*args, path], what=f"making {path.name}")
    return path.read_bytes()


def publish(server: RemoteServer, tmp: Path) -> dict[str, str]:
    """Put the composition's remote files on the server; return their URLs by role."""
    font = next((f for f in FONT_FILES if f.is_file()), None)
    if font is None:
        pytest.skip("no TrueType font under /usr/share/fonts to serve as the remote font")
    tmp.mkdir(parents=True, exist_ok=True)
    stylesheet = "@font-face { font-family: RemoteFont; src: url(fonts/remote.ttf) format('truetype'); }"
    script = (
        'document.getElementById("scriptbox").style.background = "#ffff00";'
        f'new Image().src = "{server.url("never-fetched.png")}";'
    )
    return {
        "image": server.add("img/red.png", _solid(tmp / "red.png", "0xff0000", video=False), "image/png"),
        "css": server.add("css/site.css", stylesheet.encode(), "text/css"),
        "font": server.add("css/fonts/remote.ttf", font.read_bytes(), "font/ttf"),
        "script": server.add("js/paint.js", script.encode(), "text/javascript"),
        "video": server.add("media/green.mp4", _solid(tmp / "green.mp4", "0x00ff00", video=True), "video/mp4"),
        "audio": server.add("media/tone.wav", make_tone(tmp / "tone.wav", seconds=1).read_bytes(), "audio/wav"),
    }


def write_project(make_project: ProjectFactory, urls: dict[str, str]) -> Path:
    body = (
        f'<img id="img" src="{urls["image"]}">'
        f'<video id="clip" src="{urls["video"]}" data-start="0" data-duration="1" muted></video>'
        f'<audio id="tone" src="{urls["audio"]}" data-start="0"></audio>'
        '<div id="scriptbox"></div><div id="fontflag"></div><div id="text">Remote</div>'
        f'<script src="{urls["script"]}"></script>'
    )
    css = CSS.replace("\n", " ")
    head_link = f'<link rel="stylesheet" href="{urls["css"]}">'
    return make_project(
        "remote", id="remote", body_html=head_link + body, css=css, script=FONT_CHECK, duration=1, fps=30
    )


@pytest.fixture
def project(make_project: ProjectFactory, remote_server: RemoteServer, tmp_path: Path) -> Path:
    return write_project(make_project, publish(remote_server, tmp_path / "published"))


def assert_remote_pixels(output: Path) -> None:
    frames = decode_frames(output)
    assert len(frames) == 30
    for index in (0, 29):
        for name, spot, colour in (
            ("remote image", IMAGE_SPOT, RED),
            ("remote video", VIDEO_SPOT, GREEN),
            ("remote script", SCRIPT_SPOT, YELLOW),
            ("remote font", FONT_SPOT, BLUE),
        ):
            got = pixel(frames[index], spot)
            assert close_to(got, colour, tolerance=24), f"frame {index}: {name} at {spot} is {got}, expected {colour}"


def test_remote_image_font_script_and_video_render_and_each_url_is_fetched_once_across_two_renders(
    project: Path, remote_server: RemoteServer, remote_cache: Path, tmp_path: Path
) -> None:
    first = render(project, tmp_path / "first.mp4", RenderOptions())
    assert_remote_pixels(first.output)
    assert first.has_audio, "the remote <audio> is mixed from its fetched copy"
    fetched = dict(remote_server.hits)
    assert fetched == {
        "/img/red.png": 1,
        "/css/site.css": 1,
        "/css/fonts/remote.ttf": 1,
        "/js/paint.js": 1,
        "/media/green.mp4": 1,
        "/media/tone.wav": 1,
    }, "every remote file once, and nothing asked for by the page while capturing"

    second = render(project, tmp_path / "second.mp4", RenderOptions())
    assert_remote_pixels(second.output)
    assert dict(remote_server.hits) == fetched, "the second render must be served by the cache"
    assert remote_server.hits["/never-fetched.png"] == 0
    assert (remote_cache / "blobs").is_dir()


def test_cache_entries_are_content_addressed_and_css_references_are_followed(
    project: Path, remote_server: RemoteServer, remote_cache: Path
) -> None:
    assets = fetch_remote_assets(project)
    assert set(assets.files) == {remote_server.url(p) for p in (
        "img/red.png", "css/site.css", "css/fonts/remote.ttf", "js/paint.js", "media/green.mp4", "media/tone.wav"
    )}  # fmt: skip
    for file in assets.files.values():
        blob = assets.root / file.sha256
        assert blob.stat().st_size == file.size
    hit = assets.lookup(remote_server.url("css/site.css"))
    assert hit is not None and hit[1] == "text/css"


def test_a_chunked_render_fetches_at_plan_time_only(
    project: Path, remote_server: RemoteServer, remote_cache: Path, tmp_path: Path
) -> None:
    plan_dir = tmp_path / "plan"
    planned = plan(project, RenderConfig(max_parallel_chunks=2, min_chunk_frames=1), plan_dir)
    after_plan = dict(remote_server.hits)
    assert sum(after_plan.values()) == 6 and set(after_plan.values()) == {1}
    assert planned.has_audio
    stored = RemoteAssets.load(plan_dir / REMOTE_DIR)
    assert len(stored.files) == 6
    listed = {e.path for e in read_manifest(plan_dir).entries}
    assert {f"{REMOTE_DIR}/{f.sha256}" for f in stored.files.values()} <= listed, "remote files are covered by the hash"
    index = json.loads((plan_dir / REMOTE_DIR / "index.json").read_text())
    assert index[remote_server.url("img/red.png")]["content_type"] == "image/png"

    chunks = [
        render_chunk(plan_dir, i, tmp_path / f"chunk{i}.mp4", plan_hash=planned.plan_hash).output
        for i in range(planned.chunk_count)
    ]
    out = assemble(plan_dir, chunks, tmp_path / "chunked.mp4", plan_hash=planned.plan_hash).output
    assert dict(remote_server.hits) == after_plan, "chunk workers and the assembler must not fetch"
    assert_remote_pixels(out)


def test_offline_render_and_plan_refuse_remote_media_as_before_and_fetch_nothing(
    project: Path, remote_server: RemoteServer, remote_cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "offline.mp4"
    code = main(["render", str(project), "-o", str(out), "--offline", "--workers", "1"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "VIDEO_SOURCE_UNRENDERABLE" in err and "is a remote URL" in err
    assert not out.exists()
    plan_dir = tmp_path / "plan"
    code = main(["plan", str(project), str(plan_dir), "--offline"])
    err = capsys.readouterr().err
    assert code == 2 and "VIDEO_SOURCE_UNRENDERABLE" in err, err
    assert not plan_dir.exists()
    assert remote_server.total_hits() == 0
