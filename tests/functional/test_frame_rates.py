"""Any frame rate from 1 to 120, whole or NTSC (29.97 = 30000/1001 exactly), in every format and in chunks.

Real Chrome and ffmpeg on 320x180, 1 s motion compositions: the output holds exactly the frames the
rational gives for the duration, declares that exact rate, and frame i is stamped i / fps.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import pytest

from app.cli.main import main
from app.distributed import RenderConfig, assemble, plan, render_chunk
from app.distributed.render_chunk import chunk_extension
from app.engine.render import RenderOptions, RenderResult, render
from tests.support.compositions import ProjectFactory, write_motion
from tests.support.media_checks import decode_frames, probe_video, psnr, sequence_files

pytestmark = pytest.mark.chrome

NTSC_30 = Fraction(30000, 1001)
NTSC_FRAMES_PER_SECOND = 30  # ceil(1 s * 29.97): the video covers the composition's duration


@pytest.fixture(scope="module")
def ntsc_project(make_project: ProjectFactory) -> Path:
    return make_project("ntsc", writer=write_motion, duration=1, fps="29.97")


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("frame-rates")


@pytest.fixture(scope="module")
def single_ntsc(ntsc_project: Path, work: Path) -> RenderResult:
    return render(ntsc_project, work / "single.mp4", RenderOptions())


def stream_rate_and_times(path: Path) -> tuple[Fraction, list[Fraction]]:
    """The declared rate of the first video stream and each decoded frame's exact timestamp."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = Fraction(stream.average_rate or 0)
        times = [Fraction(frame.pts) * frame.time_base for frame in container.decode(stream)]
    first = times[0]
    return rate, [t - first for t in times]


def test_12_fps_renders_12_frames_a_second_at_exactly_12_fps(make_project: ProjectFactory, work: Path) -> None:
    project = make_project("twelve", writer=write_motion, duration=1.5, fps=30)
    result = render(project, work / "twelve.mp4", RenderOptions(fps=12))
    rate, times = stream_rate_and_times(result.output)
    assert (result.fps, result.frames, probe_video(result.output).frames) == (12, 18, 18)
    assert rate == 12
    assert times == [Fraction(i, 12) for i in range(18)]


def test_data_fps_29_97_is_the_exact_ntsc_rate_not_29(single_ntsc: RenderResult) -> None:
    rate, times = stream_rate_and_times(single_ntsc.output)
    assert single_ntsc.fps == NTSC_30
    assert single_ntsc.frames == probe_video(single_ntsc.output).frames == NTSC_FRAMES_PER_SECOND
    assert rate == NTSC_30
    assert times == [i / NTSC_30 for i in range(NTSC_FRAMES_PER_SECOND)]


@pytest.mark.parametrize("fmt", ["webm", "mov"])
def test_other_containers_keep_the_ntsc_rate_and_frame_count(ntsc_project: Path, work: Path, fmt: str) -> None:
    result = render(ntsc_project, work / f"single.{fmt}", RenderOptions(format=fmt))  # type: ignore[arg-type]
    rate, times = stream_rate_and_times(result.output)
    assert probe_video(result.output).frames == result.frames == NTSC_FRAMES_PER_SECOND
    assert rate == NTSC_30
    # WebM stamps in milliseconds: within half a millisecond of i / fps; MOV is exact.
    tolerance = Fraction(1, 2000) if fmt == "webm" else Fraction(0)
    assert all(abs(t - i / NTSC_30) <= tolerance for i, t in enumerate(times)), times


def test_png_sequence_at_29_97_has_one_file_per_frame(ntsc_project: Path, work: Path) -> None:
    result = render(ntsc_project, work / "frames", RenderOptions(format="png-sequence"))
    assert len(sequence_files(result.output)) == result.frames == NTSC_FRAMES_PER_SECOND


def test_chunked_29_97_matches_the_single_render_in_frames_and_timestamps(
    ntsc_project: Path, work: Path, single_ntsc: RenderResult
) -> None:
    plan_dir = work / "plan"
    planned = plan(ntsc_project, RenderConfig(max_parallel_chunks=3, min_chunk_frames=1), plan_dir)
    assert (planned.fps, planned.total_frames, planned.chunk_count) == (NTSC_30, NTSC_FRAMES_PER_SECOND, 3)
    chunks = [
        render_chunk(plan_dir, i, work / f"chunk{i}{chunk_extension('mp4')}", plan_hash=planned.plan_hash).output
        for i in range(planned.chunk_count)
    ]
    out = assemble(plan_dir, chunks, work / "chunked.mp4", plan_hash=planned.plan_hash).output
    assert stream_rate_and_times(out) == stream_rate_and_times(single_ntsc.output)
    joined, single = decode_frames(out), decode_frames(single_ntsc.output)
    assert len(joined) == len(single) == NTSC_FRAMES_PER_SECOND
    # Same page time per frame: chunk seams only change the encode (see test_chunk_boundary's threshold).
    assert min(psnr(a, b) for a, b in zip(joined, single, strict=True)) >= 38.0


def test_cli_fps_29_97_with_chunks_renders_the_exact_rate(ntsc_project: Path, work: Path) -> None:
    out = work / "cli.mp4"
    # Override data-fps with another spelling of the same rate, through the CLI's local chunked path.
    assert main(["render", str(ntsc_project), "-o", str(out), "--fps", "30000/1001", "--chunks", "2"]) == 0
    rate, times = stream_rate_and_times(out)
    assert rate == NTSC_30
    assert times == [i / NTSC_30 for i in range(NTSC_FRAMES_PER_SECOND)]
