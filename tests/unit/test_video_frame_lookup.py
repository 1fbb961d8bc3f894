"""Which extracted ``<video>`` frame shows at a global time: windows, loops, holding the last frame."""

from __future__ import annotations

import pytest

from app.engine.media import VideoFrames


def frames(**overrides: object) -> VideoFrames:
    fields: dict[str, object] = {
        "element_id": "clip",
        "directory": "clip",
        "image_format": "jpg",
        "frame_count": 60,
        "fps": 30,
        "start": 1.0,
        "end": 3.0,
        "media_start": 0.0,
        "playback_rate": 1.0,
        "loop": False,
    }
    fields.update(overrides)
    return VideoFrames.model_validate(fields)


def test_first_frame_shows_exactly_at_the_clip_start() -> None:
    assert frames().frame_for_time(1.0) == 0


def test_nothing_shows_before_the_start_or_from_the_end_on() -> None:
    video = frames()
    assert video.frame_for_time(0.999) is None
    assert video.frame_for_time(-1.0) is None
    assert video.frame_for_time(3.0) is None  # the window is [start, end)
    assert video.frame_for_time(10.0) is None


def test_frame_k_shows_at_start_plus_k_over_fps_despite_float_error() -> None:
    video = frames()
    for k in range(60):
        t = 1.0 + k / 30  # k / 30 is inexact in binary; the lookup must still land on k
        assert video.frame_for_time(t) == k
        assert video.frame_for_time(t + 0.5 / 30) == k


def test_last_frame_is_held_when_the_window_outlasts_the_extracted_frames() -> None:
    video = frames(frame_count=45)
    assert video.frame_for_time(1.0 + 44 / 30) == 44
    assert video.frame_for_time(2.9) == 44


def test_playback_rate_is_already_in_the_frames_so_it_does_not_change_the_lookup() -> None:
    assert frames(playback_rate=2.0).frame_for_time(1.5) == 15


def test_looping_clip_wraps_over_one_pass_of_the_source() -> None:
    video = frames(frame_count=30, end=5.0, loop=True, loop_seconds=1.0)
    assert video.frame_for_time(1.0 + 29 / 30) == 29
    assert video.frame_for_time(2.0) == 0
    assert video.frame_for_time(2.0 + 7 / 30) == 7
    assert video.frame_for_time(4.0 + 29 / 30) == 29


def test_loop_pass_of_a_fractional_frame_count_holds_the_last_frame_then_wraps() -> None:
    # A 0.95 s pass at 30 fps is 28.5 frame periods; if only 28 frames came out, frame 27 holds until 28.5.
    video = frames(frame_count=28, end=5.0, loop=True, loop_seconds=0.95)
    assert video.frame_for_time(1.0 + 28.2 / 30) == 27
    assert video.frame_for_time(1.0 + 28.6 / 30) == 0
    assert video.frame_for_time(1.95) == 0


def test_clip_with_no_frames_never_shows() -> None:
    assert frames(frame_count=0).frame_for_time(1.5) is None


@pytest.mark.parametrize(("index", "name"), [(0, "frame_000000.jpg"), (123, "frame_000123.jpg")])
def test_frame_names_are_zero_based_like_the_extraction(index: int, name: str) -> None:
    assert frames().frame_name(index) == name


def test_png_frames_are_named_png() -> None:
    assert frames(image_format="png").frame_name(7) == "frame_000007.png"
