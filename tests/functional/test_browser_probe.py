"""acquire_browser probes BeginFrame on a new browser unless told another process probed this Chrome.

A local pool worker launches without the probe (its plan probes in the main process) and reuses that
browser only for the mode the plan recorded; a screenshot-mode plan relaunches it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.engine import chrome

pytestmark = pytest.mark.chrome


@pytest.fixture
def probes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    calls: list[int] = []
    real = chrome._probe_begin_frame

    def counted(warm: chrome.WarmBrowser) -> bool:
        calls.append(1)
        return real(warm)

    monkeypatch.setattr(chrome, "_probe_begin_frame", counted)
    chrome.shutdown_browser()
    yield calls
    chrome.shutdown_browser()


def test_a_browser_launched_without_the_probe_serves_the_mode_plan_recorded(probes: list[int]) -> None:
    unprobed = chrome.acquire_browser(probe=False)
    assert unprobed.mode == "beginframe" and probes == [] and unprobed.probe == {}
    assert chrome.acquire_browser("beginframe") is unprobed and probes == []  # the chunk's call: reused
    screenshots = chrome.acquire_browser("screenshot")  # plan fell back to screenshots: relaunched
    assert screenshots is not unprobed and screenshots.mode == "screenshot" and not unprobed.browser.is_connected()


def test_a_browser_is_probed_by_default(probes: list[int]) -> None:
    warm = chrome.acquire_browser()
    assert probes == [1] and warm.probe["beginframe"] is True
