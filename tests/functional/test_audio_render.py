"""A render with an ``<audio>`` clip: the output carries AAC, exactly as long as the video, the clip where it belongs.

The project holds a 1 s, 1 kHz tone placed at data-start="1" in a 2 s composition: silence for the
first second, the tone for the second.
"""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from app.engine.render import RenderOptions, RenderResult, render
from tests.support.compositions import ProjectFactory, write_motion
from tests.support.media_checks import AAC_FRAME_SECONDS, probe_video, sequence_files
from tests.support.media_fixtures import audio_stream_seconds, decode_audio, make_tone, rms

pytestmark = pytest.mark.chrome

TONE_RMS = 0.125 / 2**0.5  # ffmpeg's sine source has amplitude 1/8
SILENCE = 1e-3


@pytest.fixture(scope="module")
def project(make_project: ProjectFactory) -> Path:
    clip = '<audio id="a" src="tone.wav" data-start="1"></audio>'
    folder = make_project("audio", writer=write_motion, duration=2, fps=30, extra_html=clip)
    make_tone(folder / "tone.wav", seconds=1, hz=1000)
    return folder


@pytest.fixture(scope="module")
def mp4(project: Path, tmp_path_factory: pytest.TempPathFactory) -> RenderResult:
    return render(project, tmp_path_factory.mktemp("audio-out") / "out.mp4", RenderOptions())


def test_output_has_one_aac_stream_at_48k(mp4: RenderResult) -> None:
    assert mp4.has_audio is True
    with av.open(str(mp4.output)) as container:
        (stream,) = container.streams.audio
        assert (stream.codec_context.name, stream.codec_context.sample_rate) == ("aac", 48_000)


def test_audio_lasts_exactly_as_long_as_the_video(mp4: RenderResult) -> None:
    assert probe_video(mp4.output).frames == 60
    assert audio_stream_seconds(mp4.output) == pytest.approx(2.0, abs=AAC_FRAME_SECONDS)
    samples, rate = decode_audio(mp4.output)
    assert samples.shape[1] / rate == pytest.approx(2.0, abs=AAC_FRAME_SECONDS)


def test_clip_is_silent_before_its_start_and_loud_during_it(mp4: RenderResult) -> None:
    samples, rate = decode_audio(mp4.output)
    assert rms(samples, rate, 0.0, 0.9) < SILENCE
    assert rms(samples, rate, 1.1, 1.9) == pytest.approx(TONE_RMS, rel=0.1)


def test_png_sequence_writes_the_audio_beside_the_frames(project: Path, tmp_path: Path) -> None:
    result = render(project, tmp_path / "frames", RenderOptions(format="png-sequence"))
    assert result.has_audio is True
    assert len(sequence_files(result.output)) == 60
    audio = result.output / "audio.m4a"
    assert audio_stream_seconds(audio) == pytest.approx(2.0, abs=AAC_FRAME_SECONDS)
    samples, rate = decode_audio(audio)
    assert rms(samples, rate, 0.0, 0.9) < SILENCE < rms(samples, rate, 1.1, 1.9)
