"""Small compositions for the compatibility suite (tests/compat): one per kind of page motion.

Every page is a 320x180, 1 s, 30 fps root on black in which something red (and, on two pages, green)
moves as a known function of the time: a 40x40 box whose left edge sits at ``x = 200 * t`` px, or a
canvas cleared to red ``255 * t``. ``box_left`` finds that edge in a decoded frame, so a test can
compare it with the function at the frame's time.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from tests.support.compositions import GSAP_TAG
from tests.support.media_checks import Image

WIDTH, HEIGHT, FPS, DURATION = 320, 180, 30, 1
SPEED = 200  # px per second: the left edge of a moving box is at SPEED * t
RED_ROW, GREEN_ROW = 80, 140  # rows through the red box (top 60) and the green box (top 120)

_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  {head}
  <style>
    * {{ margin: 0; padding: 0; box-sizing: border-box; }}
    body {{ background: #000; }}
    #root {{ position: relative; width: {width}px; height: {height}px; overflow: hidden; background: #000; }}
    .box {{ position: absolute; left: 0; top: 60px; width: 40px; height: 40px; background: #f00; }}
    .box.green {{ top: 120px; background: #0f0; }}
    canvas, svg, iframe {{ position: absolute; left: 0; top: 0; width: {width}px; height: {height}px; border: 0; }}
    {css}
  </style>
</head>
<body>
  <div id="root" data-composition-id="{id}" data-width="{width}" data-height="{height}" data-duration="{duration}"
       data-fps="{fps}"{root_attrs}>
    {body}
  </div>
  {script}
</body>
</html>
"""

MOVE_KEYFRAMES = (
    f"@keyframes move {{ from {{ transform: translateX(0); }} to {{ transform: translateX({SPEED}px); }} }}"
)


def write_page(
    directory: Path,
    *,
    id: str,
    body: str,
    css: str = "",
    script: str = "",
    head: str = "",
    no_timeline: bool = True,
    extra_files: Mapping[str, str] | None = None,
) -> Path:
    """Write ``directory/index.html`` (and ``extra_files``) for one composition; return ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    html = _PAGE.format(
        head=head,
        width=WIDTH,
        height=HEIGHT,
        duration=DURATION,
        fps=FPS,
        css=css,
        id=id,
        root_attrs=" data-no-timeline" if no_timeline else "",
        body=body,
        script=script,
    )
    (directory / "index.html").write_text(html, encoding="utf-8")
    for name, text in (extra_files or {}).items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


# --- one composition per feature: (keyword arguments of write_page) ------------------------------------

CSS_KEYFRAMES = {
    "body": '<div class="box" id="box"></div>',
    "css": MOVE_KEYFRAMES + " #box { animation: move 1s linear both; }",
}

# A rAF callback starts the transition at exactly t = 0.2 s; it then runs 0.5 s, so x = 400 * (t - 0.2).
TRANSITION_STARTS, TRANSITION_SECONDS = 0.2, 0.5
CSS_TRANSITION = {
    "body": '<div class="box" id="box"></div>',
    "css": f"#box {{ transition: transform {TRANSITION_SECONDS}s linear; }}"
    f" #box.go {{ transform: translateX({SPEED}px); }}",
    "script": f"""<script>
  function start(now) {{
    if (now >= {TRANSITION_STARTS * 1000}) document.getElementById("box").classList.add("go");
    else requestAnimationFrame(start);
  }}
  requestAnimationFrame(start);
</script>""",
}

# WAAPI moves the red box; the green one follows document.timeline.currentTime from a rAF loop.
WAAPI = {
    "body": '<div class="box" id="box"></div><div class="box green" id="clock"></div>',
    "script": f"""<script>
  document.getElementById("box").animate(
    [{{ transform: "translateX(0)" }}, {{ transform: "translateX({SPEED}px)" }}],
    {{ duration: 1000, easing: "linear", fill: "both" }});
  const clock = document.getElementById("clock");
  function follow() {{
    clock.style.transform = "translateX(" + document.timeline.currentTime / 1000 * {SPEED} + "px)";
    requestAnimationFrame(follow);
  }}
  requestAnimationFrame(follow);
</script>""",
}

# Canvas 2D from rAF: the red box from the rAF timestamp, the green one from Date.now().
RAF_CANVAS = {
    "body": f'<canvas id="canvas" width="{WIDTH}" height="{HEIGHT}"></canvas>',
    "script": f"""<script>
  const ctx = document.getElementById("canvas").getContext("2d");
  const born = Date.now();
  function draw(now) {{
    ctx.clearRect(0, 0, {WIDTH}, {HEIGHT});
    ctx.fillStyle = "#f00";
    ctx.fillRect(now / 1000 * {SPEED}, 60, 40, 40);
    ctx.fillStyle = "#0f0";
    ctx.fillRect((Date.now() - born) / 1000 * {SPEED}, 120, 40, 40);
    requestAnimationFrame(draw);
  }}
  requestAnimationFrame(draw);
</script>""",
}

# WebGL (SwiftShader) from rAF: the whole canvas is cleared to red = t (so 255 * t in 8 bits).
WEBGL = {
    "body": f'<canvas id="canvas" width="{WIDTH}" height="{HEIGHT}"></canvas>',
    "script": """<script>
  const gl = document.getElementById("canvas").getContext("webgl");
  function draw(now) {
    gl.clearColor(now / 1000, 0, 0, 1);
    gl.clear(gl.COLOR_BUFFER_BIT);
    requestAnimationFrame(draw);
  }
  requestAnimationFrame(draw);
</script>""",
}

# SMIL moves the red rect; CSS keyframes move the green one inside the same SVG.
SVG = {
    "body": f"""<svg width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}">
  <rect x="0" y="60" width="40" height="40" fill="#f00">
    <animate attributeName="x" from="0" to="{SPEED}" dur="1s" fill="freeze" />
  </rect>
  <rect id="css-rect" x="0" y="120" width="40" height="40" fill="#0f0" />
</svg>""",
    "css": MOVE_KEYFRAMES + " #css-rect { animation: move 1s linear both; }",
}

# A same-origin iframe: CSS keyframes move the red box, performance.now() moves the green one.
IFRAME_CHILD = f"""<!doctype html>
<html><head><style>
  * {{ margin: 0; padding: 0; }} body {{ background: #000; }}
  .box {{ position: absolute; left: 0; top: 60px; width: 40px; height: 40px; background: #f00; }}
  .box.green {{ top: 120px; background: #0f0; }}
  {MOVE_KEYFRAMES}
  #box {{ animation: move 1s linear both; }}
</style></head>
<body><div class="box" id="box"></div><div class="box green" id="clock"></div>
<script>
  const clock = document.getElementById("clock");
  function follow() {{
    clock.style.transform = "translateX(" + performance.now() / 1000 * {SPEED} + "px)";
    requestAnimationFrame(follow);
  }}
  requestAnimationFrame(follow);
</script></body></html>
"""
IFRAME = {"body": '<iframe src="child.html"></iframe>', "extra_files": {"child.html": IFRAME_CHILD}}

# A GSAP timeline moving the red box, registered only when ``WHEN`` fires (no data-no-timeline).
LATE_TIMELINE_SCRIPT = f"""<script>
  function register() {{
    const tl = gsap.timeline({{ paused: true }});
    tl.fromTo("#box", {{ x: 0 }}, {{ x: {SPEED}, duration: 1, ease: "none" }}, 0);
    window.__timelines = window.__timelines || {{}};
    window.__timelines["{{id}}"] = tl;
  }}
  WHEN
</script>"""


def late_timeline(id: str, when: str) -> dict[str, object]:
    """A page whose timeline is registered by ``when`` (JS that ends up calling ``register()``)."""
    return {
        "head": GSAP_TAG,
        "body": '<div class="box" id="box"></div>',
        "script": LATE_TIMELINE_SCRIPT.replace("{id}", id).replace("WHEN", when),
        "no_timeline": False,
    }


def box_left(frame: Image, row: int, colour: str) -> int | None:
    """The left edge (x) of the saturated ``colour`` ("red" or "green") on ``row``, or None when absent."""
    line = frame[row].astype(int)
    channel = {"red": 0, "green": 1}[colour]
    others = [c for c in range(3) if c != channel]
    mask = (line[:, channel] > 128) & (line[:, others[0]] < 100) & (line[:, others[1]] < 100)
    xs = np.nonzero(mask)[0]
    return int(xs[0]) if len(xs) else None
