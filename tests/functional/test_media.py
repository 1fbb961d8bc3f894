"""Media probing, src path rules and ``<video>`` frame extraction against real ffmpeg-generated files."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import av
import numpy as np
import pytest

from app.engine.composition import MediaElement, read_composition
from app.engine.ffmpeg import run_ffmpeg
from app.engine.media import VideoFrames, extract_all_videos, extract_video_frames, probe_media, resolve_media_path
from app.errors import VideoSourceUnrenderableError
from tests.support.media_fixtures import make_tone, make_video, write_project


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("media-project")
    make_video(root / "clip.mp4", seconds=3, size="160x90", fps=30, beep_hz=880)
    return root


def video(**overrides: object) -> MediaElement:
    fields: dict[str, object] = {"tag": "video", "element_id": "clip", "src": "clip.mp4", "start": 0.0}
    fields |= {"duration": None, "has_audio": False, **overrides}
    return MediaElement.model_validate(fields)


def digest(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def extract(project: Path, out: Path, **overrides: object) -> VideoFrames:
    return extract_video_frames(video(**overrides), project, 30, 10.0, out)


# --- probing ---------------------------------------------------------------------------------------------


def test_probe_reports_duration_size_fps_and_audio(project: Path) -> None:
    info = probe_media(project / "clip.mp4")
    assert info.duration == pytest.approx(3.0, abs=0.05)
    assert (info.width, info.height, info.fps) == (160, 90, 30.0)
    assert info.has_video and info.has_audio and not info.has_alpha
    assert (info.codec, info.audio_codec, info.audio_channels) == ("h264", "aac", 1)


def test_probe_of_audio_only_file_has_no_video(tmp_path: Path) -> None:
    info = probe_media(make_tone(tmp_path / "tone.wav", seconds=1.5))
    assert info.has_audio and not info.has_video
    assert info.audio_duration == pytest.approx(1.5)


def test_probe_of_a_text_file_is_unrenderable_and_names_the_file(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 20)
    with pytest.raises(VideoSourceUnrenderableError, match=r"notes\.mp4.*re-encode"):
        probe_media(text)


def test_probe_of_a_missing_file_is_unrenderable(tmp_path: Path) -> None:
    with pytest.raises(VideoSourceUnrenderableError, match=r"gone\.mp4 does not exist"):
        probe_media(tmp_path / "gone.mp4")


def test_vp9_alpha_is_detected_and_extracted_as_png_with_transparency(tmp_path: Path) -> None:
    source = "color=c=red@0.5:s=32x32:r=10:d=0.5,format=yuva420p"
    run_ffmpeg(
        ["-f", "lavfi", "-i", source, "-c:v", "libvpx-vp9", "-pix_fmt", "yuva420p", tmp_path / "a.webm"],
        what="generating a VP9 clip with alpha",
    )
    assert probe_media(tmp_path / "a.webm").has_alpha
    result = extract_video_frames(video(src="a.webm"), tmp_path, 10, 10.0, tmp_path / "out")
    assert result.image_format == "png" and result.frame_count == 5
    with av.open(str(tmp_path / "out" / result.directory / result.frame_name(0))) as image:
        pixels = next(image.decode(video=0)).to_ndarray(format="rgba")
    assert 100 < int(np.median(pixels[..., 3])) < 160  # half transparent survived decode and PNG


# --- src paths ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("src", "reason"),
    [
        ("../outside.mp4", "outside the project"),
        ("assets/../../outside.mp4", "outside the project"),
        ("/etc/passwd", "not a relative path"),
        ("http://example.com/a.mp4", "remote URL"),
        ("https://example.com/a.mp4", "remote URL"),
        ("//example.com/a.mp4", "remote URL"),
        ("file:///etc/passwd", "file: URL"),
        ("data:video/mp4;base64,AAAA", "data: URL"),
    ],
)
def test_media_src_outside_the_project_is_rejected(tmp_path: Path, src: str, reason: str) -> None:
    with pytest.raises(VideoSourceUnrenderableError, match=reason):
        resolve_media_path(tmp_path, src)


def test_symlink_escaping_the_project_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "project").mkdir()
    (tmp_path / "secret.mp4").write_bytes(b"x")
    (tmp_path / "project" / "link.mp4").symlink_to(tmp_path / "secret.mp4")
    with pytest.raises(VideoSourceUnrenderableError, match="outside the project"):
        resolve_media_path(tmp_path / "project", "link.mp4")


@pytest.mark.parametrize(
    ("src", "relative"),
    [
        ("clip.mp4", "clip.mp4"),
        ("./assets/clip.mp4", "assets/clip.mp4"),
        ("assets/my%20clip.mp4?v=2#t=1", "assets/my clip.mp4"),
    ],
)
def test_relative_src_resolves_inside_the_project(tmp_path: Path, src: str, relative: str) -> None:
    assert resolve_media_path(tmp_path, src) == (tmp_path / relative).resolve()


# --- extraction ----------------------------------------------------------------------------------------------


def test_window_with_media_start_extracts_the_rest_of_the_source(project: Path, tmp_path: Path) -> None:
    result = extract(project, tmp_path, start=0.5, media_start=1.0)
    assert (result.frame_count, result.start) == (60, 0.5)
    assert result.end == pytest.approx(2.5)
    assert len(list((tmp_path / result.directory).iterdir())) == 60


def test_playback_rate_two_shows_the_source_in_half_the_frames(project: Path, tmp_path: Path) -> None:
    normal = extract(project, tmp_path / "normal", media_start=1.0)
    fast = extract(project, tmp_path / "fast", media_start=1.0, playback_rate=2.0)
    assert fast.frame_count == 30
    assert fast.end == pytest.approx(1.0)
    normal_digests, fast_digests = digest(tmp_path / "normal" / "clip"), digest(tmp_path / "fast" / "clip")
    # At rate 2, output frame k is source frame 2k: the very same decoded picture, so the same JPEG bytes.
    for k in (0, 7, 29):
        assert fast_digests[fast.frame_name(k)] == normal_digests[normal.frame_name(2 * k)]


def test_media_start_skips_exactly_that_many_source_frames(project: Path, tmp_path: Path) -> None:
    whole = extract(project, tmp_path / "whole")
    later = extract(project, tmp_path / "later", media_start=1.0)
    assert whole.frame_count == 90
    assert (
        digest(tmp_path / "later" / "clip")[later.frame_name(0)]
        == digest(tmp_path / "whole" / "clip")[whole.frame_name(30)]
    )


def test_data_duration_and_composition_end_both_cut_the_window(project: Path, tmp_path: Path) -> None:
    assert extract(project, tmp_path / "a", duration=1.0).frame_count == 30
    cut = extract_video_frames(video(start=3.5), project, 30, 4.0, tmp_path / "b")
    assert cut.frame_count == 15
    assert cut.end == pytest.approx(4.0)


def test_looping_clip_extracts_one_pass_and_runs_to_the_composition_end(project: Path, tmp_path: Path) -> None:
    result = extract_video_frames(video(loop=True, media_start=1.0), project, 30, 10.0, tmp_path)
    assert result.frame_count == 60
    assert (result.loop_seconds, result.end) == pytest.approx((2.0, 10.0))
    assert result.frame_for_time(2.0) == 0


def test_media_start_beyond_the_source_is_unrenderable(project: Path, tmp_path: Path) -> None:
    with pytest.raises(VideoSourceUnrenderableError, match=r"data-media-start=5 s.*only 3 s long"):
        extract(project, tmp_path, media_start=5.0)


def test_extraction_is_byte_identical_across_runs(project: Path, tmp_path: Path) -> None:
    first = extract(project, tmp_path / "one", media_start=0.4, playback_rate=1.5)
    second = extract(project, tmp_path / "two", media_start=0.4, playback_rate=1.5)
    assert first == second
    assert digest(tmp_path / "one" / "clip") == digest(tmp_path / "two" / "clip")


def test_re_extraction_replaces_the_folder_and_leaves_no_staging_behind(project: Path, tmp_path: Path) -> None:
    extract(project, tmp_path)
    result = extract(project, tmp_path, duration=0.5)
    assert [p.name for p in tmp_path.iterdir()] == ["clip"]
    assert len(list((tmp_path / "clip").iterdir())) == result.frame_count == 15


def test_extract_all_videos_gives_each_element_its_own_safe_folder(project: Path, tmp_path: Path) -> None:
    body = (
        '<video id="a b" src="clip.mp4" data-duration="0.2"></video>'
        '<video id="a_b" src="clip.mp4" data-duration="0.1"></video>'
        '<video id="../up" src="clip.mp4" data-start="1" data-duration="0.1"></video>'
    )
    write_project(project / "sub", body, duration=2.0)
    shutil.copyfile(project / "clip.mp4", project / "sub" / "clip.mp4")
    results = extract_all_videos(read_composition(project / "sub"), 30, 2.0, tmp_path)
    assert [(r.element_id, r.directory, r.frame_count) for r in results] == [
        ("a b", "a_b", 6),
        ("a_b", "a_b-2", 3),
        ("../up", "_up", 3),
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["_up", "a_b", "a_b-2"]
