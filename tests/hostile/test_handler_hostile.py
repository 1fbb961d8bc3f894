"""The Lambda handler lets no raw exception through (issue 12, class 7).

Hostile project archives (over-long names and paths, absurd nesting, more members than allowed) and
hostile events (a string of 100 000 nested arrays, deeply nested variables) each fail with a typed,
non-retryable error whose class NAME is the code (what Step Functions matches), leave no work folder
and write nothing to the bucket. An exception nobody foresaw becomes INTERNAL_ERROR (retryable). The
archives go through the real S3 download (moto) and the real extraction; the plan activity is a fake
that must never be reached.
"""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.aws.handler import Deps, FramecastLambdaError, dispatch
from app.aws.s3_transport import S3Transport
from app.aws.settings import Settings
from tests.support import moto_server
from tests.support.moto_server import S3Sandbox

moto_endpoint = moto_server.moto_endpoint  # pytest fixtures this module uses
s3 = moto_server.s3


def never(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("a hostile input reached an activity")


@pytest.fixture
def deps(s3: S3Sandbox) -> Deps:
    return Deps(settings=Settings(), transport=S3Transport(), plan=never, render_chunk=never, assemble=never)


def leftovers(root: Path) -> list[Path]:
    return list(root.iterdir()) if root.exists() else []


def tar_gz(names: list[str]) -> bytes:
    raw = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for name in ["index.html", *names]:
            info = tarfile.TarInfo(name)
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
    return raw.getvalue()


ARCHIVES: dict[str, Callable[[], bytes]] = {
    "300-char-name": lambda: tar_gz(["n" * 300 + ".js"]),
    "5000-char-path": lambda: tar_gz(["/".join(["d" * 99] * 50) + "/f.js"]),
    "5000-char-path-short-parts": lambda: tar_gz(["a/" * 2500 + "f.js"]),
    "1500-levels": lambda: tar_gz(["d/" * 1500 + "f.js"]),
    "many-members": lambda: tar_gz([f"f{i}.txt" for i in range(2001)]),
}


def fails_with(code: str, event: Any, deps: Deps) -> FramecastLambdaError:
    with pytest.raises(FramecastLambdaError) as caught:
        dispatch(event, deps)
    error = caught.value
    assert type(error).__name__ == code, f"{type(error).__name__}: {error}"
    return error


@pytest.mark.parametrize("case", ARCHIVES)
def test_a_hostile_archive_is_unsafe_archive_and_leaves_nothing(
    s3: S3Sandbox, deps: Deps, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    monkeypatch.setenv("FRAMECAST_MAX_ARCHIVE_MEMBERS", "2000")
    deps = Deps(**{**vars(deps), "settings": Settings()})
    extracted: list[str] = []
    real_extract = tarfile.TarFile.extract

    def counting_extract(self: tarfile.TarFile, member: Any, *args: Any, **kwargs: Any) -> None:
        extracted.append(getattr(member, "name", str(member)))
        real_extract(self, member, *args, **kwargs)

    monkeypatch.setattr(tarfile.TarFile, "extract", counting_extract)
    s3.put("projects/hostile.tar.gz", ARCHIVES[case]())
    before = s3.snapshot()
    event = {
        "Action": "plan",
        "ProjectS3Uri": s3.uri("projects/hostile.tar.gz"),
        "PlanOutputS3Prefix": s3.uri("renders/r1/plan/"),
    }

    error = fails_with("UNSAFE_ARCHIVE", event, deps)

    assert not error.retryable
    assert extracted == [], "the archive was refused only after extraction started"
    assert s3.snapshot() == before
    assert leftovers(deps.settings.work_root) == []


NESTED = 100_000
EVENTS: dict[str, tuple[Callable[[S3Sandbox], Any], str]] = {
    "string-of-nested-arrays": (lambda s3: "[" * NESTED + "]" * NESTED, "INVALID_EVENT"),
    "bytes-of-nested-objects": (lambda s3: b'{"a":' * NESTED + b"1" + b"}" * NESTED, "INVALID_EVENT"),
    "payload-of-nested-arrays": (lambda s3: {"Payload": "[" * NESTED + "]" * NESTED}, "INVALID_EVENT"),
    "not-utf8": (lambda s3: b"\xff\xfe{", "INVALID_EVENT"),
    "deeply-nested-variables": (
        lambda s3: {
            "Action": "plan",
            "ProjectS3Uri": s3.uri("projects/p.tar.gz"),
            "PlanOutputS3Prefix": s3.uri("renders/r1/plan/"),
            "Config": {"variables": _nested(5000)},
        },
        "INVALID_CONFIG",
    ),
}


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"v": value}
    return value


@pytest.mark.parametrize("case", EVENTS)
def test_a_hostile_event_is_a_typed_non_retryable_error(s3: S3Sandbox, deps: Deps, case: str) -> None:
    make, code = EVENTS[case]
    before = s3.snapshot()
    error = fails_with(code, make(s3), deps)
    assert not error.retryable
    assert s3.snapshot() == before
    assert leftovers(deps.settings.work_root) == []


def test_an_unforeseen_exception_is_internal_error_and_retryable(s3: S3Sandbox, deps: Deps, tmp_path: Path) -> None:
    def recursing(*args: Any, **kwargs: Any) -> Any:
        raise RecursionError("maximum recursion depth exceeded")

    s3.put("projects/p.tar.gz", tar_gz([]))
    event = {
        "Action": "plan",
        "ProjectS3Uri": s3.uri("projects/p.tar.gz"),
        "PlanOutputS3Prefix": s3.uri("renders/r1/plan/"),
    }
    error = fails_with("INTERNAL_ERROR", event, Deps(**{**vars(deps), "plan": recursing}))
    assert error.retryable and "RecursionError" in str(error)
    assert isinstance(error.__cause__, RecursionError)
    assert leftovers(deps.settings.work_root) == []
