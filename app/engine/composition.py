"""Static reading of a HyperFrames project: the root composition and its media, before any browser runs.

Owns the authoring contract we rely on (DESIGN.md §3): the root element's ``data-composition-id``,
``data-width``, ``data-height``, ``data-duration``, ``data-fps``; the variable declarations on
``data-composition-variables``; and the timing attributes of ``<audio>``/``<video>`` clips. Everything
else about the page (GSAP, visibility, nested compositions) is the page runtime's business.
"""

from __future__ import annotations

import json
import math
import re
from fractions import Fraction
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from app.engine.frame_rate import ACCEPTED, FrameRate, parse_frame_rate
from app.errors import CompositionInvalidError, DurationOutOfRangeError

ENTRY_FILE = "index.html"
MAX_DURATION_SECONDS = 24 * 3600
MIN_DIMENSION, MAX_DIMENSION = 16, 7680

_REFERENCE = re.compile(r"^\s*([A-Za-z_][\w\-.:]*)\s*(?:([+-])\s*([0-9]*\.?[0-9]+))?\s*$")


class MediaElement(BaseModel):
    """An ``<audio>`` or ``<video>`` clip as authored, with its start resolved to seconds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tag: Literal["audio", "video"]
    element_id: str
    src: str
    start: float
    duration: float | None
    media_start: float = 0.0
    volume: float = 1.0
    playback_rate: float = 1.0
    loop: bool = False
    has_audio: bool
    hidden: bool = False


class Composition(BaseModel):
    """The root composition of a project."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    project_dir: Path
    composition_id: str
    width: int
    height: int
    duration: float | None
    fps: FrameRate | None
    variables_declaration: list[dict[str, Any]]
    media: list[MediaElement]

    @property
    def videos(self) -> list[MediaElement]:
        return [m for m in self.media if m.tag == "video"]

    @property
    def audio_sources(self) -> list[MediaElement]:
        """Clips whose sound is mixed: every ``<audio>`` and ``<video data-has-audio="true">``."""
        return [m for m in self.media if m.has_audio and not m.hidden]


class _Element(BaseModel):
    tag: str
    attrs: dict[str, str]
    depth_in_composition: bool


class _Collector(HTMLParser):
    """Collects the elements we read statically; tracks whether one sits inside a composition."""

    _VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[_Element] = []
        self.html_attrs: dict[str, str] = {}
        self._stack: list[tuple[str, bool]] = []  # (tag, is composition)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "html":
            self.html_attrs = values
        inside = any(is_comp for _, is_comp in self._stack)
        self.elements.append(_Element(tag=tag, attrs=values, depth_in_composition=inside))
        if tag not in self._VOID:
            self._stack.append((tag, "data-composition-id" in values))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: (v if v is not None else "") for k, v in attrs}
        inside = any(is_comp for _, is_comp in self._stack)
        self.elements.append(_Element(tag=tag, attrs=values, depth_in_composition=inside))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._stack) - 1, -1, -1):
            if self._stack[i][0] == tag:
                del self._stack[i:]
                return


def _number(value: str | None, what: str, *, default: float | None = None) -> float | None:
    if value is None or value.strip() == "":
        return default
    try:
        number = float(value)
    except ValueError as exc:
        raise CompositionInvalidError(f"{what} is {value!r}, which is not a number") from exc
    if not math.isfinite(number):
        raise CompositionInvalidError(f"{what} is {value!r}; it must be a finite number")
    return number


def _dimension(root: dict[str, str], name: str) -> int:
    raw = root.get(name)
    if raw is None:
        raise CompositionInvalidError(f'the root composition has no {name}; add {name}="1280" (pixels)')
    value = _number(raw, name)
    if value is None or value != int(value) or not MIN_DIMENSION <= value <= MAX_DIMENSION:
        raise CompositionInvalidError(
            f"{name}={raw!r} must be a whole number of pixels from {MIN_DIMENSION} to {MAX_DIMENSION}"
        )
    return int(value)


def _root_duration(root: dict[str, str]) -> float | None:
    raw = root.get("data-duration", root.get("data-composition-duration"))
    if raw is None or raw.strip() == "":
        return None
    try:
        duration = float(raw)
    except ValueError as exc:
        raise DurationOutOfRangeError(f"data-duration={raw!r} is not a number of seconds") from exc
    check_duration(duration, source=f"data-duration={raw!r}")
    return duration


def check_duration(duration: float, *, source: str) -> None:
    if not math.isfinite(duration) or duration <= 0 or duration > MAX_DURATION_SECONDS:
        raise DurationOutOfRangeError(
            f"{source}: the duration must be more than 0 and at most {MAX_DURATION_SECONDS} s (24 h)"
        )


def _variables_declaration(raw: str | None) -> list[dict[str, Any]]:
    if raw is None or raw.strip() == "":
        return []
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise CompositionInvalidError(f"data-composition-variables is not valid JSON: {exc}") from exc
    if not isinstance(parsed, list) or not all(isinstance(v, dict) and "id" in v for v in parsed):
        raise CompositionInvalidError("data-composition-variables must be a JSON array of objects with an 'id'")
    return parsed


def _root_fps(root: dict[str, str]) -> Fraction | None:
    """``data-fps`` as an exact rate (``29.97`` is 30000/1001, never 29); absent or empty: None."""
    raw = root.get("data-fps")
    if raw is None or raw.strip() == "":
        return None
    try:
        return parse_frame_rate(raw)
    except ValueError as exc:
        raise CompositionInvalidError(
            f"data-fps={raw!r} is not a supported frame rate; use {ACCEPTED}, or leave it out (30)"
        ) from exc


def _find_root(elements: list[_Element]) -> _Element:
    comps = [e for e in elements if "data-composition-id" in e.attrs]
    explicit = [e for e in comps if e.attrs.get("data-root") == "true"]
    top_level = [e for e in comps if not e.depth_in_composition]
    # data-root="true" picks one root among several; without it, two top-level roots are ambiguous.
    for kind, candidates in (('data-root="true" ', explicit), ("top-level ", [] if explicit else top_level)):
        if len(candidates) > 1:
            ids = ", ".join(repr(e.attrs["data-composition-id"][:60]) for e in candidates[:4])
            raise CompositionInvalidError(
                f"{ENTRY_FILE} has {len(candidates)} {kind}composition roots ({ids}); a project renders one root: "
                'nest the others inside it or mark the one to render with data-root="true"'
            )
    for candidates in (explicit, top_level, comps):
        if candidates:
            return candidates[0]
    raise CompositionInvalidError(
        f"{ENTRY_FILE} has no composition root: add data-composition-id, data-width, data-height and "
        "data-duration to the root element"
    )


class _StartResolver:
    """Resolves ``data-start`` values: seconds, or ``clipId [+|- N]`` meaning the end of that clip."""

    def __init__(self, elements: list[_Element]) -> None:
        self._by_id = {e.attrs["id"]: e for e in elements if e.attrs.get("id")}
        self._by_comp = {e.attrs["data-composition-id"]: e for e in elements if "data-composition-id" in e.attrs}

    def start(self, attrs: dict[str, str], seen: frozenset[str] = frozenset()) -> float:
        raw = attrs.get("data-start", "0").strip() or "0"
        try:
            return max(0.0, float(raw))
        except ValueError:
            pass
        match = _REFERENCE.match(raw)
        ref = match.group(1) if match else None
        target = self._by_id.get(ref or "") or self._by_comp.get(ref or "")
        if match is None or target is None or ref in seen:
            raise CompositionInvalidError(f"data-start={raw!r} names no clip; use seconds or 'clipId + N'")
        end = self.start(target.attrs, seen | {ref or ""}) + (_number(target.attrs.get("data-duration"), "") or 0.0)
        offset = float(match.group(3) or 0) * (-1 if match.group(2) == "-" else 1)
        return max(0.0, end + offset)


def _media(elements: list[_Element]) -> list[MediaElement]:
    resolver = _StartResolver(elements)
    media: list[MediaElement] = []
    for index, element in enumerate(e for e in elements if e.tag in ("audio", "video")):
        attrs = element.attrs
        src = attrs.get("src")
        if not src:
            continue
        element_id = attrs.get("id") or f"{element.tag}-{index}"
        what = f"<{element.tag} id={element_id!r}>"
        has_audio = element.tag == "audio" or attrs.get("data-has-audio") == "true"
        media.append(
            MediaElement(
                tag="audio" if element.tag == "audio" else "video",
                element_id=element_id,
                src=src,
                start=resolver.start(attrs),
                duration=_number(attrs.get("data-duration"), f"{what} data-duration"),
                media_start=_number(attrs.get("data-media-start"), f"{what} data-media-start", default=0.0) or 0.0,
                volume=min(
                    3.98, max(0.0, _number(attrs.get("data-volume"), f"{what} data-volume", default=1.0) or 0.0)
                ),
                playback_rate=min(5.0, max(0.1, _number(attrs.get("data-playback-rate"), what, default=1.0) or 1.0)),
                loop="loop" in attrs,
                has_audio=has_audio,
                hidden="data-hidden" in attrs,
            )
        )
    return media


def read_composition(project_dir: Path) -> Composition:
    """Read ``project_dir/index.html`` statically; raise a clear InputError for anything unusable."""
    project_dir = Path(project_dir)
    if not project_dir.is_dir():
        raise CompositionInvalidError(f"project folder {project_dir} does not exist; pass a folder with {ENTRY_FILE}")
    entry = project_dir / ENTRY_FILE
    if not entry.is_file():
        raise CompositionInvalidError(f"{project_dir} has no {ENTRY_FILE}; a project is a folder with {ENTRY_FILE}")
    collector = _Collector()
    collector.feed(entry.read_text(encoding="utf-8", errors="replace"))
    collector.close()
    root = _find_root(collector.elements)
    fps = _root_fps(root.attrs)
    declaration_raw = collector.html_attrs.get(
        "data-composition-variables", root.attrs.get("data-composition-variables")
    )
    return Composition(
        project_dir=project_dir.resolve(),
        composition_id=root.attrs["data-composition-id"],
        width=_dimension(root.attrs, "data-width"),
        height=_dimension(root.attrs, "data-height"),
        duration=_root_duration(root.attrs),
        fps=fps,
        variables_declaration=_variables_declaration(declaration_raw),
        media=_media(collector.elements),
    )
