"""Output formats, codecs, CRF and quality tiers: the one list, and what each choice means for ffmpeg."""

from __future__ import annotations

import pytest

from app.engine.formats import (
    CRF_RANGE,
    FORMATS,
    format_spec,
    fps_or_error,
    quality_or_error,
    resolve_codec,
    resolve_crf,
    video_codec_args,
)
from app.errors import FormatNotSupportedError, InputError, InvalidConfigError


def test_the_format_list_is_the_four_documented_formats() -> None:
    assert set(FORMATS) == {"mp4", "webm", "mov", "png-sequence"}


@pytest.mark.parametrize("name", ["avi", "MP4", "gif", "", "png"])
def test_unknown_format_is_format_not_supported_and_lists_the_choices(name: str) -> None:
    with pytest.raises(FormatNotSupportedError) as caught:
        format_spec(name)
    assert caught.value.code == "FORMAT_NOT_SUPPORTED"
    assert isinstance(caught.value, InputError)
    assert repr(name) in caught.value.message
    assert all(fmt in caught.value.message for fmt in FORMATS)


@pytest.mark.parametrize(
    ("fmt", "codec", "image", "alpha"),
    [("mp4", "h264", "jpeg", False), ("webm", "vp9", "png", True), ("mov", "prores", "png", True)],
)
def test_default_codec_and_capture_image_follow_alpha(fmt: str, codec: str, image: str, alpha: bool) -> None:
    spec = format_spec(fmt)
    assert resolve_codec(spec, None) == codec
    assert (spec.capture_image, spec.alpha) == (image, alpha)


def test_png_sequence_is_a_folder_of_png_frames() -> None:
    spec = format_spec("png-sequence")
    assert (spec.is_sequence, spec.extension, spec.capture_image, resolve_codec(spec, None)) == (True, "", "png", "png")


def test_h265_is_allowed_in_mp4() -> None:
    assert resolve_codec(format_spec("mp4"), "h265") == "h265"


@pytest.mark.parametrize(("fmt", "codec"), [("mp4", "vp9"), ("webm", "h264"), ("mov", "h265"), ("mp4", "prores")])
def test_codec_that_does_not_fit_the_format_is_rejected_naming_both(fmt: str, codec: str) -> None:
    with pytest.raises(FormatNotSupportedError) as caught:
        resolve_codec(format_spec(fmt), codec)
    assert repr(codec) in caught.value.message and fmt in caught.value.message


@pytest.mark.parametrize("codec", ["h264", "h265", "vp9"])
def test_crf_at_both_ends_of_the_range_is_accepted(codec: str) -> None:
    low, high = CRF_RANGE[codec]
    assert resolve_crf(codec, "standard", low) == low  # type: ignore[arg-type]
    assert resolve_crf(codec, "standard", high) == high  # type: ignore[arg-type]


@pytest.mark.parametrize(("codec", "crf"), [("h264", 52), ("h264", -1), ("h265", 52), ("vp9", 64), ("vp9", -1)])
def test_crf_outside_the_codec_range_is_invalid_config_naming_the_range(codec: str, crf: int) -> None:
    with pytest.raises(InvalidConfigError) as caught:
        resolve_crf(codec, "standard", crf)  # type: ignore[arg-type]
    low, high = CRF_RANGE[codec]
    assert str(crf) in caught.value.message and f"{low}-{high}" in caught.value.message


@pytest.mark.parametrize("codec", ["h264", "h265", "vp9"])
def test_quality_tiers_order_the_crf_draft_above_standard_above_high(codec: str) -> None:
    draft, standard, high = (resolve_crf(codec, q, None) for q in ("draft", "standard", "high"))  # type: ignore[arg-type]
    assert draft is not None and standard is not None and high is not None
    assert draft > standard > high


def test_h264_standard_tier_is_crf_18() -> None:
    assert resolve_crf("h264", "standard", None) == 18


@pytest.mark.parametrize("codec", ["prores", "png"])
def test_codecs_without_crf_resolve_to_none(codec: str) -> None:
    assert resolve_crf(codec, "high", None) is None  # type: ignore[arg-type]


def test_explicit_crf_reaches_the_encoder_arguments() -> None:
    args = video_codec_args("h264", "standard", 23, fps=30, alpha=False, segment_frames=None)
    assert args[args.index("-crf") + 1] == "23"
    assert args[args.index("-bf") + 1] == "0"


@pytest.mark.parametrize("codec", ["h264", "h265"])
def test_segment_arguments_force_one_keyframe_per_segment(codec: str) -> None:
    args = video_codec_args(codec, "standard", None, fps=30, alpha=False, segment_frames=12)  # type: ignore[arg-type]
    assert args[args.index("-g") + 1] == "12" and args[args.index("-keyint_min") + 1] == "12"
    assert args[args.index("-sc_threshold") + 1] == "0"
    params = args[args.index(f"-x26{codec[-1]}-params") + 1].split(":")
    assert {"scenecut=0", "open-gop=0", "repeat-headers=1"} <= set(params)
    whole = video_codec_args(codec, "standard", None, fps=30, alpha=False, segment_frames=None)  # type: ignore[arg-type]
    assert "-g" not in whole


def test_vp9_segments_turn_alt_ref_off_and_keep_alpha() -> None:
    args = video_codec_args("vp9", "standard", None, fps=30, alpha=True, segment_frames=8)
    assert args[args.index("-auto-alt-ref") + 1] == "0"
    assert args[args.index("-pix_fmt") + 1] == "yuva420p"
    assert args[args.index("-g") + 1] == "8"


def test_prores_is_4444_with_alpha() -> None:
    args = video_codec_args("prores", "standard", None, fps=30, alpha=True, segment_frames=None)
    assert args[args.index("-profile:v") + 1] == "4444"
    assert args[args.index("-pix_fmt") + 1] == "yuva444p10le"


@pytest.mark.parametrize("fps", [1, 12, 24, 25, 29, 30, 31, 50, 60, 120])
def test_whole_frame_rates_from_1_to_120_pass(fps: int) -> None:
    assert fps_or_error(fps) == fps


@pytest.mark.parametrize("fps", [0, 121, -1, 29.5, "abc", float("nan")])
def test_other_frame_rates_are_invalid_config_naming_the_accepted_values(fps: object) -> None:
    with pytest.raises(InvalidConfigError, match=r"1-120, 23\.976, 29\.97, 59\.94") as caught:
        fps_or_error(fps)
    assert repr(fps) in caught.value.message


def test_unknown_quality_is_invalid_config_listing_the_tiers() -> None:
    with pytest.raises(InvalidConfigError, match="draft, standard, high"):
        quality_or_error("ultra")
