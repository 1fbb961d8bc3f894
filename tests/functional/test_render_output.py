"""What a single-machine render writes, per format and codec: streams, frame count, size, timing, quality knobs.

Real Chrome and ffmpeg on a 320x180, 1 s, 30 fps composition with motion on every frame.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from app.engine.output_path import MARKER_NAME
from app.engine.render import RenderOptions, RenderResult, render
from tests.support.compositions import ProjectFactory, write_motion
from tests.support.media_checks import (
    Image,
    decode_frames,
    over_black,
    pixel,
    probe_video,
    psnr,
    read_png,
    sequence_files,
)

pytestmark = pytest.mark.chrome

FRAME_SECONDS = 1 / 30


@pytest.fixture(scope="module")
def project(make_project: ProjectFactory) -> Path:
    return make_project("output", writer=write_motion, duration=1, fps=30)


@pytest.fixture(scope="module")
def renders(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("renders")


def render_to(project: Path, folder: Path, name: str, **options: object) -> RenderResult:
    return render(project, folder / name, RenderOptions.model_validate(options))


@pytest.fixture(scope="module")
def mp4(project: Path, renders: Path) -> RenderResult:
    return render_to(project, renders, "out.mp4")


def test_mp4_is_h264_yuv420p_320x180_with_30_frames_for_one_second(mp4: RenderResult) -> None:
    info = probe_video(mp4.output)
    assert (info.codec, info.pix_fmt, info.width, info.height) == ("h264", "yuv420p", 320, 180)
    assert info.frames == 30
    assert info.fps == 30
    assert info.seconds == pytest.approx(1.0, abs=FRAME_SECONDS / 2)
    assert info.audio_codecs == ()


def test_render_result_describes_the_file_it_wrote(mp4: RenderResult) -> None:
    assert (mp4.frames, mp4.fps, mp4.width, mp4.height) == (30, 30, 320, 180)
    assert mp4.duration_seconds == pytest.approx(1.0)
    assert mp4.size_bytes == mp4.output.stat().st_size > 0
    assert mp4.has_audio is False
    assert mp4.capture_mode == "beginframe"
    assert mp4.warnings == []


def test_mp4_has_its_index_before_the_media_data(mp4: RenderResult) -> None:
    data = mp4.output.read_bytes()
    assert 0 <= data.find(b"moov") < data.find(b"mdat"), "faststart: moov must precede mdat"


def test_no_temporary_files_are_left_beside_the_output(mp4: RenderResult) -> None:
    assert [p.name for p in mp4.output.parent.iterdir() if p.name.startswith(".")] == []


def test_webm_is_vp9_with_30_frames(project: Path, renders: Path) -> None:
    result = render_to(project, renders, "out.webm", format="webm")
    info = probe_video(result.output)
    assert (info.codec, info.width, info.height, info.frames) == ("vp9", 320, 180, 30)
    assert info.seconds == pytest.approx(1.0, abs=FRAME_SECONDS / 2)


def test_webm_declares_its_alpha_channel(project: Path, renders: Path) -> None:
    # WebM keeps alpha (capture is PNG, encode is yuva420p); players only show it when the track says
    # AlphaMode=1, which the demuxer reports as the stream tag alpha_mode (any letter case).
    result = render_to(project, renders, "alpha.webm", format="webm")
    tags = {key.lower(): value for key, value in probe_video(result.output).tags.items()}
    assert tags.get("alpha_mode") == "1", tags
    # And the real Matroska element, not just a tag: AlphaMode (ID 0x53C0) = 1 in the track header.
    data = result.output.read_bytes()
    header = data[: data.find(b"\x1f\x43\xb6\x75")]  # everything before the first Cluster
    assert b"\x53\xc0\x81\x01" in header


def test_mov_is_prores_4444_with_a_real_alpha_channel(project: Path, renders: Path) -> None:
    result = render_to(project, renders, "out.mov", format="mov")
    info = probe_video(result.output)
    assert (info.codec, info.profile, info.frames) == ("prores", "4444", 30)
    # Encoded as yuva444p10le; ffmpeg's ProRes decoder hands 4444 back as 12-bit, so check the family.
    assert info.pix_fmt.startswith("yuva444p"), info.pix_fmt
    with av.open(str(result.output)) as container:
        first = next(container.decode(video=0)).to_ndarray(format="rgba")
    assert pixel(first, (100, 20))[3] == 0, "the page background must be transparent"
    assert pixel(first, (20, 80))[3] == 255, "the box is opaque"


@pytest.fixture(scope="module")
def sequence(project: Path, renders: Path) -> RenderResult:
    return render_to(project, renders, "frames", format="png-sequence")


def test_png_sequence_is_30_numbered_frames_and_no_audio_file(sequence: RenderResult) -> None:
    result = sequence
    files = sequence_files(result.output)
    assert [f.name for f in files] == [f"frame_{i:06d}.png" for i in range(1, 31)]
    # No audio.m4a, nothing else but the marker that lets a later render replace this folder.
    assert sorted(p.name for p in result.output.iterdir()) == [MARKER_NAME] + [f.name for f in files]
    first = read_png(files[0])
    assert first.shape == (180, 320, 4)
    assert result.has_audio is False


def test_png_sequence_replaces_an_older_render_in_the_same_folder(project: Path, renders: Path) -> None:
    target = renders / "again"
    target.mkdir()
    (target / "frame_000099.png").write_bytes(b"stale")
    render_to(project, renders, "again", format="png-sequence")
    assert len(sequence_files(target)) == 30


def test_h265_codec_gives_hevc_tagged_for_apple_players(project: Path, renders: Path) -> None:
    result = render_to(project, renders, "hevc.mp4", codec="h265")
    info = probe_video(result.output)
    assert (info.codec, info.pix_fmt, info.frames) == ("hevc", "yuv420p", 30)
    with av.open(str(result.output)) as container:
        assert container.streams.video[0].codec_context.codec_tag == "hvc1"


def mean_psnr_against(frames: list[Image], reference: list[Image]) -> float:
    assert len(frames) == len(reference)
    return float(np.mean([psnr(a, b) for a, b in zip(frames, reference, strict=True)]))


def test_quality_tier_changes_the_file_and_high_is_closer_to_the_lossless_capture(
    project: Path, renders: Path, sequence: RenderResult
) -> None:
    draft = render_to(project, renders, "draft.mp4", quality="draft")
    high = render_to(project, renders, "high.mp4", quality="high")
    assert draft.size_bytes != high.size_bytes
    # The PNG frames are lossless; their transparent background over black is what the mp4 shows.
    reference = [over_black(read_png(f)) for f in sequence_files(sequence.output)]
    draft_psnr = mean_psnr_against(decode_frames(draft.output), reference)
    high_psnr = mean_psnr_against(decode_frames(high.output), reference)
    assert high_psnr > draft_psnr + 1.0, (draft_psnr, high_psnr)


def test_explicit_crf_is_honoured_lower_crf_bigger_file(project: Path, renders: Path) -> None:
    sizes = [render_to(project, renders, f"crf{crf}.mp4", crf=crf).size_bytes for crf in (40, 24, 8)]
    assert sizes[0] < sizes[1] < sizes[2], sizes


def test_data_fps_is_used_and_fps_option_overrides_it(project: Path, renders: Path) -> None:
    result = render_to(project, renders, "fps25.mp4", fps=25)
    info = probe_video(result.output)
    assert (result.fps, result.frames, info.frames, info.fps) == (25, 25, 25, 25)
