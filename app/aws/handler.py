"""The Lambda entry point: ``handler(event, context)`` → ``dispatch(event, deps)``.

Run in the image as ``python -m awslambdaric app.aws.handler.handler``. Per invocation: parse the
event (INVALID_EVENT before anything else), check every S3 URI against the bucket allowlist, make a
fresh work folder under ``work_root``, run the action (app.aws.actions), remove the folder in
``finally`` and return the small result dict (PascalCase).

Typed errors: this is the one place that re-raises a ``FramecastError`` as an exception whose class
NAME is the error code (``PLAN_HASH_MISMATCH``...): awslambdaric reports ``type(exc).__name__`` as the
errorType and Step Functions matches its Retry/Catch lists on it. Any other exception is a bug or an
outage we did not foresee: it is logged with its traceback and raised as ``INTERNAL_ERROR``
(retryable), so the errorType Step Functions sees is always one of our codes.

Warm containers: Lambda reuses a container for later invocations, and the engine keeps its browser
alive in the process (``app.engine.chrome.acquire_browser``); nothing here shuts it down, so only
the first chunk a container renders pays for the launch. The S3 client and settings are likewise
built once (``default_deps``). The image's packed ffmpeg starts unpacking when this module is
imported (Lambda's init phase), so the first chunk does not wait for it.
"""

from __future__ import annotations

import contextlib
import functools
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, assert_never

from aws_lambda_powertools import Logger

from app.aws.actions import Deps, run_assemble, run_plan, run_render_chunk
from app.aws.events import AnyEvent, AssembleEvent, NotifyEvent, PlanEvent, RenderChunkEvent, action_of, parse_event
from app.aws.notify import run_notify
from app.aws.s3_transport import S3Transport
from app.aws.s3_uri import check_allowed
from app.aws.settings import get_settings
from app.engine.ffmpeg import prepare_ffmpeg_in_background
from app.errors import FramecastError, InternalError, error_class_for_code

__all__ = ["Deps", "FramecastLambdaError", "default_deps", "dispatch", "handler", "lambda_error_class"]

logger = Logger(service="framecast")
_INVOCATION_KEYS = ("action", "request_id", "chunk_index", "chunk_count", "plan_hash", "format", "uris")
prepare_ffmpeg_in_background()


class FramecastLambdaError(Exception):
    """Base of the per-code exception classes raised to the Lambda runtime (see ``lambda_error_class``)."""

    code: ClassVar[str] = "FRAMECAST_ERROR"
    retryable: ClassVar[bool] = False


@functools.cache
def lambda_error_class(code: str) -> type[FramecastLambdaError]:
    """The exception class named ``code`` (built once per code, so ``except`` and identity checks work)."""
    known = error_class_for_code(code)
    retryable = known.retryable if known is not None else False
    namespace = {"code": code, "retryable": retryable, "__module__": __name__, "__qualname__": code}
    return type(code, (FramecastLambdaError,), namespace)


def to_lambda_error(exc: FramecastError) -> FramecastLambdaError:
    """``exc`` as an exception whose class name is its code, same message (the caller chains it)."""
    return lambda_error_class(exc.code)(exc.message)


@functools.cache
def default_deps() -> Deps:
    """The real transport and activities, built on the first invocation and kept while the container lives."""
    from app.distributed import assemble, plan, render_chunk

    settings = get_settings()
    logger.setLevel(settings.log_level)
    return Deps(settings=settings, transport=S3Transport(), plan=plan, render_chunk=render_chunk, assemble=assemble)


def handler(event: Any, context: Any) -> dict[str, Any]:
    """The Lambda function (``app.aws.handler.handler``)."""
    try:
        deps = default_deps()
    except FramecastError as exc:  # a misconfigured function: report it under its code too
        logger.error("configuration failed", extra={"error_code": exc.code, "error": exc.message})
        raise to_lambda_error(exc) from exc
    except Exception as exc:
        logger.exception("configuration crashed")
        raise to_lambda_error(_internal(exc)) from exc
    return dispatch(event, deps, context)


def _internal(exc: BaseException) -> InternalError:
    detail = (str(exc).strip().splitlines() or [""])[0][:300]
    return InternalError(
        f"unexpected {type(exc).__name__}{': ' + detail if detail else ''}; retried, and reported in the logs"
    )


@contextlib.contextmanager
def _work_dir(root: Path, action: str) -> Iterator[Path]:
    # Warm containers keep /tmp between invocations: each one gets its own folder and removes it.
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"framecast-{action}-", dir=root))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _log_keys(event: AnyEvent) -> dict[str, Any]:
    """What an operator needs to find an invocation; never the config or its variables."""
    uris = {name: str(uri) for name, uri in event.s3_uris() if not name.startswith("ChunkS3Uris[")}
    keys: dict[str, Any] = {"uris": uris}
    if isinstance(event, RenderChunkEvent | AssembleEvent):
        keys.update(plan_hash=event.plan_hash[:12], format=event.format)
    if isinstance(event, RenderChunkEvent):
        keys["chunk_index"] = event.chunk_index
    if isinstance(event, AssembleEvent):
        keys["chunk_count"] = len(event.chunk_s3_uris)  # the list itself can be thousands of URIs
    return keys


def _route(event: AnyEvent, deps: Deps, work: Path) -> dict[str, Any]:
    match event:
        case PlanEvent():
            return run_plan(event, deps, work).dump()
        case RenderChunkEvent():
            return run_render_chunk(event, deps, work).dump()
        case AssembleEvent():
            return run_assemble(event, deps, work).dump()
        case NotifyEvent():
            return run_notify(event, deps.settings).dump()
        case _:
            assert_never(event)


def dispatch(event: Any, deps: Deps, context: Any = None) -> dict[str, Any]:
    """Validate, run and answer one event; FramecastErrors leave as exceptions named by their code."""
    started = time.perf_counter()
    try:
        action = action_of(event)
    except Exception:  # logging must not be what fails: the event is parsed (and refused) below
        action = None
    logger.append_keys(action=action[:40] if action else None, request_id=getattr(context, "aws_request_id", None))
    try:
        parsed = parse_event(event)
        logger.append_keys(**_log_keys(parsed))
        check_allowed(parsed.s3_uris(), deps.settings)  # before any download, render or upload
        # Logged before the work starts: an invocation killed by the Lambda timeout never logs its end.
        logger.info("action started")
        with _work_dir(deps.settings.work_root, parsed.action) as work:
            result = _route(parsed, deps, work)
        logger.info("action finished", extra={"duration_ms": _ms(started), "result": _summary(result)})
        return result
    except FramecastError as exc:
        extra = {"error_code": exc.code, "retryable": exc.retryable, "error": exc.message, "duration_ms": _ms(started)}
        logger.error("action failed", extra=extra)
        raise to_lambda_error(exc) from exc
    except Exception as exc:
        logger.exception("action crashed", extra={"error_code": InternalError.code, "duration_ms": _ms(started)})
        raise to_lambda_error(_internal(exc)) from exc
    finally:
        logger.remove_keys(list(_INVOCATION_KEYS))


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    # ChunkIndexes can be long; everything else in a result is a scalar.
    return {key: value for key, value in result.items() if not isinstance(value, list)}
