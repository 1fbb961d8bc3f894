"""Frame rates are exact rationals: one parser, exact frame math, and a backward compatible wire spelling."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest
from pydantic import BaseModel

from app.distributed.config import RenderConfig
from app.engine.frame_rate import (
    FrameRate,
    describe,
    ffmpeg_rate,
    frame_count,
    frame_time,
    parse_frame_rate,
    to_wire,
)
from app.engine.runtime import virtual_time_script
from app.errors import InvalidConfigError

NTSC_30 = Fraction(30000, 1001)


class _Holder(BaseModel):
    fps: FrameRate


@pytest.mark.parametrize(
    ("spelling", "rate"),
    [
        (1, Fraction(1)),
        (120, Fraction(120)),
        ("12", Fraction(12)),
        (30.0, Fraction(30)),
        ("23.976", Fraction(24000, 1001)),
        ("29.97", NTSC_30),
        (29.97, NTSC_30),
        ("59.94", Fraction(60000, 1001)),
        ("30000/1001", NTSC_30),
        (NTSC_30, NTSC_30),
    ],
)
def test_accepted_spellings_parse_to_the_exact_rate(spelling: object, rate: Fraction) -> None:
    assert parse_frame_rate(spelling) == rate


@pytest.mark.parametrize("bad", [0, 121, -1, 29.5, "29.5", "abc", float("nan"), "nan", "inf", "1/0", "30/-1", True, ""])
def test_bad_rates_are_refused_naming_the_accepted_values(bad: object) -> None:
    with pytest.raises(ValueError, match=r"29\.97") as caught:
        parse_frame_rate(bad)
    assert "1-120" in str(caught.value)


def test_an_integer_rate_serialises_as_an_int_and_a_rational_as_num_over_den() -> None:
    assert json.loads(_Holder(fps=30).model_dump_json()) == {"fps": 30}
    assert json.loads(_Holder(fps="29.97").model_dump_json()) == {"fps": "30000/1001"}
    assert _Holder.model_validate_json('{"fps": "30000/1001"}').fps == NTSC_30
    assert (to_wire(Fraction(24)), ffmpeg_rate(NTSC_30), describe(NTSC_30)) == (24, "30000/1001", "29.97 (30000/1001)")


def test_render_config_keeps_old_integer_json_and_refuses_bad_rates_as_invalid_config() -> None:
    assert RenderConfig.parse({"fps": 25}).model_dump(mode="json", by_alias=True)["fps"] == 25
    assert RenderConfig.parse({"fps": "29.97"}).fps == NTSC_30
    with pytest.raises(InvalidConfigError, match="fps"):
        RenderConfig.parse({"fps": 0})


def test_ten_seconds_at_29_97_is_300_frames_with_exact_timestamps() -> None:
    assert frame_count(10.0, NTSC_30) == 300
    assert frame_time(300, NTSC_30) == Fraction(1001, 100)  # 10.01 s exactly
    assert frame_time(1, NTSC_30) == Fraction(1001, 30000)
    # An hour of frames lands exactly where the rational says: nothing accumulates.
    assert frame_time(107892, NTSC_30) == Fraction(107892 * 1001, 30000)


@pytest.mark.parametrize(("fps", "seconds", "frames"), [(1, 10.0, 10), (120, 2.0, 240), (12, 1.5, 18), (24, 0.05, 2)])
def test_frame_counts_at_whole_rates(fps: int, seconds: float, frames: int) -> None:
    assert frame_count(seconds, Fraction(fps)) == frames


def test_the_page_gets_the_rate_as_a_fraction() -> None:
    script = virtual_time_script(NTSC_30, None)
    assert '"fps": {"den": 1001, "num": 30000}' in script
