"""HyperFrames compositions written from Python strings into tmp folders, for renders in tests.

Every composition is a 320x180 root (by default) that loads GSAP from the CDN spelling the engine
serves from its pinned local copy, and registers its paused timeline as ``window.__timelines[id]``.
The ``script`` is the body of that timeline set-up: it sees ``tl`` (the paused timeline) and runs
before the registration line. ``make_project`` is a session-scoped pytest fixture (import it into a
test module) that writes any of these into a fresh tmp folder.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

GSAP_TAG = '<script src="https://cdn.jsdelivr.net/npm/gsap@3.15.0/dist/gsap.min.js"></script>'

_PAGE = """<!doctype html>
<html lang="en"{html_attrs}>
<head>
  <meta charset="utf-8">
  {gsap}
  <style>
    * {{ margin: 0; padding: 0; box-sizing: border-box; }}
    body {{ background: #000; }}
    #root {{ position: relative; width: {width}px; height: {height}px; overflow: hidden; background: #000; }}
    {css}
  </style>
</head>
<body>
  <div id="root" data-composition-id="{id}" data-width="{width}" data-height="{height}"{duration_attr}{fps_attr}>
    {body_html}
  </div>
  <script>
    const tl = gsap.timeline({{ paused: true }});
    {script}
    window.__timelines = window.__timelines || {{}};
    window.__timelines["{id}"] = tl;
  </script>
</body>
</html>
"""


def composition_html(
    *,
    id: str,
    width: int = 320,
    height: int = 180,
    duration: float | str | None = 1,
    fps: int | str | None = 30,
    body_html: str = "",
    script: str = "",
    css: str = "",
    variables_decl: list[dict[str, Any]] | None = None,
) -> str:
    """The ``index.html`` text of one composition (``duration=None`` leaves data-duration out)."""
    html_attrs = ""
    if variables_decl is not None:
        # Single-quoted attribute: JSON's double quotes need no escaping; escape the few that matter.
        decl = json.dumps(variables_decl).replace("&", "&amp;").replace("'", "&#39;")
        html_attrs = f" data-composition-variables='{decl}'"
    return _PAGE.format(
        html_attrs=html_attrs,
        gsap=GSAP_TAG,
        width=width,
        height=height,
        css=css,
        id=id,
        duration_attr="" if duration is None else f' data-duration="{duration}"',
        fps_attr="" if fps is None else f' data-fps="{fps}"',
        body_html=body_html,
        script=script,
    )


def write_composition(
    directory: Path,
    *,
    id: str,
    width: int = 320,
    height: int = 180,
    duration: float | str | None = 1,
    fps: int | str | None = 30,
    body_html: str = "",
    script: str = "",
    css: str = "",
    variables_decl: list[dict[str, Any]] | None = None,
    extra_files: Mapping[str, bytes | str | Path] | None = None,
) -> Path:
    """Write ``directory/index.html`` (and ``extra_files``: name → bytes, text or a file to copy); return it."""
    directory.mkdir(parents=True, exist_ok=True)
    html = composition_html(
        id=id,
        width=width,
        height=height,
        duration=duration,
        fps=fps,
        body_html=body_html,
        script=script,
        css=css,
        variables_decl=variables_decl,
    )
    (directory / "index.html").write_text(html, encoding="utf-8")
    for name, content in (extra_files or {}).items():
        target = directory / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            target.write_bytes(content.read_bytes())
        elif isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
    return directory


ProjectFactory = Callable[..., Path]


@pytest.fixture(scope="session")
def make_project(tmp_path_factory: pytest.TempPathFactory) -> ProjectFactory:
    """``make_project(name, writer=write_composition, **kwargs)``: a new project folder in a fresh tmp dir.

    Import it into a test module (``from tests.support.compositions import make_project``) to use it.
    """

    def make(name: str, writer: Callable[..., Path] = write_composition, **kwargs: Any) -> Path:
        return writer(tmp_path_factory.mktemp(name) / "project", **kwargs)

    return make


# --- ready-made compositions the functional tests share -------------------------------------------------

BOX_CSS = "#box { position: absolute; left: 40px; top: 40px; width: 100px; height: 100px; background: #0000ff; }"
BOX_HTML = '<div id="box"></div>'
BOX_TURNS_RED_AT = 0.5
BOX_CENTRE = (90, 90)  # (x, y) inside the box, far from its edges
BACKGROUND_SPOT = (260, 150)  # (x, y) on the black background, far from the box


def write_colour_switch(directory: Path, *, id: str = "switch", duration: float = 1, fps: int = 30) -> Path:
    """A blue box that turns red at exactly t = 0.5 s (GSAP ``set``) on a black background."""
    return write_composition(
        directory,
        id=id,
        duration=duration,
        fps=fps,
        body_html=BOX_HTML,
        css=BOX_CSS,
        script=f'tl.set("#box", {{ backgroundColor: "#ff0000" }}, {BOX_TURNS_RED_AT});',
    )


MOTION_CSS = """
#mover { position: absolute; left: 0; top: 60px; width: 40px; height: 40px; background: #f97316; border-radius: 8px; }
#spinner { position: absolute; left: 200px; top: 30px; width: 60px; height: 60px; background: #22d3ee; }
#bar { position: absolute; left: 20px; top: 150px; width: 0; height: 10px; background: #a3e635; }
#label { position: absolute; left: 20px; top: 110px; color: #fff; font: 20px "DejaVu Sans", sans-serif; }
"""
MOTION_HTML = '<div id="mover"></div><div id="spinner"></div><div id="bar"></div><div id="label">framecast</div>'
MOTION_SCRIPT = """
tl.to("#mover", { x: 260, duration: DURATION, ease: "none" }, 0)
  .to("#spinner", { rotation: 360, scale: 0.5, duration: DURATION, ease: "sine.inOut" }, 0)
  .to("#bar", { width: 280, duration: DURATION, ease: "power1.inOut" }, 0)
  .from("#label", { opacity: 0, y: 20, duration: 0.4 }, 0.1);
"""


def write_motion(
    directory: Path,
    *,
    id: str = "motion",
    duration: float = 1,
    fps: int | str = 30,
    extra_html: str = "",
    extra_files: Mapping[str, bytes | str | Path] | None = None,
) -> Path:
    """Continuous motion on every frame (translation, rotation, growth, a fade), plus ``extra_html`` (clips)."""
    return write_composition(
        directory,
        id=id,
        duration=duration,
        fps=fps,
        body_html=MOTION_HTML + extra_html,
        css=MOTION_CSS,
        script=MOTION_SCRIPT.replace("DURATION", str(duration)),
        extra_files=extra_files,
    )


RANDOM_CSS = """
#dot { position: absolute; width: 24px; height: 24px; background: #facc15; border-radius: 50%; }
#stamp { position: absolute; left: 8px; top: 150px; color: #fff; font: 14px "DejaVu Sans", sans-serif; }
#mover { position: absolute; left: 0; top: 120px; width: 30px; height: 20px; background: #38bdf8; }
"""
RANDOM_HTML = '<div id="dot"></div><div id="stamp"></div><div id="mover"></div>'
# The page positions things from Math.random and Date.now on every (virtual) animation frame, the way
# particle effects and "live" clocks do; the engine must make both depend on the frame time only.
RANDOM_SCRIPT = """
const dot = document.getElementById("dot");
const stamp = document.getElementById("stamp");
const startedAt = Date.now();
function place() {
  dot.style.left = Math.floor(Math.random() * 290) + "px";
  dot.style.top = Math.floor(((Date.now() - startedAt) % 1000) / 1000 * 100 + Math.random() * 40) + "px";
  stamp.textContent = new Date().toISOString() + " " + performance.now().toFixed(1);
  requestAnimationFrame(place);
}
place();
tl.to("#mover", { x: 280, duration: DURATION, ease: "none" }, 0);
"""


def write_random(directory: Path, *, id: str = "random", duration: float = 1, fps: int = 30) -> Path:
    """A page that places a dot with Math.random and Date.now and prints the clock, every frame."""
    return write_composition(
        directory,
        id=id,
        duration=duration,
        fps=fps,
        body_html=RANDOM_HTML,
        css=RANDOM_CSS,
        script=RANDOM_SCRIPT.replace("DURATION", str(duration)),
    )
