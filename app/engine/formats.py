"""Output formats, codecs and quality tiers: the one list, and the ffmpeg arguments each one means.

A format decides the capture image (JPEG for opaque output, PNG where alpha is kept), the video codec
arguments and the audio codec of the final mux. ``segment=True`` asks for a concat-safe segment
(DESIGN.md §5): exactly one keyframe at the first frame, closed GOP, no B-frames, headers repeated,
VP9 alt-ref off; ProRes is intra-only anyway.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Final, Literal, get_args

from pydantic import BaseModel, ConfigDict

from app.engine.frame_rate import parse_frame_rate
from app.errors import FormatNotSupportedError, InvalidConfigError

Format = Literal["mp4", "webm", "mov", "png-sequence"]
Codec = Literal["h264", "h265", "vp9", "prores", "png"]
Quality = Literal["draft", "standard", "high"]
CaptureImage = Literal["jpeg", "png"]
AudioCodec = Literal["aac", "opus"]

FORMATS: Final[tuple[str, ...]] = get_args(Format)
QUALITIES: Final[tuple[str, ...]] = get_args(Quality)


class FormatSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Format
    extension: str  # "" for a folder of frames
    codecs: tuple[Codec, ...]
    alpha: bool
    audio_codec: AudioCodec

    @property
    def default_codec(self) -> Codec:
        return self.codecs[0]

    @property
    def capture_image(self) -> CaptureImage:
        return "png" if self.alpha else "jpeg"

    @property
    def is_sequence(self) -> bool:
        return self.name == "png-sequence"


SPECS: Final[dict[str, FormatSpec]] = {
    "mp4": FormatSpec(name="mp4", extension=".mp4", codecs=("h264", "h265"), alpha=False, audio_codec="aac"),
    "webm": FormatSpec(name="webm", extension=".webm", codecs=("vp9",), alpha=True, audio_codec="opus"),
    "mov": FormatSpec(name="mov", extension=".mov", codecs=("prores",), alpha=True, audio_codec="aac"),
    "png-sequence": FormatSpec(name="png-sequence", extension="", codecs=("png",), alpha=True, audio_codec="aac"),
}

# CRF per tier and codec: the x264 column is the familiar 28/18/15; the others are tuned to look alike.
_CRF: Final[dict[str, dict[str, int]]] = {
    "h264": {"draft": 28, "standard": 18, "high": 15},
    "h265": {"draft": 32, "standard": 22, "high": 19},
    "vp9": {"draft": 40, "standard": 31, "high": 24},
}
_X26X_PRESET: Final = {"draft": "ultrafast", "standard": "veryfast", "high": "slow"}
JPEG_QUALITY: Final = {"draft": 80, "standard": 92, "high": 95}
CRF_RANGE: Final = {"h264": (0, 51), "h265": (0, 51), "vp9": (0, 63)}


def format_spec(name: str) -> FormatSpec:
    spec = SPECS.get(name)
    if spec is None:
        raise FormatNotSupportedError(f"format {name!r} is not supported; use one of: {', '.join(FORMATS)}")
    return spec


def resolve_codec(spec: FormatSpec, codec: str | None) -> Codec:
    if codec is None:
        return spec.default_codec
    if codec not in spec.codecs:
        raise FormatNotSupportedError(
            f"codec {codec!r} cannot be used with {spec.name}; use one of: {', '.join(spec.codecs)}"
        )
    return codec


def resolve_crf(codec: Codec, quality: Quality, crf: int | None) -> int | None:
    """The CRF to use, or None for codecs without one (ProRes, PNG)."""
    if codec not in _CRF:
        return None
    if crf is None:
        return _CRF[codec][quality]
    low, high = CRF_RANGE[codec]
    if not low <= crf <= high:
        raise InvalidConfigError(f"crf {crf} is out of range for {codec}; use {low}-{high}")
    return crf


# 4:2:0 chroma halves both dimensions: x264/x265 refuse odd sizes (VP9 and ProRes 4444 accept them).
EVEN_SIZE_CODECS: Final[frozenset[str]] = frozenset({"h264", "h265"})


def check_frame_size(codec: Codec, width: int, height: int) -> None:
    """Refuse a size the codec cannot encode, before any browser or encoder starts."""
    if codec in EVEN_SIZE_CODECS and (width % 2 or height % 2):
        even = f"{width + width % 2}x{height + height % 2}"
        raise FormatNotSupportedError(
            f"{width}x{height} cannot be encoded as {codec} (yuv420p needs an even width and height); "
            f"make the composition {even} (or {width - width % 2}x{height - height % 2}), "
            "or render webm, mov or png-sequence"
        )


def video_codec_args(
    codec: Codec, quality: Quality, crf: int | None, *, fps: Fraction, alpha: bool, segment_frames: int | None
) -> list[str]:
    """ffmpeg output arguments for the video stream (no input or file arguments)."""
    resolved_crf = resolve_crf(codec, quality, crf)
    if codec in ("h264", "h265"):
        return _x26x_args(codec, quality, resolved_crf, segment_frames)
    if codec == "vp9":
        args = ["-c:v", "libvpx-vp9", "-b:v", "0", "-crf", str(resolved_crf), "-deadline", "good", "-cpu-used", "4"]
        args += ["-row-mt", "1", "-auto-alt-ref", "0", "-lag-in-frames", "0"]
        args += ["-pix_fmt", "yuva420p" if alpha else "yuv420p"]
        if segment_frames:
            args += ["-g", str(segment_frames), "-keyint_min", str(segment_frames)]
        return args
    if codec == "prores":
        return ["-c:v", "prores_ks", "-profile:v", "4444", "-vendor", "apl0", "-pix_fmt", "yuva444p10le"]
    raise FormatNotSupportedError(f"codec {codec!r} is not a video codec")


# zimg (zscale) converts in floating point through RGB; point resampling keeps each JPEG chroma sample
# as it is (no blur across blocks). swscale's accurate_rnd path scored the same (50 dB against the lossless
# capture of examples/text-1080p) for 6-7 ms more CPU a 1080p frame, a quarter of the encoder's time.
RGB_709_CHAIN: Final = "zscale=matrixin=470bg:rangein=full:matrix=709:range=limited:filter=point"


def _x26x_args(codec: Codec, quality: Quality, crf: int | None, segment_frames: int | None) -> list[str]:
    preset = _X26X_PRESET[quality]
    # Chrome's JPEGs are full-range BT.601; convert to limited-range BT.709 (tagged, so players agree)
    # through RGB. A direct YUV-to-YUV scale folds JPEG chroma error into luma: backgrounds came out up to
    # 3 levels dark and a test frame scored 39 dB against the page's lossless capture, 45 dB this way
    # (the JPEG itself: 46.7 dB).
    color = ["-vf", RGB_709_CHAIN, "-pix_fmt", "yuv420p"]
    color += ["-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv"]
    if codec == "h264":
        params = ["colorprim=bt709", "transfer=bt709", "colormatrix=bt709"]
        args = ["-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-bf", "0"]
        flag = "-x264-params"
    else:
        params = ["colorprim=bt709", "transfer=bt709", "colormatrix=bt709", "log-level=error"]
        args = ["-c:v", "libx265", "-preset", preset, "-crf", str(crf), "-tag:v", "hvc1", "-bf", "0"]
        flag = "-x265-params"
    if segment_frames:
        n = str(segment_frames)
        args += ["-g", n, "-keyint_min", n, "-sc_threshold", "0"]
        params += ["scenecut=0", "open-gop=0", "repeat-headers=1"]
    return [*args, flag, ":".join(params), *color]


def quality_or_error(value: str) -> Quality:
    if value not in QUALITIES:
        raise InvalidConfigError(f"quality {value!r} is not one of: {', '.join(QUALITIES)}")
    return value  # type: ignore[return-value]  # narrowed by the membership test above


def fps_or_error(value: object) -> Fraction:
    """The exact frame rate ``value`` spells, or INVALID_CONFIG naming the accepted values."""
    try:
        return parse_frame_rate(value)
    except ValueError as exc:
        raise InvalidConfigError(str(exc)) from exc
