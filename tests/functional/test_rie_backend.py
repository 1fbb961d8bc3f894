"""The RIE backend end to end: S3 on a moto server, the REAL handler behind fake RIE endpoints.

Each endpoint is its own process (``tests.support.fake_rie``), like one RIE container: its own warm
browser, its own environment pointing boto3 at the moto server with the render bucket allowlisted.
The backend talks HTTP to them exactly as it would to the RIE in docker-compose.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from app.aws.handler import lambda_error_class
from app.aws.s3_transport import S3Transport
from app.aws.s3_uri import S3Uri
from app.distributed import assemble, plan, render_chunk
from app.distributed.config import RenderConfig
from app.engine.output_path import MARKER_NAME
from app.engine.render import RenderOptions, render
from app.errors import (
    RETRY_POLICY,
    DurationOutOfRangeError,
    FramecastError,
    MissingPlanArtifactError,
    RenderError,
    S3UriNotAllowedError,
)
from app.local.rie import RieClient, RieRenderResult, _download_sequence, render_via_rie
from tests.support.compositions import write_composition, write_motion
from tests.support.fake_rie import FakeRie, FakeRieProcess, RieStats, spawn_fake_rie
from tests.support.s3_backends import S3Endpoint, moto_server

pytestmark = pytest.mark.chrome

HANDLER = "app.aws.handler:handler"
BUCKET = "framecast-rie"
OTHER_BUCKET = "framecast-not-allowed"
# 30 frames into exactly 4 chunks (8, 8, 7, 7): the default of 10 frames per chunk would allow only 3.
FOUR_CHUNKS = RenderConfig(max_parallel_chunks=4, min_chunk_frames=5)
# Two lossy encodes of the same captures; a misplaced frame of this moving composition scores ~20 dB.
SAME_PICTURE_PSNR_DB = 35.0


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Endpoint]:
    with moto_server() as endpoint:
        client = endpoint.client()
        for bucket in (BUCKET, OTHER_BUCKET):
            client.create_bucket(Bucket=bucket)
        yield endpoint


@pytest.fixture(scope="module")
def transport(s3: S3Endpoint) -> S3Transport:
    return S3Transport(client=s3.client())


def function_env(s3: S3Endpoint) -> dict[str, str]:
    return {**s3.env(), "FRAMECAST_BUCKET_ALLOWLIST": BUCKET}


@contextlib.contextmanager
def endpoints(s3: S3Endpoint, *failures: Mapping[str, Any]) -> Iterator[list[FakeRieProcess]]:
    """One fake RIE process per ``failures`` entry (keyword arguments for spawn_fake_rie)."""
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(spawn_fake_rie(HANDLER, env=function_env(s3), **f)) for f in failures]


@pytest.fixture(scope="module")
def two_endpoints(s3: S3Endpoint) -> Iterator[list[FakeRieProcess]]:
    with endpoints(s3, {}, {}) as fakes:
        yield fakes


@pytest.fixture(scope="module")
def motion(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_motion(tmp_path_factory.mktemp("rie") / "motion")


@pytest.fixture(scope="module")
def reference(motion: Path, tmp_path_factory: pytest.TempPathFactory) -> list[np.ndarray]:
    """The same composition rendered on this machine in one piece: what the chunked render must match."""
    out = tmp_path_factory.mktemp("rie-reference") / "reference.mp4"
    render(motion, out)
    return decode_rgb(out)


def decode_rgb(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def chunk_calls(stats: RieStats) -> list[str]:
    return [name for name in stats.invocations if name.startswith("renderChunk")]


def echo_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event.get("Fail"):  # raised the way app.aws.handler raises it: a class named by the code
        raise lambda_error_class("DURATION_OUT_OF_RANGE")("data-duration='0': the duration must be more than 0")
    return {"Echo": event["Value"], "RequestId": context.aws_request_id}


def no_sleep_allowed(seconds: float) -> None:
    raise AssertionError(f"the backend slept {seconds} s before a retry it must not make")


@dataclass(frozen=True)
class RieRun:
    result: RieRenderResult
    frames: list[np.ndarray]
    progress: list[tuple[str, int, int]]
    stats: list[RieStats]
    leftovers: list[Path]


@pytest.fixture(scope="module")
def four_chunk_run(
    transport: S3Transport, two_endpoints: list[FakeRieProcess], motion: Path, tmp_path_factory: pytest.TempPathFactory
) -> RieRun:
    """One 4-chunk render of ``motion`` over both endpoints, shared by the assertions below."""
    out_dir = tmp_path_factory.mktemp("rie-four")
    progress: list[tuple[str, int, int]] = []
    result = render_via_rie(
        motion,
        out_dir / "motion.mp4",
        FOUR_CHUNKS,
        endpoints=[fake.url for fake in two_endpoints],
        bucket=BUCKET,
        render_id="rie-four",
        progress=lambda stage, done, total: progress.append((stage, done, total)),
        sleep=no_sleep_allowed,
        transport=transport,
    )
    leftovers = [path for path in out_dir.iterdir() if path != result.output]
    stats = [fake.stats() for fake in two_endpoints]
    return RieRun(result, decode_rgb(result.output), progress, stats, leftovers)


@pytest.fixture(scope="module")
def in_process(motion: Path, tmp_path_factory: pytest.TempPathFactory) -> list[np.ndarray]:
    """The same plan config through plan → render_chunk → assemble in this process: no HTTP, no S3."""
    root = tmp_path_factory.mktemp("rie-in-process")
    planned = plan(motion, FOUR_CHUNKS, root / "plan")
    chunks = [root / f"chunk-{index}.mp4" for index in range(planned.chunk_count)]
    for index, chunk in enumerate(chunks):
        render_chunk(root / "plan", index, chunk)
    assemble(root / "plan", chunks, root / "out.mp4")
    return decode_rgb(root / "out.mp4")


def test_four_chunks_are_spread_over_both_endpoints_one_invocation_at_a_time(four_chunk_run: RieRun) -> None:
    first, second = four_chunk_run.stats
    assert first.invocations[0] == "plan" and first.invocations[-1] == "assemble"
    assert chunk_calls(first) and chunk_calls(second), "both endpoints must render chunks"
    assert sorted(chunk_calls(first) + chunk_calls(second)) == [f"renderChunk:{i}" for i in range(4)]
    assert first.max_in_flight == 1 and second.max_in_flight == 1, "never two invocations at once per endpoint"
    assert first.injected_failures == second.injected_failures == 0


def test_the_result_describes_the_render_and_progress_counts_chunks(four_chunk_run: RieRun) -> None:
    result = four_chunk_run.result
    assert result.chunk_count == 4 and result.total_frames == 30 and result.frames_encoded == 30
    assert (result.width, result.height, result.fps, result.format) == (320, 180, 30, "mp4")
    assert result.size_bytes == result.output.stat().st_size
    assert result.output_s3_uri == f"s3://{BUCKET}/outputs/rie-four/motion.mp4"
    assert (result.invocations, result.retries) == (6, 0)  # plan + 4 chunks + assemble
    assert four_chunk_run.progress == [("chunks", n, 4) for n in range(5)]
    assert four_chunk_run.leftovers == [], "no temporary file is left beside the output"


def test_the_rie_render_decodes_exactly_like_the_in_process_pipeline(
    four_chunk_run: RieRun, in_process: list[np.ndarray]
) -> None:
    # The backend must add nothing: same plan config, same frames, whether over HTTP + S3 or not.
    assert len(four_chunk_run.frames) == len(in_process) == 30
    for index, (ours, theirs) in enumerate(zip(four_chunk_run.frames, in_process, strict=True)):
        assert np.array_equal(ours, theirs), f"frame {index} differs"


def test_the_rie_render_has_the_frames_of_a_single_local_render(
    four_chunk_run: RieRun, reference: list[np.ndarray]
) -> None:
    assert len(four_chunk_run.frames) == len(reference)
    # A frame out of place (a chunk in the wrong order, a seam off by one) drops far below this.
    worst = min(psnr(ours, theirs) for ours, theirs in zip(four_chunk_run.frames, reference, strict=True))
    assert worst >= SAME_PICTURE_PSNR_DB, f"worst frame PSNR {worst:.1f} dB"


def test_endpoints_that_fail_once_are_retried_and_the_render_succeeds(
    s3: S3Endpoint, transport: S3Transport, motion: Path, reference: list[np.ndarray], tmp_path: Path
) -> None:
    delays: list[float] = []
    out = tmp_path / "retried.mp4"
    failing = (
        {"fail_first": 1, "failure": "http502", "fail_action": "plan"},
        {"fail_first": 1, "failure": "exit_error", "fail_action": "renderChunk"},
    )
    with endpoints(s3, *failing) as fakes:
        result = render_via_rie(
            motion,
            out,
            RenderConfig(max_parallel_chunks=2, min_chunk_frames=5),
            endpoints=[fake.url for fake in fakes],
            bucket=BUCKET,
            render_id="rie-retried",
            sleep=delays.append,
            transport=transport,
        )
        injected = sum(fake.stats().injected_failures for fake in fakes)

    assert injected >= 1 and result.retries == injected
    assert delays == [RETRY_POLICY.delay_before_retry(1)] * injected
    assert len(decode_rgb(out)) == len(reference)


@pytest.mark.parametrize(
    ("case", "error"),
    [
        pytest.param("zero-duration", DurationOutOfRangeError, id="DURATION_OUT_OF_RANGE"),
        pytest.param("bucket-not-allowed", S3UriNotAllowedError, id="S3_URI_NOT_ALLOWED"),
    ],
)
def test_a_typed_error_stops_the_render_at_once_with_its_code_and_no_output(
    case: str,
    error: type[FramecastError],
    transport: S3Transport,
    two_endpoints: list[FakeRieProcess],
    motion: Path,
    tmp_path: Path,
) -> None:
    if case == "zero-duration":
        project, bucket = write_composition(tmp_path / "zero", id="zero", duration=0), BUCKET
    else:
        project, bucket = motion, OTHER_BUCKET
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    before = [fake.stats().calls for fake in two_endpoints]

    with pytest.raises(error) as raised:
        render_via_rie(
            project,
            out_dir / "never.mp4",
            FOUR_CHUNKS,
            endpoints=[fake.url for fake in two_endpoints],
            bucket=bucket,
            sleep=no_sleep_allowed,
            transport=transport,
        )

    assert raised.value.code == error.code
    after = [fake.stats() for fake in two_endpoints]
    assert [a.calls - b for a, b in zip(after, before, strict=True)] == [1, 0], "one plan call, nothing else"
    assert after[0].invocations[-1] == "plan"
    assert list(out_dir.iterdir()) == []


def test_a_png_sequence_arrives_as_a_folder_equal_to_a_local_render(
    transport: S3Transport, two_endpoints: list[FakeRieProcess], motion: Path, tmp_path: Path
) -> None:
    local = tmp_path / "local-frames"
    render(motion, local, RenderOptions(format="png-sequence"))
    out = tmp_path / "frames"
    out.mkdir()
    (out / "frame_000099.png").write_bytes(b"from an older render")  # replaced as a whole, never merged into

    result = render_via_rie(
        motion,
        out,
        RenderConfig(format="png-sequence", max_parallel_chunks=2, min_chunk_frames=5),
        endpoints=[fake.url for fake in two_endpoints],
        bucket=BUCKET,
        render_id="rie-png",
        sleep=no_sleep_allowed,
        transport=transport,
    )

    assert result.output_s3_uri == f"s3://{BUCKET}/outputs/rie-png/frames/"
    names = sorted(path.name for path in out.iterdir() if path.name != MARKER_NAME)
    assert names == sorted(path.name for path in local.iterdir() if path.name != MARKER_NAME)
    assert names == [f"frame_{n:06d}.png" for n in range(1, 31)]
    assert (out / MARKER_NAME).is_file(), "a sequence output is marked as framecast's, so a later render may replace it"
    for name in names:
        assert (out / name).read_bytes() == (local / name).read_bytes(), f"{name} differs"
    assert result.size_bytes == sum(path.stat().st_size for path in out.iterdir())
    assert sorted(path.name for path in tmp_path.iterdir()) == ["frames", "local-frames"]


def test_a_sequence_output_is_fetched_frame_by_frame_into_a_folder_that_replaces_the_old_one(
    transport: S3Transport, tmp_path: Path
) -> None:
    prefix = S3Uri(BUCKET, "outputs/rie-seq/frames/")
    files = {f"frame_{n:06d}.png": f"png {n}".encode() for n in range(1, 4)} | {"audio.m4a": b"aac"}
    for name, data in files.items():
        transport.put_bytes(prefix.child(name), data)
    out = tmp_path / "frames"
    out.mkdir()
    (out / "stale.png").write_bytes(b"old")

    size = _download_sequence(transport, prefix, out, frames=3, has_audio=True)

    assert {path.name: path.read_bytes() for path in out.iterdir() if path.name != MARKER_NAME} == files
    assert size == sum(len(data) for data in files.values()) + (out / MARKER_NAME).stat().st_size
    assert sorted(path.name for path in tmp_path.iterdir()) == ["frames"]


def test_a_missing_sequence_frame_fails_and_leaves_the_old_folder_untouched(
    transport: S3Transport, tmp_path: Path
) -> None:
    prefix = S3Uri(BUCKET, "outputs/rie-seq-short/frames/")
    transport.put_bytes(prefix.child("frame_000001.png"), b"png 1")
    out = tmp_path / "frames"
    out.mkdir()
    (out / "kept.png").write_bytes(b"old")

    with pytest.raises(MissingPlanArtifactError):
        _download_sequence(transport, prefix, out, frames=2, has_audio=False)

    assert [path.name for path in tmp_path.iterdir()] == ["frames"]
    assert [path.name for path in out.iterdir()] == ["kept.png"]


def test_the_http_client_speaks_the_rie_protocol_to_an_in_process_fake() -> None:
    delays: list[float] = []
    client = RieClient(sleep=delays.append, timeout=30)
    with FakeRie(echo_handler, fail_first=2, failure="http502") as fake:
        assert client.invoke(fake.url, {"Value": 7})["Echo"] == 7
        with pytest.raises(DurationOutOfRangeError, match="data-duration='0'"):
            client.invoke(fake.url, {"Fail": True})
        stats = fake.stats()
    assert (stats.calls, stats.injected_failures, stats.max_in_flight) == (4, 2, 1)
    assert delays == [RETRY_POLICY.delay_before_retry(1), RETRY_POLICY.delay_before_retry(2)]


def test_an_endpoint_nobody_listens_on_is_retried_then_render_failed() -> None:
    with FakeRie(echo_handler) as fake:
        url = fake.url  # the port is free again once the fake is closed
    delays: list[float] = []
    with pytest.raises(RenderError, match=r"transport error: (ConnectionRefusedError|URLError)"):
        RieClient(sleep=delays.append, timeout=5).invoke(url, {"Value": 1})
    assert len(delays) == RETRY_POLICY.max_attempts
