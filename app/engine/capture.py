"""Capture: open a composition in a warm browser, wait until it is ready, then seek and grab frames.

Frame ``i`` is the page seeked to ``t = i / fps`` and captured once, with BeginFrame (the default:
frames exist only when we ask for them) or Page.captureScreenshot (the fallback). A session is bound
to one page; the browser outlives it.

Every call into the page after load (readiness polls, warm-up, each seek + capture) runs under a
deadline (``chrome.browser_deadline``): a page that hangs fails with CAPTURE_TIMEOUT naming the frame
instead of blocking for ever. The per-frame deadline scales with the frame's size and can be set with
FRAMECAST_FRAME_TIMEOUT_SECONDS (or ``CaptureSettings.frame_timeout_seconds``).

Readiness: the session polls the bridge's ``readiness()`` and feeds it, with the requests it saw in
flight and the scripts that failed to load, to ``readiness.ReadinessWait``, which decides (ready,
timeline-free with a warning, or a typed error naming what is pending). ``page_time.js``, injected into
every frame after the virtual clock, drives CSS/WAAPI/SVG animation and same-origin iframes from it.
"""

from __future__ import annotations

import base64
import logging
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from app.engine import runtime
from app.engine.chrome import CapturePage, WarmBrowser, begin_frame, browser_deadline
from app.engine.frame_rate import frame_time
from app.engine.readiness import PageState, ReadinessWait
from app.errors import CaptureTimeoutError, InvalidConfigError, PageError

if TYPE_CHECKING:
    from playwright.sync_api import Request, Response, Route

    from app.engine.media import VideoFrames
    from app.engine.remote_assets import RemoteAssets
    from app.engine.server import ProjectServer

log = logging.getLogger(__name__)

READY_POLL_SECONDS = 0.02
# BeginFrames without a screenshot between readiness and the first frame: they let Chrome finish its
# first layout, paint and compositing passes (each costs a raster, up to 10 ms at 1080p).
WARMUP_TICKS = 10
_TRANSPARENT_CSS = "html,body,[data-composition-id]{background:transparent!important}"
FRAME_TIMEOUT_ENV = "FRAMECAST_FRAME_TIMEOUT_SECONDS"
# Software GL takes well under a second for a 1080p frame; a first frame may decode images and fonts.
BASE_FRAME_TIMEOUT_SECONDS = 30.0
FRAME_TIMEOUT_SECONDS_PER_MEGAPIXEL = 10.0
# Resolves true on a frame inside a shader transition, after the video frames are in place (the
# compositor clones the scenes, overlays included): Chrome must then paint the clones before
# _COMPOSITE draws them through the shader.
_SEEK = (
    "async ([t, frames]) => { await window.__hf.seek(t); if (frames) await window.__hf.showVideoFrames(frames);"
    " return window.__hf.prepareComposite(); }"
)
_COMPOSITE = "() => window.__hf.resolveComposite()"


@dataclass(frozen=True)
class CaptureSettings:
    fps: Fraction
    width: int
    height: int
    image: str  # "jpeg" | "png"
    jpeg_quality: int
    transparent: bool
    variables: dict[str, Any] | None
    warmup_ticks: int = WARMUP_TICKS
    ready_timeout_seconds: float = 45.0
    navigation_timeout_seconds: float = 60.0
    frame_timeout_seconds: float | None = None  # None: FRAMECAST_FRAME_TIMEOUT_SECONDS, else by size


def frame_timeout_seconds(width: int, height: int) -> float:
    """The deadline of one seek + capture: the environment's, else 30 s plus 10 s per megapixel."""
    raw = os.environ.get(FRAME_TIMEOUT_ENV, "").strip()
    if not raw:
        return BASE_FRAME_TIMEOUT_SECONDS + FRAME_TIMEOUT_SECONDS_PER_MEGAPIXEL * width * height / 1e6
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise InvalidConfigError(f"{FRAME_TIMEOUT_ENV}={raw[:40]!r} must be a positive number of seconds")
    return value


@dataclass
class CaptureSession:
    """One composition loaded in one page, ready to capture any frame."""

    browser: WarmBrowser
    server: ProjectServer
    settings: CaptureSettings
    videos: Sequence[VideoFrames] = ()
    remote: RemoteAssets | None = None  # fetched before the page opens; the page itself never goes online
    page: CapturePage | None = None
    page_errors: list[str] = field(default_factory=list)
    blocked_requests: list[str] = field(default_factory=list)
    boot_seconds: float = 0.0
    ready_seconds: float = 0.0  # from the load event to readiness: what waiting for the page costs
    warnings: list[str] = field(default_factory=list)
    timeline_driven: bool = False  # every composition registered a timeline: a frame depends on its time alone
    _loading: dict[Request, str] = field(default_factory=dict)
    _failed_scripts: list[str] = field(default_factory=list)
    _ticks: float = 0.0
    _last_frame: bytes | None = None
    _last_video_urls: dict[str, str | None] = field(default_factory=dict)

    @property
    def interval_ms(self) -> float:
        return float(1000 / self.settings.fps)

    @property
    def frame_timeout(self) -> float:
        s = self.settings
        return s.frame_timeout_seconds or frame_timeout_seconds(s.width, s.height)

    def open(self) -> None:
        """Load the page and wait for readiness; raises CaptureTimeoutError/PageError with what is missing."""
        started = time.perf_counter()
        s = self.settings
        self.page = page = self.browser.new_page(s.width, s.height)
        page.page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.page.on("request", self._request_started)
        page.page.on("requestfinished", self._request_finished)
        page.page.on("requestfailed", self._request_failed)
        page.page.on("response", self._response)
        page.context.add_init_script(script=runtime.virtual_time_script(s.fps, s.variables))
        page.context.add_init_script(path=runtime.script_file("page_time.js"))
        page.context.route(lambda url: not url.startswith(self.server.origin), self._route_external)
        if s.transparent:
            page.cdp.send("Emulation.setDefaultBackgroundColorOverride", {"color": {"r": 0, "g": 0, "b": 0, "a": 0}})
        try:
            page.page.goto(self.server.entry_url, wait_until="load", timeout=s.navigation_timeout_seconds * 1000)
        except Exception as exc:
            raise CaptureTimeoutError(f"the composition page did not load: {_first_line(exc)}") from exc
        self.frame_timeout  # noqa: B018  # a bad FRAMECAST_FRAME_TIMEOUT_SECONDS fails before any frame
        if s.transparent:
            with browser_deadline(self.frame_timeout, "styling the transparent page"):
                page.page.add_style_tag(content=_TRANSPARENT_CSS)
        loaded = time.perf_counter()
        self._wait_until_ready()
        self.ready_seconds = time.perf_counter() - loaded
        if page.mode == "beginframe":
            with browser_deadline(self.frame_timeout, "warming up the page"):
                for _ in range(s.warmup_ticks):
                    self._tick(None)
        self.boot_seconds = time.perf_counter() - started

    def page_duration(self) -> float:
        assert self.page is not None
        with browser_deadline(self.frame_timeout, "reading the composition's duration"):
            return float(self.page.page.evaluate("() => window.__hf.duration"))

    def capture(self, index: int) -> bytes:
        """Seek to frame ``index`` and return its image bytes (CAPTURE_TIMEOUT past the frame deadline)."""
        t = float(frame_time(index, self.settings.fps))  # exact rational, rounded once: no drift
        with browser_deadline(self.frame_timeout, f"frame {index} (t={t:.3f} s)"):
            return self._capture(index, t)

    def _capture(self, index: int, t: float) -> bytes:
        assert self.page is not None
        frames = self._video_frame_urls(t)
        try:
            if self.page.page.evaluate(_SEEK, [t, frames]):
                self._paint_composite()
        except Exception as exc:
            raise PageError(
                f"seeking to frame {index} (t={t:.3f} s) failed: {_first_line(exc)}{self._errors()}"
            ) from exc
        if self.page.mode == "beginframe":
            data = self._tick(self.settings.image)
            if data is None:  # Chrome skips the screenshot of a frame without damage: the picture is unchanged
                data = self._last_frame or self._tick(self.settings.image)
        else:
            data = self._screenshot()
        if data is None:
            raise PageError(f"Chrome returned no image for frame {index}{self._errors()}")
        self._last_frame = data
        return data

    def is_open(self) -> bool:
        return self.page is not None and not self.page.page.is_closed()

    @property
    def reusable(self) -> bool:
        """Whether another range of frames may be captured on this page with the same result as on a new one."""
        return self.is_open() and self.timeline_driven and not self.page_errors

    def close(self) -> None:
        if self.page is not None:
            self.page.close()
            self.page = None

    def _paint_composite(self) -> None:
        """Let Chrome paint the compositor's staging clones (drawElementImage reads the last paint), then draw."""
        assert self.page is not None
        if self.page.mode == "beginframe":
            self._tick(None)
        else:
            clip = {"x": 0, "y": 0, "width": 1, "height": 1, "scale": 1}
            self.page.cdp.send("Page.captureScreenshot", {"format": "jpeg", "quality": 1, "clip": clip})
        self.page.page.evaluate(_COMPOSITE)

    def _tick(self, image: str | None) -> bytes | None:
        assert self.page is not None
        self._ticks += self.interval_ms
        return begin_frame(self.page, self._ticks, self.interval_ms, image, self.settings.jpeg_quality)

    def _screenshot(self) -> bytes:
        assert self.page is not None
        s = self.settings
        params: dict[str, Any] = {"format": s.image, "fromSurface": True, "captureBeyondViewport": False}
        params["clip"] = {"x": 0, "y": 0, "width": s.width, "height": s.height, "scale": 1}
        if s.image == "jpeg":
            params.update(quality=s.jpeg_quality, optimizeForSpeed=True)
        return base64.b64decode(self.page.cdp.send("Page.captureScreenshot", params)["data"])

    def _wait_until_ready(self) -> None:
        assert self.page is not None
        wait = ReadinessWait(time.monotonic(), self.settings.ready_timeout_seconds)
        while True:
            with browser_deadline(self.frame_timeout, "waiting for the composition to be ready"):
                reported = self.page.page.evaluate(
                    "() => window.__hf && window.__hf.readiness ? window.__hf.readiness() : {waiting: ['bridge']}"
                )
                state = PageState(
                    waiting=tuple(reported.get("waiting", ())),
                    timelines=tuple(reported.get("timelines", ())),
                    busy=tuple(reported.get("busy", ())),
                    loading=tuple(self._loading.values()),
                    failed_scripts=tuple(self._failed_scripts),
                )
                verdict = wait.observe(state, time.monotonic())
                if verdict.outcome in ("ready", "timeline-free"):
                    self.timeline_driven = verdict.outcome == "ready" and bool(
                        self.page.page.evaluate("() => window.__hf.timelineDriven()")
                    )
                    if verdict.message:
                        log.warning(verdict.message)
                        self.warnings.append(verdict.message)
                    self.page.page.evaluate("(frames) => window.__hf.settle(frames)", self._first_video_frames())
                    return
                if verdict.outcome == "script-failed":
                    raise PageError(verdict.message + self._errors())
                if verdict.outcome == "timeout":
                    raise CaptureTimeoutError(verdict.message + self._errors())
                if self.page.mode == "beginframe":
                    self._tick(None)  # the page's rendering only advances on BeginFrames
            time.sleep(READY_POLL_SECONDS)

    def _first_video_frames(self) -> dict[str, str]:
        return {
            video.element_id: self.server.frame_url(f"{video.directory}/{video.frame_name(0)}")
            for video in self.videos
            if video.frame_count > 0
        }

    def _video_frame_urls(self, t: float) -> dict[str, str | None] | None:
        if not self.videos:
            return None
        urls: dict[str, str | None] = {}
        for video in self.videos:
            frame = video.frame_for_time(t)
            urls[video.element_id] = (
                None if frame is None else self.server.frame_url(f"{video.directory}/{video.frame_name(frame)}")
            )
        changed = urls != self._last_video_urls
        self._last_video_urls = urls
        return urls if changed else None

    def _request_started(self, request: Request) -> None:
        self._loading[request] = request.url

    def _request_finished(self, request: Request) -> None:
        self._loading.pop(request, None)

    def _request_failed(self, request: Request) -> None:
        self._loading.pop(request, None)
        if request.resource_type == "script":
            self._failed_scripts.append(f"{request.url} ({request.failure or 'failed'})")

    def _response(self, response: Response) -> None:
        if response.status >= 400 and response.request.resource_type == "script":
            self._failed_scripts.append(f"{response.url} (HTTP {response.status})")

    def _route_external(self, route: Route, request: Request) -> None:
        local = runtime.gsap_cdn_file(request.url)
        if local is not None:
            route.fulfill(path=local, content_type="text/javascript")
            return
        cached = self.remote.lookup(request.url) if self.remote is not None else None
        if cached is not None:
            # Cross-origin for the page (served from 127.0.0.1): fonts and CORS images need the header.
            route.fulfill(path=cached[0], content_type=cached[1], headers={"Access-Control-Allow-Origin": "*"})
            return
        if request.url.startswith(("data:", "blob:")):
            route.continue_()
            return
        self.blocked_requests.append(request.url)
        log.warning("blocked a network request during render", extra={"url": request.url})
        route.abort()

    def _errors(self) -> str:
        notes = []
        if self.page_errors:
            notes.append("page errors: " + " | ".join(self.page_errors[:3]))
        if self.blocked_requests:
            notes.append(
                "blocked network requests (the page may not go online while capturing, and only files it names "
                "in its HTML or CSS are fetched before; put these in the project): "
                + ", ".join(self.blocked_requests[:3])
            )
        return ("; " + "; ".join(notes)) if notes else ""


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
