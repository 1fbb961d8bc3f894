"""render_chunk: render frames [start, end) of a plan into one concat-safe segment.

Pure function over local paths; no network. Before any frame: the plan files this chunk needs are
verified against the manifest, the index against the plan, and this worker's ffmpeg and Chrome
against the versions the plan recorded. Same plan + index → byte-identical output, so a retried
task overwrites its output with the same bytes. Every chunk carries its identity (plan hash, index,
frame range; see chunk_identity), which assemble verifies before joining.

A process that renders several chunks of one plan (a warm Lambda container, a pool worker) keeps the
page between them when its frames depend on the seek time alone (``app.engine.warm_page``): the next
chunk seeks instead of loading the composition again, with the same bytes as on a new page.
"""

from __future__ import annotations

import io
import os
import tarfile
import tempfile
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from app.distributed import layout
from app.distributed.chunk_identity import IDENTITY_MEMBER, TAG_KEY, ChunkIdentity
from app.distributed.manifest import chunk_role, read_manifest, sha256_file, verify_plan_files, write_atomic
from app.engine import warm_page
from app.engine.capture import CaptureSession
from app.engine.chrome import acquire_browser
from app.engine.encoder import FRAME_NAME, StreamingEncoder
from app.engine.ffmpeg import ffmpeg_version
from app.engine.formats import format_spec
from app.engine.remote_assets import RemoteAssets
from app.engine.render import capture_range
from app.engine.server import ProjectServer
from app.errors import BrowserVersionMismatchError, ChunkIndexOutOfRangeError, FfmpegVersionMismatchError

SEQUENCE_CHUNK_EXTENSION = ".tar"


class ChunkResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    index: int
    output: Path
    sha256: str
    frames: int
    start_frame: int
    end_frame: int
    boot_seconds: float  # a new page: load to ready and warmed up; a kept page (page_reused): taking it over
    capture_seconds: float
    encode_seconds: float
    duration_ms: int
    page_reused: bool = False  # the page of an earlier chunk of this plan, kept by this process


def chunk_extension(fmt: str) -> str:
    spec = format_spec(fmt)
    return SEQUENCE_CHUNK_EXTENSION if spec.is_sequence else spec.extension


def _check_index(plan_dir: Path, index: int) -> None:
    count = read_manifest(plan_dir).chunk_count
    if not 0 <= index < count:
        raise ChunkIndexOutOfRangeError(
            f"chunk index {index} out of range [0, {count}); re-plan or use an index below {count}"
        )


def _check_versions(meta: layout.PlanMeta) -> None:
    worker_ffmpeg = ffmpeg_version()
    if worker_ffmpeg != meta.ffmpeg_version:
        raise FfmpegVersionMismatchError(
            f"this worker has ffmpeg {worker_ffmpeg} but the plan was made with {meta.ffmpeg_version}; "
            "run planner and workers from the same image"
        )
    browser = acquire_browser(meta.capture_mode)
    if browser.version != meta.chrome_version or browser.mode != meta.capture_mode:
        raise BrowserVersionMismatchError(
            f"this worker has Chrome {browser.version} ({browser.mode}) but the plan was made with "
            f"{meta.chrome_version} ({meta.capture_mode}); run planner and workers from the same image"
        )


def render_chunk(plan_dir: Path, index: int, out_path: Path, *, plan_hash: str | None = None) -> ChunkResult:
    started = time.perf_counter()
    _check_index(plan_dir, index)
    manifest = verify_plan_files(plan_dir, chunk_role(index), plan_hash)
    meta = layout.read_meta(plan_dir, manifest.chunk_count)
    _check_versions(meta)
    start, end = meta.chunks[index]
    identity = ChunkIdentity(plan_hash=manifest.plan_hash, index=index, start_frame=start, end_frame=end)
    spec = format_spec(meta.format)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    remote = RemoteAssets.load(plan_dir / layout.REMOTE_DIR)  # fetched at plan time: workers never fetch
    booted = time.perf_counter()
    page, page_reused = _open_page(plan_dir, manifest.plan_hash, meta, remote)
    boot_seconds = time.perf_counter() - booted if page_reused else page.session.boot_seconds
    try:
        session = page.session
        if spec.is_sequence:
            capture_seconds, encode_seconds = _png_chunk(session, identity, out_path)
        else:
            capture_seconds, encode_seconds = _video_chunk(session, meta, identity, out_path)
    except BaseException:
        page.close()
        raise
    warm_page.keep(page)
    return ChunkResult(
        index=index,
        output=out_path,
        sha256=sha256_file(out_path),
        frames=end - start,
        start_frame=start,
        end_frame=end,
        boot_seconds=round(boot_seconds, 3),
        page_reused=page_reused,
        capture_seconds=round(capture_seconds, 3),
        encode_seconds=round(encode_seconds, 3),
        duration_ms=round((time.perf_counter() - started) * 1000),
    )


def _open_page(
    plan_dir: Path, plan_hash: str, meta: layout.PlanMeta, remote: RemoteAssets
) -> tuple[warm_page.WarmPage, bool]:
    """The page this process kept from a chunk of the same plan (True), else the composition loaded anew."""
    browser = acquire_browser(meta.capture_mode)
    project_dir, frames_dir = plan_dir / layout.PROJECT_DIR, plan_dir / layout.FRAMES_DIR
    kept = warm_page.take(plan_hash, browser, project_dir, frames_dir)
    if kept is not None:
        kept.session.remote = remote
        return kept, True
    server = ProjectServer(project_dir, frames_dir=frames_dir).__enter__()
    session = CaptureSession(browser, server, meta.capture_settings(), meta.videos, remote)
    page = warm_page.WarmPage(plan_hash, session, server)
    try:
        session.open()
    except BaseException:
        page.close()
        raise
    return page, False


def _video_chunk(
    session: CaptureSession, meta: layout.PlanMeta, identity: ChunkIdentity, out_path: Path
) -> tuple[float, float]:
    start, end = identity.start_frame, identity.end_frame
    spec = format_spec(meta.format)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out_path.name}.", suffix=spec.extension, dir=out_path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    encoder = StreamingEncoder(
        tmp,
        spec,
        meta.codec,
        meta.quality,
        meta.crf,
        fps=meta.fps,
        segment_frames=end - start,
        metadata={TAG_KEY: identity.tag_value()},
    )
    try:
        capture_seconds = capture_range(session, start, end, encoder, None)
        waited = time.perf_counter()
        encoder.finish()
        encode_seconds = time.perf_counter() - waited
        os.replace(tmp, out_path)
    except BaseException:
        encoder.abort()
        tmp.unlink(missing_ok=True)
        raise
    return capture_seconds, encode_seconds


class _TarSink:
    """Collects PNG frames, globally numbered, for a deterministic tar (fixed order, mtime, owner)."""

    def __init__(self, identity: ChunkIdentity) -> None:
        # The identity goes first: assemble reads it before trusting any frame.
        self.frames: list[tuple[str, bytes]] = [(IDENTITY_MEMBER, identity.member_bytes())]

    def write(self, index: int, image: bytes) -> None:
        self.frames.append((FRAME_NAME.format(index + 1), image))

    def finish(self) -> None:
        return None

    def abort(self) -> None:
        del self.frames[1:]

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            for name, data in self.frames:
                info = tarfile.TarInfo(name)
                info.size, info.mtime, info.mode = len(data), 0, 0o644
                tar.addfile(info, io.BytesIO(data))
        return buffer.getvalue()


def _png_chunk(session: CaptureSession, identity: ChunkIdentity, out_path: Path) -> tuple[float, float]:
    sink = _TarSink(identity)
    capture_seconds = capture_range(session, identity.start_frame, identity.end_frame, sink, None)
    waited = time.perf_counter()
    data = sink.to_bytes()
    write_atomic(out_path, data)
    return capture_seconds, time.perf_counter() - waited
