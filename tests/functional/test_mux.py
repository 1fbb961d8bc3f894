"""The final mux: video copied untouched, audio fitted to the render length, index first for mp4/mov."""

from __future__ import annotations

import struct
from pathlib import Path

import av
import pytest

from app.engine.audio import AAC_FRAME_SAMPLES, SAMPLE_RATE, mix_audio, mux_audio_args
from app.engine.composition import read_composition
from app.engine.mux import mux
from app.errors import EncodeError
from tests.support.media_fixtures import (
    audio_stream_seconds,
    decode_audio,
    make_tone,
    make_video,
    video_packets,
    write_project,
)

AAC_FRAME_SECONDS = AAC_FRAME_SAMPLES / SAMPLE_RATE
SECONDS = 2.0


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2 s H.264 video, a 2 s VP9 video, and AAC mixes of 2 s (exact), 3 s (too long) and 1 s (too short)."""
    root = tmp_path_factory.mktemp("mux")
    make_video(root / "video.mp4", seconds=SECONDS)
    make_video(root / "video.webm", seconds=SECONDS, codec="libvpx-vp9")
    make_tone(root / "project" / "tone.wav", seconds=4)
    write_project(root / "project", '<audio id="a" src="tone.wav" data-start="0.5"></audio>', duration=SECONDS)
    composition = read_composition(root / "project")
    for name, seconds in (("mix.m4a", SECONDS), ("long.m4a", 3.0), ("short.m4a", 1.0)):
        assert mix_audio(composition, seconds, root / name)
    assert mix_audio(composition, SECONDS, root / "mix.webm", codec="opus")
    return root


def top_level_boxes(path: Path) -> list[str]:
    boxes, data, at = [], path.read_bytes(), 0
    while at + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        if size == 1:
            size = struct.unpack(">Q", data[at + 8 : at + 16])[0]
        boxes.append(kind.decode("latin-1"))
        at += size if size else len(data)
    return boxes


def audio_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(container.streams.audio[0]) if p.size]


def test_mp4_copies_video_and_audio_of_the_right_length(media: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    mux(media / "video.mp4", media / "mix.m4a", out, fmt="mp4", total_seconds=SECONDS)
    assert video_packets(out) == video_packets(media / "video.mp4")
    assert audio_packets(out) == audio_packets(media / "mix.m4a")  # already AAC and 2 s: copied, not re-encoded
    assert audio_stream_seconds(out) == pytest.approx(SECONDS, abs=AAC_FRAME_SECONDS)


def test_mp4_index_comes_before_the_media_data(media: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    mux(media / "video.mp4", media / "mix.m4a", out, fmt="mp4", total_seconds=SECONDS)
    boxes = top_level_boxes(out)
    assert boxes.index("moov") < boxes.index("mdat")


@pytest.mark.parametrize("mix", ["long.m4a", "short.m4a"])
def test_audio_of_the_wrong_length_is_fitted_and_never_cuts_the_video(media: Path, tmp_path: Path, mix: str) -> None:
    out = tmp_path / "out.mp4"
    mux(media / "video.mp4", media / mix, out, fmt="mp4", total_seconds=SECONDS)
    assert len(video_packets(out)) == len(video_packets(media / "video.mp4")) == 60
    assert audio_stream_seconds(out) == pytest.approx(SECONDS, abs=AAC_FRAME_SECONDS)


def test_mov_gets_faststart_and_the_copied_streams(media: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mov"
    mux(media / "video.mp4", media / "mix.m4a", out, fmt="mov", total_seconds=SECONDS)
    boxes = top_level_boxes(out)
    assert boxes.index("moov") < boxes.index("mdat")
    assert video_packets(out) == video_packets(media / "video.mp4")
    assert audio_stream_seconds(out) == pytest.approx(SECONDS, abs=AAC_FRAME_SECONDS)


def test_webm_re_encodes_aac_to_opus_of_exactly_the_render_length(media: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.webm"
    mux(media / "video.webm", media / "mix.m4a", out, fmt="webm", total_seconds=SECONDS)
    with av.open(str(out)) as container:
        assert container.streams.audio[0].codec_context.name == "opus"
    assert video_packets(out) == video_packets(media / "video.webm")
    samples, _ = decode_audio(out)
    assert samples.shape[1] == round(SECONDS * SAMPLE_RATE)


def test_webm_copies_an_opus_mix_of_the_right_length(media: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.webm"
    mux(media / "video.webm", media / "mix.webm", out, fmt="webm", total_seconds=SECONDS)
    assert audio_packets(out) == audio_packets(media / "mix.webm")
    samples, _ = decode_audio(out)
    assert samples.shape[1] == round(SECONDS * SAMPLE_RATE)


def test_without_audio_the_video_is_remuxed_with_faststart(media: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    mux(media / "video.mp4", None, out, fmt="mp4", total_seconds=SECONDS)
    with av.open(str(out)) as container:
        assert not container.streams.audio
    assert video_packets(out) == video_packets(media / "video.mp4")
    boxes = top_level_boxes(out)
    assert boxes.index("moov") < boxes.index("mdat")


def test_mux_is_byte_identical_across_runs(media: Path, tmp_path: Path) -> None:
    mux(media / "video.mp4", media / "long.m4a", tmp_path / "a.mp4", fmt="mp4", total_seconds=SECONDS)
    mux(media / "video.mp4", media / "long.m4a", tmp_path / "b.mp4", fmt="mp4", total_seconds=SECONDS)
    assert (tmp_path / "a.mp4").read_bytes() == (tmp_path / "b.mp4").read_bytes()


def test_failed_mux_raises_encode_error_and_leaves_nothing(media: Path, tmp_path: Path) -> None:
    not_video = tmp_path / "frames.txt"
    not_video.write_text("nope")
    with pytest.raises(EncodeError, match=r"muxing out\.mp4"):
        mux(not_video, None, tmp_path / "out.mp4", fmt="mp4", total_seconds=SECONDS)
    assert [p.name for p in tmp_path.iterdir()] == ["frames.txt"]


def test_mux_audio_args_pad_and_cut_in_samples() -> None:
    args = mux_audio_args(2.5, "aac")
    assert args[args.index("-c:a") + 1] == "aac"
    assert args[args.index("-af") + 1] == "aresample=48000,apad=whole_len=120000,atrim=end_sample=120000"
    assert mux_audio_args(1.0, "opus")[1] == "libopus"
