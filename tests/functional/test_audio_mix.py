"""The audio mix: placement, level, length and failure behaviour, measured on the decoded output."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from app.engine import audio
from app.engine.audio import AAC_FRAME_SAMPLES, SAMPLE_RATE, atempo_chain, mix_audio
from app.engine.composition import read_composition
from app.errors import EncodeError, VideoSourceUnrenderableError
from tests.support.media_fixtures import audio_stream_seconds, decode_audio, make_tone, make_video, rms, write_project

TONE_RMS = 0.125 / 2**0.5  # ffmpeg's sine source: amplitude 1/8
SILENCE = 1e-3
AAC_FRAME_SECONDS = AAC_FRAME_SAMPLES / SAMPLE_RATE


@pytest.fixture
def project(tmp_path: Path) -> Path:
    make_tone(tmp_path / "tone.wav", seconds=3)
    return tmp_path


def mixed(project: Path, body: str, total: float, **kwargs: audio.AudioCodec) -> Path:
    write_project(project, body, duration=total)
    out = project / "out" / "mix.m4a"
    assert mix_audio(read_composition(project), total, out, **kwargs)
    return out


def test_clip_starting_at_one_second_is_silent_before_and_loud_after(project: Path) -> None:
    samples, rate = decode_audio(mixed(project, '<audio id="a" src="tone.wav" data-start="1"></audio>', 3.0))
    assert rms(samples, rate, 0.0, 0.9) < SILENCE
    assert rms(samples, rate, 1.1, 2.0) == pytest.approx(TONE_RMS, rel=0.05)


@pytest.mark.parametrize("total", [2.5, 3.0, 91 / 30])
def test_mix_is_exactly_the_render_length(project: Path, total: float) -> None:
    out = mixed(project, '<audio id="a" src="tone.wav" data-start="0.25"></audio>', total)
    assert audio_stream_seconds(out) == pytest.approx(total, abs=AAC_FRAME_SECONDS)
    with av.open(str(out)) as container:
        stream = container.streams.audio[0]
        assert (stream.codec_context.name, stream.codec_context.sample_rate, stream.codec_context.channels) == (
            "aac",
            SAMPLE_RATE,
            2,
        )


def test_source_longer_than_the_render_is_cut_and_shorter_one_is_padded(project: Path) -> None:
    cut = mixed(project, '<audio id="a" src="tone.wav" data-start="0"></audio>', 1.5)
    assert audio_stream_seconds(cut) == pytest.approx(1.5, abs=AAC_FRAME_SECONDS)
    padded = mixed(project, '<audio id="a" src="tone.wav" data-start="0" data-duration="1"></audio>', 2.0)
    samples, rate = decode_audio(padded)
    assert audio_stream_seconds(padded) == pytest.approx(2.0, abs=AAC_FRAME_SECONDS)
    assert rms(samples, rate, 1.1, 2.0) < SILENCE


def test_volume_half_halves_the_amplitude(project: Path) -> None:
    samples, rate = decode_audio(mixed(project, '<audio id="a" src="tone.wav" data-volume="0.5"></audio>', 2.0))
    assert rms(samples, rate, 0.2, 1.8) == pytest.approx(TONE_RMS / 2, rel=0.1)


def test_overlapping_clips_add_up_without_normalisation(project: Path) -> None:
    body = '<audio id="a" src="tone.wav"></audio><audio id="b" src="tone.wav"></audio>'
    samples, rate = decode_audio(mixed(project, body, 2.0))
    # In phase and unnormalised, two tones sum to twice the amplitude (amix's default would keep it at one).
    assert rms(samples, rate, 0.2, 1.8) == pytest.approx(2 * TONE_RMS, rel=0.05)


def test_mono_source_is_heard_at_full_level_in_both_channels(project: Path) -> None:
    samples, rate = decode_audio(mixed(project, '<audio id="a" src="tone.wav"></audio>', 1.0))
    assert rms(samples[1:], rate, 0.2, 0.8) == pytest.approx(TONE_RMS, rel=0.05)


def test_media_start_and_playback_rate_shorten_what_is_heard(project: Path) -> None:
    body = '<audio id="a" src="tone.wav" data-media-start="1" data-playback-rate="2"></audio>'
    samples, rate = decode_audio(mixed(project, body, 2.0))
    # 2 s of source left after media start, played twice as fast: sound for 1 s, silence after.
    assert rms(samples, rate, 0.1, 0.9) == pytest.approx(TONE_RMS, rel=0.1)
    assert rms(samples, rate, 1.1, 2.0) < SILENCE


def test_looping_clip_repeats_until_the_render_ends(project: Path) -> None:
    make_tone(project / "short.wav", seconds=0.5)
    samples, rate = decode_audio(mixed(project, '<audio id="a" src="short.wav" data-start="0.5" loop></audio>', 3.0))
    assert rms(samples, rate, 0.0, 0.45) < SILENCE
    for start in (0.6, 1.6, 2.6):
        assert rms(samples, rate, start, start + 0.3) == pytest.approx(TONE_RMS, rel=0.05)


def test_video_with_audio_track_is_mixed(project: Path) -> None:
    make_video(project / "clip.mp4", seconds=1, beep_hz=660)
    body = '<video id="v" src="clip.mp4" data-start="0.5" data-has-audio="true" muted></video>'
    samples, rate = decode_audio(mixed(project, body, 2.0))
    assert rms(samples, rate, 0.0, 0.4) < SILENCE
    assert rms(samples, rate, 0.6, 1.4) == pytest.approx(TONE_RMS, rel=0.1)


def test_opus_mix_is_exactly_the_render_length_in_samples(project: Path) -> None:
    out = mixed(project, '<audio id="a" src="tone.wav"></audio>', 1.5, codec="opus")
    with av.open(str(out)) as container:
        assert (container.format.name, container.streams.audio[0].codec_context.name) == ("matroska,webm", "opus")
    samples, _ = decode_audio(out)
    assert samples.shape == (2, round(1.5 * SAMPLE_RATE))


def test_no_audio_sources_returns_false_and_writes_nothing(tmp_path: Path) -> None:
    make_video(tmp_path / "silent.mp4", seconds=1)
    body = '<video id="v" src="silent.mp4" data-has-audio="true"></video><video id="w" src="silent.mp4"></video>'
    write_project(tmp_path, body, duration=1.0)
    out = tmp_path / "out" / "mix.m4a"
    assert mix_audio(read_composition(tmp_path), 1.0, out) is False
    assert not out.parent.exists() or not any(out.parent.iterdir())


def test_clip_starting_after_the_render_end_is_not_mixed(project: Path) -> None:
    write_project(project, '<audio id="a" src="tone.wav" data-start="5"></audio>', duration=2.0)
    assert mix_audio(read_composition(project), 2.0, project / "mix.m4a") is False
    assert not (project / "mix.m4a").exists()


def test_unreadable_source_raises_and_leaves_no_file(tmp_path: Path) -> None:
    (tmp_path / "broken.m4a").write_text("<html>not audio</html>")
    write_project(tmp_path, '<audio id="a" src="broken.m4a"></audio>', duration=1.0)
    out = tmp_path / "out" / "mix.m4a"
    with pytest.raises(VideoSourceUnrenderableError, match=r"broken\.m4a"):
        mix_audio(read_composition(tmp_path), 1.0, out)
    assert not out.exists()


def test_ffmpeg_failure_raises_encode_error_and_keeps_nothing_half_written(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_project(project, '<audio id="a" src="tone.wav"></audio>', duration=1.0)
    out = project / "out" / "mix.m4a"
    out.parent.mkdir()
    out.write_bytes(b"previous")
    monkeypatch.setattr(audio, "mix_filter_graph", lambda tracks, total: "[0:a]nosuchfilter[out]")
    with pytest.raises(EncodeError, match="mixing 1 audio clip"):
        mix_audio(read_composition(project), 1.0, out)
    assert [p.name for p in out.parent.iterdir()] == ["mix.m4a"]
    assert out.read_bytes() == b"previous"


@pytest.mark.parametrize(
    ("rate", "stages"),
    [
        (1.0, []),
        (1.5, ["atempo=1.5"]),
        (5.0, ["atempo=2", "atempo=2", "atempo=1.25"]),
        (0.1, ["atempo=0.5", "atempo=0.5", "atempo=0.5", "atempo=0.8"]),
    ],
)
def test_atempo_stages_stay_within_half_and_double(rate: float, stages: list[str]) -> None:
    assert atempo_chain(rate) == stages
