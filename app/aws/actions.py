"""The three Lambda actions: download into a work folder, call the activity, upload, return a small result.

Each action gets an already validated event (URIs allowed) and a fresh work folder the handler removes
afterwards. Before anything is rendered the event's PlanHash must equal the plan manifest's
(PLAN_HASH_MISMATCH). Outputs are uploaded only after the activity succeeded, under deterministic
keys, so a retried task rewrites the same object:

* chunk: ``<ChunkOutputS3Prefix>chunk-<index:05d><ext>`` (``.tar`` for png-sequence: render_chunk
  writes a chunk's frames as one reproducible tar, which assemble unpacks);
* assemble: the file at ``OutputS3Uri``; for png-sequence every file of the output folder (frames and
  ``audio.m4a``) under the ``OutputS3Uri`` prefix.

The activities are injected (``Deps``) and typed by the attributes used here, so tests pass fakes.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Protocol

from app.aws.archive import extract_archive
from app.aws.events import AssembleEvent, AssembleResultOut, ChunkResultOut, PlanEvent, PlanResultOut, RenderChunkEvent
from app.aws.s3_transport import S3ArtifactStore, S3Transport
from app.aws.s3_uri import S3Uri
from app.aws.settings import Settings
from app.distributed import layout
from app.distributed.config import RenderConfig
from app.distributed.manifest import ROLE_ASSEMBLE, PlanManifest, chunk_role, materialize, publish, sha256_file
from app.distributed.render_chunk import chunk_extension
from app.engine.formats import format_spec
from app.errors import (
    ChunkIndexOutOfRangeError,
    FramecastError,
    InvalidEventError,
    MissingPlanArtifactError,
    PlanHashMismatchError,
)


class PlanOutcome(Protocol):
    @property
    def plan_hash(self) -> str: ...
    @property
    def chunk_count(self) -> int: ...
    @property
    def total_frames(self) -> int: ...
    @property
    def fps(self) -> Fraction: ...
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...
    @property
    def format(self) -> str: ...
    @property
    def has_audio(self) -> bool: ...


class ChunkOutcome(Protocol):
    @property
    def output(self) -> Path: ...
    @property
    def frames(self) -> int: ...
    @property
    def boot_seconds(self) -> float: ...


class AssembleOutcome(Protocol):
    @property
    def output(self) -> Path: ...
    @property
    def frames(self) -> int: ...


class PlanActivity(Protocol):
    def __call__(self, project_dir: Path, config: RenderConfig, plan_dir: Path) -> PlanOutcome: ...


class RenderChunkActivity(Protocol):
    def __call__(self, plan_dir: Path, index: int, out_path: Path, *, plan_hash: str | None = None) -> ChunkOutcome: ...


class AssembleActivity(Protocol):
    def __call__(
        self, plan_dir: Path, chunk_paths: list[Path], out_path: Path, *, plan_hash: str | None = None
    ) -> AssembleOutcome: ...


@dataclass(frozen=True)
class Deps:
    """What the handler needs from the outside world; tests replace any part."""

    settings: Settings
    transport: S3Transport
    plan: PlanActivity
    render_chunk: RenderChunkActivity
    assemble: AssembleActivity


def _elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def _missing_project(uri: str) -> FramecastError:
    return InvalidEventError(f"ProjectS3Uri {uri} does not exist; upload the project tarball there first")


def run_plan(event: PlanEvent, deps: Deps, work: Path) -> PlanResultOut:
    started = time.perf_counter()
    archive = work / "project.tar.gz"
    deps.transport.download_file(S3Uri.parse(event.project_s3_uri), archive, missing=_missing_project)
    limits = deps.settings
    project_dir = extract_archive(archive, work / "project", limits.max_archive_bytes, limits.max_archive_members)
    archive.unlink()  # /tmp is shared by every step of this invocation: free it early
    plan_dir = work / "plan"
    result = deps.plan(project_dir, event.config, plan_dir)
    prefix = S3Uri.parse(event.plan_output_s3_prefix)
    manifest_ref = publish(plan_dir, S3ArtifactStore(prefix.bucket, prefix.key, deps.transport))
    return PlanResultOut(
        plan_hash=result.plan_hash,
        chunk_count=result.chunk_count,
        chunk_indexes=list(range(result.chunk_count)),
        total_frames=result.total_frames,
        fps=result.fps,
        width=result.width,
        height=result.height,
        format=result.format,
        has_audio=result.has_audio,
        plan_manifest_s3_uri=manifest_ref,
        duration_ms=_elapsed_ms(started),
    )


def _require_plan_hash(manifest: PlanManifest, expected: str, where: str) -> None:
    if manifest.plan_hash != expected:
        raise PlanHashMismatchError(
            f"the event's PlanHash {expected[:12]}… does not match the plan at {where} ({manifest.plan_hash[:12]}…); "
            "pass the PlanHash that plan returned with this PlanManifestS3Uri"
        )


def _checked_plan(event: RenderChunkEvent | AssembleEvent, deps: Deps) -> tuple[S3ArtifactStore, PlanManifest]:
    """The plan's store and manifest, once the manifest is intact and is the plan the event names."""
    store = S3ArtifactStore.for_manifest(S3Uri.parse(event.plan_manifest_s3_uri), deps.transport)
    manifest = store.get_manifest(event.plan_manifest_s3_uri)
    manifest.verify_hash()
    _require_plan_hash(manifest, event.plan_hash, event.plan_manifest_s3_uri)
    return store, manifest


def _materialize(store: S3ArtifactStore, event: RenderChunkEvent | AssembleEvent, role: str, dest: Path) -> None:
    manifest = materialize(store, event.plan_manifest_s3_uri, role, dest)
    # The manifest is read again by materialize: a re-plan into the same prefix in between must not slip through.
    _require_plan_hash(manifest, event.plan_hash, event.plan_manifest_s3_uri)
    # Output names come from the event's Format; a plan of another format would be stored under a wrong name.
    meta = dest / layout.META_FILE
    planned = json.loads(meta.read_bytes()).get("format") if meta.is_file() else None
    if planned is not None and planned != event.format:
        raise InvalidEventError(
            f"Format {event.format!r} does not match the plan's format {planned!r}; pass the Format that plan returned"
        )


def run_render_chunk(event: RenderChunkEvent, deps: Deps, work: Path) -> ChunkResultOut:
    started = time.perf_counter()
    index = event.chunk_index
    store, manifest = _checked_plan(event, deps)
    if index >= manifest.chunk_count:
        raise ChunkIndexOutOfRangeError(
            f"chunk index {index} out of range [0, {manifest.chunk_count}); re-plan or use an index below "
            f"{manifest.chunk_count}"
        )
    plan_dir = work / "plan"
    _materialize(store, event, chunk_role(index), plan_dir)
    out_path = work / "out" / f"chunk-{index:05d}{chunk_extension(event.format)}"
    out_path.parent.mkdir(parents=True)
    result = deps.render_chunk(plan_dir, index, out_path, plan_hash=event.plan_hash)
    chunk_uri = S3Uri.parse(event.chunk_output_s3_prefix).child(out_path.name)
    sha256 = sha256_file(result.output)
    deps.transport.upload_file_atomic(result.output, chunk_uri)
    return ChunkResultOut(
        chunk_s3_uri=str(chunk_uri),
        chunk_index=index,
        sha256=sha256,
        frames_encoded=result.frames,
        duration_ms=_elapsed_ms(started),
        boot_ms=round(result.boot_seconds * 1000),
    )


def _download_chunks(event: AssembleEvent, deps: Deps, folder: Path) -> list[Path]:
    extension = chunk_extension(event.format)
    paths: list[Path] = []
    for index, text in enumerate(event.chunk_s3_uris):

        def missing(uri: str, index: int = index) -> FramecastError:
            return MissingPlanArtifactError(f"chunk {index} ({uri}) does not exist; run renderChunk {index} first")

        path = folder / f"chunk-{index:05d}{extension}"
        deps.transport.download_file(S3Uri.parse(text), path, missing=missing)
        paths.append(path)
    return paths


def run_assemble(event: AssembleEvent, deps: Deps, work: Path) -> AssembleResultOut:
    started = time.perf_counter()
    store, manifest = _checked_plan(event, deps)
    if len(event.chunk_s3_uris) != manifest.chunk_count:
        raise InvalidEventError(
            f"ChunkS3Uris lists {len(event.chunk_s3_uris)} chunks but the plan has {manifest.chunk_count}; "
            "pass every chunk's ChunkS3Uri, in chunk order"
        )
    plan_dir = work / "plan"
    _materialize(store, event, ROLE_ASSEMBLE, plan_dir)
    chunk_paths = _download_chunks(event, deps, work / "chunks")
    out_path = work / "out" / f"output{format_spec(event.format).extension}"
    out_path.parent.mkdir(parents=True)
    result = deps.assemble(plan_dir, chunk_paths, out_path, plan_hash=event.plan_hash)
    output_uri = S3Uri.parse(event.output_s3_uri)
    if result.output.is_dir():
        size = deps.transport.upload_folder(result.output, output_uri)
    else:
        size = deps.transport.upload_file_atomic(result.output, output_uri)
    return AssembleResultOut(
        output_s3_uri=event.output_s3_uri,
        frames_encoded=result.frames,
        file_size=size,
        duration_ms=_elapsed_ms(started),
    )
