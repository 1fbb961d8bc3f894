"""The Chrome adapter: launch chromium-headless-shell through Playwright and open capture pages.

Owns the launch flags (deterministic, software GL), the BeginFrame page recipe, the BeginFrame probe
and the warm browser: a launched browser is kept for the next render in the same process (Lambda
reuses containers), so only the first render pays for the launch. Playwright errors are translated
here into BrowserLaunchError / CaptureTimeoutError.

Deadlines: a page whose scripts never return blocks every Playwright call on it, and Playwright's
``evaluate`` has no timeout. ``browser_deadline`` arms a timer beside such a call; when it fires, the
browser processes this process started are killed (SIGKILL, found through /proc), which fails the
blocked call, and the block raises CaptureTimeoutError naming what it was waiting for. The dead
browser is dropped, so the next render launches a fresh one.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from app.engine.scratch import user_cache_dir
from app.errors import BrowserLaunchError, CaptureTimeoutError, RuntimeMissingError

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, CDPSession, Page, Playwright

log = logging.getLogger(__name__)

CaptureMode = Literal["beginframe", "screenshot"]
CAPTURE_MODES: tuple[CaptureMode, ...] = ("beginframe", "screenshot")
DEFAULT_CHROME_PATHS = ("/usr/lib/chromium/chromium-headless-shell", "/usr/bin/chromium-headless-shell")
LAUNCH_TIMEOUT_MS = 60_000

COMMON_FLAGS = (
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
    "--no-first-run",
    "--font-render-hinting=none",
    "--force-color-profile=srgb",
    # Software GL only: the same pixels on every machine, GPU or not.
    "--use-gl=angle",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--disable-gpu-compositing",
    # HTML-in-canvas (drawElementImage): what @hyperframes/shader-transitions' page-side compositor
    # draws scenes into WebGL textures with; without it shader transitions degrade to hard cuts.
    "--enable-features=CanvasDrawElement",
    # The network is closed at render time; stop Chrome from trying.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-zygote",
)
BEGIN_FRAME_FLAGS = (
    "--deterministic-mode",
    "--enable-begin-frame-control",
    "--run-all-compositor-stages-before-draw",
    "--disable-new-content-rendering-timeout",
    "--disable-threaded-animation",
    "--disable-threaded-scrolling",
    "--disable-checker-imaging",
    "--enable-surface-synchronization",
)
_PROBE_HTML = "data:text/html,<body style='margin:0;background:%23123456'><div>probe</div></body>"


def chrome_path() -> str:
    override = os.environ.get("FRAMECAST_CHROME")
    candidates = (override,) if override else DEFAULT_CHROME_PATHS
    for path in candidates:
        if path and Path(path).is_file():
            return path
    found = shutil.which("chromium-headless-shell")
    if found and not override:
        return found
    raise RuntimeMissingError(
        f"chromium-headless-shell not found (looked in {', '.join(c for c in candidates if c)}); "
        "run scripts/install-runtime.sh or set FRAMECAST_CHROME"
    )


def launch_flags(mode: CaptureMode) -> list[str]:
    return [*COMMON_FLAGS, *(BEGIN_FRAME_FLAGS if mode == "beginframe" else ())]


@dataclass
class CapturePage:
    """One page ready for capture: the Playwright page, its CDP session and how to take a frame."""

    page: Page
    cdp: CDPSession
    context: BrowserContext
    mode: CaptureMode
    width: int
    height: int

    def close(self) -> None:
        try:
            self.context.close()
        except Exception as exc:  # a crashed page must not hide the error that crashed it
            log.debug("closing capture context failed", extra={"error": str(exc)})


@dataclass
class WarmBrowser:
    """A launched browser kept between renders in this process."""

    playwright: Playwright
    browser: Browser
    mode: CaptureMode
    version: str
    launch_seconds: float
    renders: int = 0
    probe: dict[str, Any] = field(default_factory=dict)
    fell_back: bool = False  # asked for BeginFrame, but the probe failed: screenshots for this process

    def new_page(self, width: int, height: int) -> CapturePage:
        if self.mode == "beginframe":
            return _begin_frame_page(self.browser, width, height)
        context = self.browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1)
        page = context.new_page()
        return CapturePage(page, context.new_cdp_session(page), context, "screenshot", width, height)


def _begin_frame_page(browser: Browser, width: int, height: int) -> CapturePage:
    """A page whose frames are produced only by HeadlessExperimental.beginFrame.

    Playwright cannot create such a page itself, but it adopts a target created over CDP inside a
    browser context it owns: find that context's CDP id, create the target there, take the page.
    """
    browser_cdp = browser.new_browser_cdp_session()
    before = set(browser_cdp.send("Target.getBrowserContexts")["browserContextIds"])
    context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1)
    created = set(browser_cdp.send("Target.getBrowserContexts")["browserContextIds"]) - before
    if len(created) != 1:
        context.close()
        raise BrowserLaunchError("could not identify the new browser context for a BeginFrame page")
    params = {
        "url": "about:blank",
        "width": width,
        "height": height,
        "browserContextId": created.pop(),
        "enableBeginFrameControl": True,
    }
    with context.expect_page() as page_info:
        browser_cdp.send("Target.createTarget", params)
    browser_cdp.detach()
    page = page_info.value
    cdp = context.new_cdp_session(page)
    cdp.send("HeadlessExperimental.enable")
    return CapturePage(page, cdp, context, "beginframe", width, height)


def begin_frame(page: CapturePage, ticks: float, interval_ms: float, image: str | None, quality: int) -> bytes | None:
    """Issue one BeginFrame; with ``image`` return the screenshot bytes (None when Chrome had no damage)."""
    params: dict[str, Any] = {"frameTimeTicks": ticks, "interval": interval_ms}
    if image is None:
        params["noDisplayUpdates"] = True
    else:
        shot: dict[str, Any] = {"format": image, "optimizeForSpeed": image == "jpeg"}
        if image == "jpeg":
            shot["quality"] = quality
        params["screenshot"] = shot
    result = page.cdp.send("HeadlessExperimental.beginFrame", params)
    data = result.get("screenshotData")
    return base64.b64decode(data) if data else None


PROBE_SECONDS = 5.0


def _probe_begin_frame(warm: WarmBrowser) -> bool:
    """True when BeginFrame returns an image on this browser (some shell builds dropped it)."""
    try:
        page = warm.new_page(64, 64)
    except Exception as exc:
        log.warning("BeginFrame page could not be created", extra={"error": str(exc)})
        return False
    try:
        page.page.goto(_PROBE_HTML, wait_until="load", timeout=10_000)
        # A loaded machine may need more frames before the first one has damage: try for a while, not
        # a fixed count, so a busy CI runner does not fall back to screenshots by mistake.
        give_up = time.monotonic() + PROBE_SECONDS
        attempt = 0
        while attempt < 10 or time.monotonic() < give_up:
            if begin_frame(page, 1000 + attempt * 33.0, 33.0, "png", 90):
                return True
            attempt += 1
        return False
    except Exception as exc:
        log.warning("BeginFrame probe failed", extra={"error": str(exc)})
        return False
    finally:
        page.close()


def _use_node_compile_cache() -> None:
    """Let Node keep the Playwright driver's compiled code between runs (``NODE_COMPILE_CACHE``, Node 22+).

    The driver loads 7 MB of bundled JavaScript at every start; from the cache it starts with about
    0.12 s less CPU (0.74 → 0.61 CPU-s measured here), for the first frame of every process that
    launches a browser. An explicit ``NODE_COMPILE_CACHE`` is kept; a cache folder that cannot be
    made (a read-only home) means no cache, not an error.
    """
    if "NODE_COMPILE_CACHE" in os.environ:
        return
    folder = user_cache_dir("node-compile-cache")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        log.debug("no node compile cache", extra={"folder": str(folder), "error": str(exc)})
        return
    os.environ["NODE_COMPILE_CACHE"] = str(folder)  # the driver inherits this process's environment


def _launch(mode: CaptureMode) -> WarmBrowser:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    executable = chrome_path()
    started = time.perf_counter()
    _use_node_compile_cache()
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(
            executable_path=executable, args=launch_flags(mode), headless=True, timeout=LAUNCH_TIMEOUT_MS
        )
    except PlaywrightError as exc:
        playwright.stop()
        raise BrowserLaunchError(f"could not launch {executable}: {exc.message.splitlines()[0]}") from exc
    return WarmBrowser(playwright, browser, mode, browser.version, time.perf_counter() - started)


_warm: WarmBrowser | None = None


def acquire_browser(preferred: CaptureMode = "beginframe", *, probe: bool = True) -> WarmBrowser:
    """The warm browser for this process, launched (and probed) on first use.

    ``preferred="beginframe"`` falls back to screenshot mode when the probe fails; the fallback is
    remembered for the life of the process. ``probe=False`` skips the probe of a new browser, for a
    caller that will only use the mode another process probed on this same Chrome (a local pool worker
    renders in the mode its plan recorded).
    """
    global _warm
    reusable = _warm is not None and (_warm.mode == preferred or (preferred == "beginframe" and _warm.fell_back))
    if _warm is not None and reusable and _warm.browser.is_connected():
        _warm.renders += 1
        return _warm
    shutdown_browser()
    warm = _launch(preferred)
    if preferred == "beginframe" and probe:
        probe_started = time.perf_counter()
        passed = _probe_begin_frame(warm)
        warm.probe = {"beginframe": passed, "seconds": round(time.perf_counter() - probe_started, 3)}
        if not passed:
            log.warning("BeginFrame probe failed; falling back to Page.captureScreenshot (slower)")
            _close(warm)
            warm = _launch("screenshot")
            warm.probe, warm.fell_back = {"beginframe": False}, True
    _warm = warm
    return warm


def _close(warm: WarmBrowser) -> None:
    try:
        warm.browser.close()
    finally:
        warm.playwright.stop()


def warm_browser_running() -> bool:
    """Whether this process holds a launched browser (so a caller can close only one it caused)."""
    return _warm is not None


def shutdown_browser() -> None:
    global _warm
    if _warm is not None:
        warm, _warm = _warm, None
        try:
            _close(warm)
        except Exception as exc:  # the process may be exiting; a failed close changes nothing
            log.debug("closing the warm browser failed", extra={"error": str(exc)})


def _child_pids() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:  # the process ended while we looked
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])  # the name in (...) may hold spaces
        children.setdefault(parent, []).append(int(entry))
    return children


def kill_browser_processes() -> int:
    """SIGKILL every Chrome process descended from this process; return how many were killed."""
    try:
        executable = os.path.realpath(chrome_path())
    except RuntimeMissingError:
        return 0
    children, pending, killed = _child_pids(), [os.getpid()], 0
    while pending:
        for pid in children.get(pending.pop(), []):
            pending.append(pid)
            with contextlib.suppress(OSError):
                if os.path.realpath(f"/proc/{pid}/exe") == executable:
                    os.kill(pid, signal.SIGKILL)
                    killed += 1
    return killed


@contextlib.contextmanager
def browser_deadline(seconds: float, what: str) -> Iterator[None]:
    """Run the block with a deadline; past it, kill the browser and raise CAPTURE_TIMEOUT naming ``what``."""
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        log.warning("browser deadline passed; killing Chrome", extra={"what": what, "seconds": seconds})
        kill_browser_processes()

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    try:
        yield
    except Exception as exc:
        if not expired.is_set():
            raise
        _timed_out(seconds, what, exc)
    finally:
        timer.cancel()
    if expired.is_set():
        _timed_out(seconds, what, None)


def _timed_out(seconds: float, what: str, cause: BaseException | None) -> None:
    shutdown_browser()  # it was killed: the next render must launch a new one
    raise CaptureTimeoutError(
        f"{what} did not finish within {seconds:g} s, so Chrome was stopped; a script on the page may never "
        "return (an endless loop in an onUpdate callback?). If frames are only slow, raise "
        "FRAMECAST_FRAME_TIMEOUT_SECONDS"
    ) from cause


def browser_version() -> str:
    """The Chrome version string (launches the warm browser if needed)."""
    return acquire_browser().version
