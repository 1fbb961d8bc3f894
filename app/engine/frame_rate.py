"""Frame rates as exact rationals: the one parser, the frame math and the wire spelling.

A rate is a ``fractions.Fraction`` between 1 and 120 frames per second. Accepted spellings: a whole
number (``30``, ``"30"``, ``30.0``), the NTSC names ``23.976``, ``29.97`` and ``59.94`` (exactly
24000/1001, 30000/1001 and 60000/1001) and a literal ``"num/den"``. Frame ``i`` is at ``i / fps``
seconds computed exactly, so long renders never drift. On the wire an integer rate stays an int (old
plans and events keep their JSON) and any other rate is the string ``"30000/1001"``.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Annotated, Final

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema

MIN_FPS: Final = 1
MAX_FPS: Final = 120
NTSC_RATES: Final[dict[str, Fraction]] = {
    "23.976": Fraction(24000, 1001),
    "29.97": Fraction(30000, 1001),
    "59.94": Fraction(60000, 1001),
}
ACCEPTED: Final = f"a whole number {MIN_FPS}-{MAX_FPS}, 23.976, 29.97, 59.94 or a fraction such as 30000/1001"


def parse_frame_rate(value: object) -> Fraction:
    """The exact rate ``value`` spells; ValueError naming the accepted values otherwise."""
    rate = _as_fraction(value)
    if rate is None or not MIN_FPS <= rate <= MAX_FPS:
        raise ValueError(f"fps {value!r} is not supported; use {ACCEPTED}")
    return rate


def _as_fraction(value: object) -> Fraction | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, Fraction | int):
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return Fraction(int(value)) if value.is_integer() else NTSC_RATES.get(f"{value:g}")
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text in NTSC_RATES:
        return NTSC_RATES[text]
    num, slash, den = text.partition("/")
    try:
        if slash:
            return Fraction(int(num), int(den)) if int(den) > 0 else None
        number = float(text)
    except ValueError:
        return None
    return _as_fraction(number) if "." in text or number.is_integer() else None


def to_wire(rate: Fraction) -> int | str:
    """An int for a whole rate (backward compatible JSON), else ``"num/den"``."""
    return rate.numerator if rate.denominator == 1 else f"{rate.numerator}/{rate.denominator}"


def ffmpeg_rate(rate: Fraction) -> str:
    """The rate as ffmpeg's ``-r``/``-framerate``/``fps=`` expect it: ``30`` or ``30000/1001``."""
    return str(to_wire(rate))


def frame_time(index: int, rate: Fraction) -> Fraction:
    """Exact start time of frame ``index`` in seconds."""
    return index / rate


def frame_count(duration: float, rate: Fraction) -> int:
    """Frames for ``duration`` seconds: round when within 1e-3 of a whole frame, else ceil.

    The tolerance absorbs float noise in authored durations; otherwise the video covers the duration
    (10 s at 29.97 is 299.7 frame periods: 300 frames).
    """
    exact = Fraction(duration) * rate
    nearest = round(exact)
    return int(nearest if abs(exact - nearest) <= Fraction(1, 1000) else math.ceil(exact))


def describe(rate: Fraction) -> str:
    """For messages: ``30`` or ``29.97 (30000/1001)``."""
    return str(rate.numerator) if rate.denominator == 1 else f"{float(rate):.3f}".rstrip("0") + f" ({rate})"


# Pydantic field type: parses any accepted spelling, serialises as ``to_wire``.
FrameRate = Annotated[
    Fraction,
    PlainValidator(parse_frame_rate),
    PlainSerializer(to_wire, return_type=int | str),
    WithJsonSchema({"anyOf": [{"type": "integer"}, {"type": "string", "pattern": r"^\d+/\d+$"}]}),
]
