"""Frame sinks: where captured images go. A streaming ffmpeg encoder, or a folder of PNG frames.

The encoder runs concurrently with capture: each image is written to ffmpeg's stdin as soon as it is
captured, so ffmpeg encodes frame i while Chrome renders frame i+1 (a full pipe is the back-pressure).
stderr goes to a file, never a pipe, so a chatty ffmpeg cannot deadlock the writer.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import IO, Protocol

from app.engine.ffmpeg import ffmpeg_exe, stderr_tail
from app.engine.formats import Codec, FormatSpec, Quality, video_codec_args
from app.engine.frame_rate import ffmpeg_rate
from app.errors import EncodeError

FRAME_NAME = "frame_{:06d}.png"


class FrameSink(Protocol):
    def write(self, index: int, image: bytes) -> None: ...

    def finish(self) -> None: ...

    def abort(self) -> None: ...


class StreamingEncoder:
    """Pipes images into one ffmpeg process that writes ``out_path`` (a video file)."""

    def __init__(
        self,
        out_path: Path,
        spec: FormatSpec,
        codec: Codec,
        quality: Quality,
        crf: int | None,
        *,
        fps: Fraction,
        segment_frames: int | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        self.out_path = out_path
        image_codec = "png" if spec.capture_image == "png" else "mjpeg"
        video_args = video_codec_args(codec, quality, crf, fps=fps, alpha=spec.alpha, segment_frames=segment_frames)
        self.args = [
            ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
            "-f", "image2pipe", "-c:v", image_codec, "-framerate", ffmpeg_rate(fps), "-i", "-",
            *video_args, "-an", "-r", ffmpeg_rate(fps),
            *(arg for key, value in (metadata or {}).items() for arg in ("-metadata", f"{key}={value}")),
            *(["-movflags", "+faststart"] if spec.name in ("mp4", "mov") else []),
            "-f", _muxer(spec), str(out_path),
        ]  # fmt: skip
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115  # closed in finish()/abort()
        self._proc = subprocess.Popen(self.args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._stderr)
        self.frames = 0

    def write(self, index: int, image: bytes) -> None:
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(image)
        except BrokenPipeError as exc:
            self._proc.wait()
            raise EncodeError(f"ffmpeg stopped accepting frames at frame {index}:\n{self._tail()}") from exc
        self.frames += 1

    def finish(self) -> None:
        assert self._proc.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self._proc.stdin.close()
        code = self._proc.wait()
        if code != 0:
            raise EncodeError(f"ffmpeg failed encoding {self.out_path.name} (exit {code}):\n{self._tail()}")
        self._stderr.close()

    def abort(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._stderr.close()
        self.out_path.unlink(missing_ok=True)

    def _tail(self) -> str:
        self._stderr.seek(0)
        return stderr_tail(self._stderr.read())


class PngFolderSink:
    """Writes each captured PNG as ``frame_NNNNNN.png`` (numbered from ``first_number``) into a folder."""

    def __init__(self, folder: Path, first_number: int = 1) -> None:
        self.folder = folder
        self.first_number = first_number
        folder.mkdir(parents=True, exist_ok=True)
        self.frames = 0

    def write(self, index: int, image: bytes) -> None:
        (self.folder / FRAME_NAME.format(self.first_number + self.frames)).write_bytes(image)
        self.frames += 1

    def finish(self) -> None:
        return None

    def abort(self) -> None:
        for frame in self.folder.glob("frame_*.png"):
            frame.unlink(missing_ok=True)


def _muxer(spec: FormatSpec) -> str:
    return {"mp4": "mp4", "mov": "mov", "webm": "webm"}[spec.name]
