"""The plan manifest: what a plan contains, who needs which file, and the plan hash.

Pure functions over local paths and an ``ArtifactStore``; no network here (S3 lives in app/aws).

Plan hash framing (documented, stable): the SHA-256 of the UTF-8 text formed by the chunk count and
one line per plan file, sorted by path, so every field a worker trusts is covered::

    framecast-plan-v2\n
    chunks\0<chunk_count>\n
    <path>\0<sha256 hex>\0<size>\0<roles, comma-separated>\n      (for every file, sorted by POSIX path)

A manifest is a model with invariants (safe relative paths, each listed once, roles naming chunks
below ``chunk_count``); a plan folder holding a file the manifest does not list is refused, so
nothing a worker serves or reads comes from outside the hash.

Publication is content-addressed: every file becomes an immutable blob named by its sha256, and the
manifest (written LAST) lists path, sha256, size and the roles that need it: ``chunk`` (every chunk
worker), ``chunk:<i>`` (only chunk i, e.g. the video frames it samples) and ``assemble``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Final, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from app.distributed.config import MAX_PARALLEL_CHUNKS_LIMIT
from app.errors import (
    MissingPlanArtifactError,
    PlanArtifactDigestMismatchError,
    PlanHashMismatchError,
    PlanInvalidError,
)

MANIFEST_NAME = "plan-manifest.json"
MANIFEST_VERSION: Final = 2
HASH_HEADER = f"framecast-plan-v{MANIFEST_VERSION}\n"
ROLE_ASSEMBLE = "assemble"
ROLE_ALL_CHUNKS = "chunk"
MAX_PATH_CHARS = 1024
_READ_BLOCK = 1 << 20
_ROLE = re.compile(r"^(assemble|chunk|chunk:(0|[1-9][0-9]{0,5}))$")
_SHA256 = r"^[0-9a-f]{64}$"


def chunk_role(index: int) -> str:
    return f"chunk:{index}"


class ManifestEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str = Field(min_length=1, max_length=MAX_PATH_CHARS)
    sha256: str = Field(pattern=_SHA256)
    size: int = Field(ge=0)
    roles: tuple[str, ...]

    @field_validator("path")
    @classmethod
    def _relative_inside(cls, value: str) -> str:
        parts = PurePosixPath(value).parts
        if value.startswith("/") or "\\" in value or "\0" in value or any(p in ("..", ".") for p in parts):
            raise ValueError(f"path {value[:200]!r} is not a plain relative path inside the plan")
        if value == MANIFEST_NAME or "/".join(parts) != value:
            raise ValueError(f"path {value[:200]!r} is not a normalised plan file path")
        return value

    @field_validator("roles")
    @classmethod
    def _known_roles(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for role in value:
            if not _ROLE.match(role):
                raise ValueError(f"role {role[:60]!r} is not 'assemble', 'chunk' or 'chunk:<index>'")
        return value

    def needed_by(self, role: str) -> bool:
        if role in self.roles:
            return True
        return role.startswith("chunk:") and ROLE_ALL_CHUNKS in self.roles


class PlanManifest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[2] = MANIFEST_VERSION
    plan_hash: str = Field(pattern=_SHA256)
    chunk_count: int = Field(ge=1, le=MAX_PARALLEL_CHUNKS_LIMIT)
    entries: tuple[ManifestEntry, ...]

    @model_validator(mode="after")
    def _entries_consistent(self) -> PlanManifest:
        seen: set[str] = set()
        for entry in self.entries:
            if entry.path in seen:
                raise ValueError(f"path {entry.path[:200]!r} is listed twice")
            seen.add(entry.path)
            for role in entry.roles:
                if role.startswith("chunk:") and int(role[6:]) >= self.chunk_count:
                    raise ValueError(
                        f"{entry.path[:200]!r} names role {role}, beyond the plan's {self.chunk_count} chunks"
                    )
        return self

    def entries_for(self, role: str) -> list[ManifestEntry]:
        return [entry for entry in self.entries if entry.needed_by(role)]

    def verify_hash(self) -> None:
        actual = plan_hash_of(self.entries, self.chunk_count)
        if actual != self.plan_hash:
            raise PlanHashMismatchError(
                f"the manifest's plan hash {self.plan_hash[:12]}… does not match its entries ({actual[:12]}…); "
                "the manifest was edited or corrupted: re-plan"
            )


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(_READ_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def plan_hash_of(entries: Iterable[ManifestEntry], chunk_count: int) -> str:
    digest = hashlib.sha256(HASH_HEADER.encode())
    digest.update(f"chunks\0{chunk_count}\n".encode())
    for entry in sorted(entries, key=lambda e: e.path):
        digest.update(f"{entry.path}\0{entry.sha256}\0{entry.size}\0{','.join(entry.roles)}\n".encode())
    return digest.hexdigest()


def build_manifest(plan_dir: Path, roles_by_path: dict[str, tuple[str, ...]], chunk_count: int) -> PlanManifest:
    """Describe every file under ``plan_dir`` (except the manifest itself)."""
    entries = []
    for path in sorted(p for p in plan_dir.rglob("*") if p.is_file() and p.name != MANIFEST_NAME):
        relative = path.relative_to(plan_dir).as_posix()
        roles = roles_by_path.get(relative, (ROLE_ALL_CHUNKS, ROLE_ASSEMBLE))
        entries.append(ManifestEntry(path=relative, sha256=sha256_file(path), size=path.stat().st_size, roles=roles))
    return PlanManifest(plan_hash=plan_hash_of(entries, chunk_count), chunk_count=chunk_count, entries=tuple(entries))


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def manifest_bytes(manifest: PlanManifest) -> bytes:
    return json.dumps(manifest.model_dump(mode="json"), indent=1, sort_keys=True).encode()


def parse_manifest(data: bytes, where: str) -> PlanManifest:
    try:
        return PlanManifest.model_validate_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "json_invalid":  # not even JSON: truncated or overwritten
            raise PlanHashMismatchError(f"the plan manifest at {where} is not valid JSON: {first['msg']}") from exc
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'manifest'}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise PlanInvalidError(f"the plan manifest at {where} is not valid: {problems}; re-plan") from exc


def read_manifest(plan_dir: Path) -> PlanManifest:
    path = plan_dir / MANIFEST_NAME
    if not path.is_file():
        raise MissingPlanArtifactError(f"{path} is missing; {plan_dir} is not a finished plan (run plan again)")
    manifest = parse_manifest(path.read_bytes(), str(path))
    manifest.verify_hash()
    return manifest


def verify_plan_files(plan_dir: Path, role: str, expected_plan_hash: str | None = None) -> PlanManifest:
    """Check that every file ``role`` needs is present and unchanged; return the manifest.

    Raises PLAN_HASH_MISMATCH when a file differs from the manifest or the caller expected another
    plan, MISSING_PLAN_ARTIFACT when a needed file is absent.
    """
    manifest = read_manifest(plan_dir)
    if expected_plan_hash is not None and expected_plan_hash != manifest.plan_hash:
        raise PlanHashMismatchError(
            f"expected plan {expected_plan_hash[:12]}… but {plan_dir} holds plan {manifest.plan_hash[:12]}…; "
            "pass the PlanHash that plan returned"
        )
    _refuse_unlisted_files(plan_dir, manifest)
    for entry in manifest.entries_for(role):
        path = plan_dir / entry.path
        if not path.is_file():
            raise MissingPlanArtifactError(
                f"plan file {entry.path} is missing from {plan_dir}; re-materialize the plan"
            )
        if path.stat().st_size != entry.size or sha256_file(path) != entry.sha256:
            raise PlanHashMismatchError(
                f"plan file {entry.path} was modified after planning (sha256 differs); re-plan instead of editing it"
            )
    return manifest


def _refuse_unlisted_files(plan_dir: Path, manifest: PlanManifest) -> None:
    """A file the manifest does not list would be served or read without being covered by the hash."""
    listed = {entry.path for entry in manifest.entries}
    for current, dirs, files in os.walk(plan_dir):
        links = [name for name in dirs if (Path(current) / name).is_symlink()]
        for name in [*links, *files]:
            relative = (Path(current) / name).relative_to(plan_dir).as_posix()
            if relative != MANIFEST_NAME and relative not in listed:
                raise PlanHashMismatchError(
                    f"{relative} in {plan_dir} is not part of the plan (its manifest does not list it); "
                    "remove it, keep outputs outside the plan folder, or re-plan"
                )


class ArtifactStore(Protocol):
    """Where plans are published: immutable blobs by sha256, and manifests."""

    def has_blob(self, sha256: str) -> bool: ...

    def put_blob(self, sha256: str, source: Path) -> None: ...

    def get_blob(self, sha256: str, dest: Path) -> None:
        """Write the blob to ``dest``; raise MissingPlanArtifactError when it does not exist."""
        ...

    def put_manifest(self, manifest: PlanManifest) -> str:
        """Store the manifest (after every blob) and return the reference that finds it again."""
        ...

    def get_manifest(self, ref: str) -> PlanManifest: ...


class LocalBlobStore:
    """An ArtifactStore on a local folder: ``blobs/<sha256>`` and ``manifests/<plan hash>.json``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _blob(self, sha256: str) -> Path:
        return self.root / "blobs" / sha256

    def has_blob(self, sha256: str) -> bool:
        return self._blob(sha256).is_file()

    def put_blob(self, sha256: str, source: Path) -> None:
        if not self.has_blob(sha256):  # content-addressed: an existing blob is already right
            write_atomic(self._blob(sha256), source.read_bytes())

    def get_blob(self, sha256: str, dest: Path) -> None:
        blob = self._blob(sha256)
        if not blob.is_file():
            raise MissingPlanArtifactError(f"blob {sha256[:12]}… is missing from {self.root}; publish the plan again")
        write_atomic(dest, blob.read_bytes())

    def put_manifest(self, manifest: PlanManifest) -> str:
        path = self.root / "manifests" / f"{manifest.plan_hash}.json"
        write_atomic(path, manifest_bytes(manifest))
        return str(path)

    def get_manifest(self, ref: str) -> PlanManifest:
        path = Path(ref)
        if not path.is_file():
            raise MissingPlanArtifactError(f"plan manifest {ref} does not exist; run plan first")
        return parse_manifest(path.read_bytes(), ref)


def publish(plan_dir: Path, store: ArtifactStore) -> str:
    """Upload every blob the manifest lists that the store lacks, then the manifest; return its ref."""
    manifest = read_manifest(plan_dir)
    for entry in manifest.entries:
        if not store.has_blob(entry.sha256):
            store.put_blob(entry.sha256, plan_dir / entry.path)
    return store.put_manifest(manifest)


def materialize(store: ArtifactStore, manifest_ref: str, role: str, dest_dir: Path) -> PlanManifest:
    """Fetch the files ``role`` needs into ``dest_dir``, verifying each blob's sha256 before use."""
    manifest = store.get_manifest(manifest_ref)
    manifest.verify_hash()
    for entry in manifest.entries_for(role):
        target = dest_dir / entry.path
        if not target.resolve().is_relative_to(dest_dir.resolve()):
            raise PlanHashMismatchError(f"manifest entry {entry.path!r} points outside the plan folder")
        store.get_blob(entry.sha256, target)
        actual = sha256_file(target)
        if actual != entry.sha256:
            target.unlink(missing_ok=True)
            raise PlanArtifactDigestMismatchError(
                f"blob for {entry.path} has sha256 {actual[:12]}…, expected {entry.sha256[:12]}…; "
                "the stored artifact is corrupt: re-plan"
            )
    write_atomic(dest_dir / MANIFEST_NAME, manifest_bytes(manifest))
    return manifest
