"""The last chunk's page, kept loaded for the next chunk of the same plan in this process.

A reused Lambda container or a pool worker often renders several chunks of one plan. Opening the
composition again costs a browser context, the page load, readiness and warm-up (about 0.3 s with the
browser already warm); a page that registered a timeline draws each frame from the seek time alone,
so the next chunk only has to seek it. Pages rendered timeline-free (a rAF loop may keep state from
frame to frame), pages that raised errors and pages of another plan are closed instead.

One page is kept per process: chunks of one plan share it, a chunk of another plan closes it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from app.engine.capture import CaptureSession
from app.engine.chrome import WarmBrowser
from app.engine.server import ProjectServer

log = logging.getLogger(__name__)


@dataclass
class WarmPage:
    """An open capture session with the server its page loads from; ``key`` names what was loaded."""

    key: str
    session: CaptureSession
    server: ProjectServer

    def close(self) -> None:
        try:
            self.session.close()
        finally:
            self.server.__exit__(None, None, None)


_kept: WarmPage | None = None


def take(key: str, browser: WarmBrowser, project_dir: Path, frames_dir: Path | None) -> WarmPage | None:
    """The kept page if it holds ``key`` in ``browser`` (now served from these folders), else None.

    A kept page of another key or another browser (relaunched after a crash) is closed here.
    """
    global _kept
    kept, _kept = _kept, None
    if kept is None:
        return None
    if kept.key == key and kept.session.browser is browser and kept.session.is_open():
        kept.server.serve_from(project_dir, frames_dir)  # same plan hash: the same files, maybe elsewhere
        return kept
    kept.close()
    return None


def keep(page: WarmPage) -> None:
    """Keep ``page`` for the next chunk of its plan when it can be reused; close it otherwise."""
    global _kept
    discard()
    if page.session.reusable:
        _kept = page
    else:
        page.close()


def discard() -> None:
    global _kept
    kept, _kept = _kept, None
    if kept is not None:
        try:
            kept.close()
        except Exception as exc:  # its browser may be gone already; nothing is left to free
            log.debug("closing the kept page failed", extra={"error": str(exc)})
