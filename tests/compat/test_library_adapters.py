"""Animation libraries the HyperFrames runtime has adapters for render frame-exactly and deterministically.

One composition per library (anime.js, d3 transitions, Lottie, three.js; CSS, WAAPI and GSAP have their
own compat tests), each the library pinned from npm for the tests (app/engine/js/package.json
devDependencies) and copied beside index.html, since renders are offline. In each, the library moves a
red 40x40 box (a three.js plane, a Lottie shape) so that its left edge is at ``x = 200 * t`` px, except
d3, whose transition waits 0.3 s first (nothing runs before it, so d3-timer sleeps on a real timer that
seeks must not depend on) and is registered on ``window.__hfD3`` (which must not hold readiness until it
ends). Each composition is rendered twice: the frames must be identical, and at each checked frame the
box must be where the library puts it at that frame's time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.engine.render import RenderOptions, render
from tests.support import compat_pages as pages
from tests.support.compat_pages import FPS, RED_ROW, SPEED, box_left
from tests.support.compositions import ProjectFactory
from tests.support.media_checks import Image, decode_frames
from tests.support.npm_libraries import copy_library

pytestmark = pytest.mark.chrome

FRAMES = (0, 7, 10, 15, 22, 29)  # t = 0, 0.233, 0.333, 0.5, 0.733, 0.967 s
EDGE_TOLERANCE_PX = 2  # chroma subsampling blurs an edge by a pixel or two
BOX = '<div class="box" id="box"></div>'


def linear(t: float) -> int:
    return round(SPEED * t)


# anime.js v4: a paused animation, seeked by the runtime's adapter through window.__hfAnime.
ANIME = {
    "head": '<script src="anime.umd.min.js"></script>',
    "body": BOX,
    "script": f"""<script>
  const animation = anime.animate("#box", {{
    translateX: [0, {SPEED}], duration: 1000, ease: "linear", autoplay: false,
  }});
  window.__hfAnime = [animation];
</script>""",
}

# d3 transitions run on d3-timer, i.e. on the page's (virtual) requestAnimationFrame and performance.now.
D3_DELAY_MS, D3_DURATION_MS = 300, 500
D3 = {
    "head": '<script src="d3.min.js"></script>',
    "body": BOX,
    "script": f"""<script>
  const move = d3.select("#box").transition().delay({D3_DELAY_MS}).duration({D3_DURATION_MS})
    .ease(d3.easeLinear).style("left", "{SPEED}px");
  window.__hfD3 = [move];  // the runtime's d3 adapter contract (it waits for registered transitions)
</script>""",
}


def d3_delayed(t: float) -> int:
    return round(SPEED * min(1.0, max(0.0, (t * 1000 - D3_DELAY_MS) / D3_DURATION_MS)))


# Lottie (lottie-web, SVG renderer): a 40x40 red rectangle whose centre moves from x=20 to x=220 over 30
# frames at 30 fps, found by the runtime's adapter through lottie.getRegisteredAnimations().
LOTTIE_JSON = {
    "v": "5.7.0",
    "fr": FPS,
    "ip": 0,
    "op": FPS,
    "w": pages.WIDTH,
    "h": pages.HEIGHT,
    "nm": "box",
    "ddd": 0,
    "assets": [],
    "layers": [
        {
            "ddd": 0,
            "ind": 1,
            "ty": 4,
            "nm": "box",
            "sr": 1,
            "ks": {
                "o": {"a": 0, "k": 100},
                "r": {"a": 0, "k": 0},
                "p": {
                    "a": 1,
                    "k": [
                        {"i": {"x": [1], "y": [1]}, "o": {"x": [0], "y": [0]}, "t": 0, "s": [20, 80, 0]},
                        {"t": FPS, "s": [20 + SPEED, 80, 0]},
                    ],
                },
                "a": {"a": 0, "k": [0, 0, 0]},
                "s": {"a": 0, "k": [100, 100, 100]},
            },
            "shapes": [
                {"ty": "rc", "p": {"a": 0, "k": [0, 0]}, "s": {"a": 0, "k": [40, 40]}, "r": {"a": 0, "k": 0}},
                {"ty": "fl", "c": {"a": 0, "k": [1, 0, 0, 1]}, "o": {"a": 0, "k": 100}},
            ],
            "ip": 0,
            "op": FPS,
            "st": 0,
            "bm": 0,
        }
    ],
}
LOTTIE = {
    "head": '<script src="lottie.min.js"></script>',
    "body": '<div id="lottie" style="position:absolute;left:0;top:0;width:320px;height:180px"></div>',
    "script": f"""<script>
  lottie.loadAnimation({{
    container: document.getElementById("lottie"), renderer: "svg", loop: false, autoplay: false,
    animationData: {json.dumps(LOTTIE_JSON)},
  }});
</script>""",
}

# three.js (ES module build): an orthographic camera in CSS pixels and a red plane drawn on the runtime's
# hf-seek event at the seek time.
THREE = {
    "body": f'<canvas id="canvas" width="{pages.WIDTH}" height="{pages.HEIGHT}"></canvas>',
    "script": f"""<script type="module">
  import * as THREE from "./three.module.js";
  const renderer = new THREE.WebGLRenderer({{ canvas: document.getElementById("canvas") }});
  renderer.setSize({pages.WIDTH}, {pages.HEIGHT}, false);
  const scene = new THREE.Scene();
  scene.background = new THREE.Color(0x000000);
  const camera = new THREE.OrthographicCamera(0, {pages.WIDTH}, 0, -{pages.HEIGHT}, -1, 1);
  const plane = new THREE.Mesh(new THREE.PlaneGeometry(40, 40), new THREE.MeshBasicMaterial({{ color: 0xff0000 }}));
  scene.add(plane);
  function draw(t) {{
    plane.position.set(20 + {SPEED} * t, -80, 0);
    renderer.render(scene, camera);
  }}
  window.addEventListener("hf-seek", (event) => draw(event.detail.time));
  draw(0);
</script>""",
}

LIBRARIES: dict[str, tuple[dict[str, Any], dict[str, str], Callable[[float], int]]] = {
    # name → (page, {file in node_modules: name in the project}, the box's left edge at t)
    "animejs": (ANIME, {"animejs/dist/bundles/anime.umd.min.js": "anime.umd.min.js"}, linear),
    "d3": (D3, {"d3/dist/d3.min.js": "d3.min.js"}, d3_delayed),
    "lottie": (LOTTIE, {"lottie-web/build/player/lottie.min.js": "lottie.min.js"}, linear),
    "three": (
        THREE,
        {"three/build/three.module.js": "three.module.js", "three/build/three.core.js": "three.core.js"},
        linear,
    ),
}


def render_twice(make_project: ProjectFactory, tmp_path: Path, name: str) -> tuple[list[Image], list[Image]]:
    page, files, _ = LIBRARIES[name]
    project = make_project(name, writer=pages.write_page, id=name, **page)
    for source, target in files.items():
        copy_library(source, project, target)
    first, second = (decode_frames(render(project, tmp_path / f"{run}.mp4", RenderOptions()).output) for run in (1, 2))
    assert len(first) == FPS * pages.DURATION
    return first, second


@pytest.mark.parametrize("name", LIBRARIES.keys())
def test_the_library_puts_the_box_where_it_is_at_each_frame_time_and_renders_identically_twice(
    make_project: ProjectFactory, tmp_path: Path, name: str
) -> None:
    first, second = render_twice(make_project, tmp_path, name)
    for index, (a, b) in enumerate(zip(first, second, strict=True)):
        assert np.array_equal(a, b), f"{name}: frame {index} differs between two renders"
    position = LIBRARIES[name][2]
    for index in FRAMES:
        t = index / FPS
        got, want = box_left(first[index], RED_ROW, "red"), position(t)
        assert got is not None and abs(got - want) <= EDGE_TOLERANCE_PX, (
            f"{name}: frame {index} (t={t:.3f} s): the box's left edge is at {got}, expected {want}"
        )
