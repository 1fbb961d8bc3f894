#!/usr/bin/env python3
"""BeginFrame probe: launch the configured Chrome exactly as the engine does and check that
HeadlessExperimental.beginFrame returns an image with the expected pixels.

Prints one JSON object. Exit codes: 0 pass, 1 fail (BeginFrame unusable: renders would fall back to
the slower screenshot path, and the plan/worker versions would not match a BeginFrame plan),
2 harness error (Chrome or Playwright missing, launch failed).
"""

from __future__ import annotations

import json
import sys
import time

PROBE_PAGE = "data:text/html,<body style='margin:0;background:rgb(255,0,0)'></body>"


def main() -> int:
    started = time.perf_counter()
    result: dict[str, object] = {"probe": "beginframe"}
    try:
        from app.engine import chrome
        from app.errors import FramecastError

        result["chrome_path"] = chrome.chrome_path()
        warm = chrome.acquire_browser("beginframe")
    except Exception as exc:
        result.update(status="harness-error", error=f"{type(exc).__name__}: {exc}")
        print(json.dumps(result))
        return 2
    try:
        result.update(chrome_version=warm.version, mode=warm.mode, launch_seconds=round(warm.launch_seconds, 3))
        if warm.mode != "beginframe":
            result.update(status="fail", error="BeginFrame probe failed; the engine fell back to screenshots")
            print(json.dumps(result))
            return 1
        page = warm.new_page(32, 32)
        try:
            page.page.goto(PROBE_PAGE, wait_until="load")
            image = None
            for attempt in range(10):
                image = chrome.begin_frame(page, 5000 + attempt * 33.0, 33.0, "png", 90)
                if image:
                    break
        finally:
            page.close()
        red = _center_pixel(image) if image else None
        passed = red is not None and red[0] > 240 and red[1] < 16 and red[2] < 16
        result.update(
            status="pass" if passed else "fail",
            image_bytes=len(image or b""),
            center_pixel=red,
            seconds=round(time.perf_counter() - started, 3),
        )
        print(json.dumps(result))
        return 0 if passed else 1
    except FramecastError as exc:
        result.update(status="harness-error", error=f"{exc.code}: {exc}")
        print(json.dumps(result))
        return 2
    finally:
        chrome.shutdown_browser()


def _center_pixel(png: bytes) -> list[int] | None:
    import io

    import av

    with av.open(io.BytesIO(png), format="png_pipe") as container:
        for frame in container.decode(video=0):
            # Read the plane's bytes directly: to_ndarray needs numpy, which the image does not ship.
            plane = frame.reformat(format="rgb24").planes[0]
            offset = (frame.height // 2) * plane.line_size + (frame.width // 2) * 3
            return list(bytes(plane)[offset : offset + 3])
    return None


if __name__ == "__main__":
    sys.exit(main())
