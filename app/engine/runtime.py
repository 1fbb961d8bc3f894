"""The page-side pieces framecast loads into a composition: where they live and how they are configured.

The HyperFrames runtime (``@hyperframes/core``'s ``dist/hyperframe.runtime.iife.js``) and GSAP are
npm packages pinned in ``app/engine/js/package-lock.json`` and installed by
scripts/install-runtime.sh, never committed. Our own scripts (``virtual_time.js``, ``bridge.js``) live
beside that lockfile. ``FRAMECAST_RUNTIME_JS`` may point at another runtime build.
"""

from __future__ import annotations

import functools
import json
import os
import re
from fractions import Fraction
from pathlib import Path
from typing import Any

from app.errors import RuntimeMissingError

JS_DIR = Path(__file__).parent / "js"
_NODE_MODULES = JS_DIR / "node_modules"
RUNTIME_RELATIVE = Path("@hyperframes/core/dist/hyperframe.runtime.iife.js")
# A fixed wall-clock epoch for `new Date()` inside renders: 2025-01-01T00:00:00Z.
VIRTUAL_EPOCH_MS = 1_735_689_600_000
# CDN spellings of GSAP that compositions use; served from the pinned local copy instead.
GSAP_CDN = re.compile(r"^https?://[^/]+/(?:npm/gsap@[^/]+/dist|ajax/libs/gsap/[^/]+|gsap@[^/]+/dist)/([\w.\-]+\.js)$")


def runtime_file() -> Path:
    override = os.environ.get("FRAMECAST_RUNTIME_JS")
    path = Path(override) if override else _NODE_MODULES / RUNTIME_RELATIVE
    if not path.is_file():
        raise RuntimeMissingError(
            f"the HyperFrames page runtime is missing ({path}); run scripts/install-runtime.sh "
            "or set FRAMECAST_RUNTIME_JS"
        )
    return path


@functools.cache
def runtime_version() -> str:
    manifest = _NODE_MODULES / "@hyperframes/core/package.json"
    if os.environ.get("FRAMECAST_RUNTIME_JS") or not manifest.is_file():
        return "custom"
    return str(json.loads(manifest.read_text())["version"])


def gsap_file(name: str) -> Path | None:
    """A file from the pinned GSAP distribution, or None when it has no such file."""
    if "/" in name or name.startswith("."):
        return None
    path = _NODE_MODULES / "gsap" / "dist" / name
    return path if path.is_file() else None


def gsap_cdn_file(url: str) -> Path | None:
    match = GSAP_CDN.match(url)
    return gsap_file(match.group(1)) if match else None


def script_file(name: str) -> Path:
    return JS_DIR / name


def virtual_time_script(fps: Fraction, variables: dict[str, Any] | None) -> str:
    """The pre-page init script: virtual clocks, seeded randomness, render config and variables."""
    # The rate as numerator/denominator, so the page computes frame times exactly like the engine.
    rate = {"num": fps.numerator, "den": fps.denominator}
    config = {"fps": rate, "variables": variables, "epochMs": VIRTUAL_EPOCH_MS}
    # json.dumps output is a valid JS expression; escape '<' so no string can close a script tag.
    literal = json.dumps(config, sort_keys=True).replace("<", "\\u003c")
    return script_file("virtual_time.js").read_text().replace("__FRAMECAST_CONFIG__", literal, 1)
