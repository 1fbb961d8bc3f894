"""Read back an encoded video: its container tags and how many frames it really holds (PyAV).

The adapter between PyAV and the checks that must not trust a file's own header: ``probe_video``
decodes (or, with ``decode=False``, demuxes) every frame of the first video stream, so a truncated,
empty or foreign file shows up as an unreadable probe or a short count. PyAV errors never leave this
module; callers decide which typed error a bad probe means.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import av


@dataclass(frozen=True)
class VideoProbe:
    """What a video file holds; ``problem`` says why it could not be read (then ``frames`` is what was read)."""

    frames: int
    tags: dict[str, str] = field(default_factory=dict)
    problem: str | None = None

    def tag(self, key: str) -> str | None:
        """A container tag, whatever case the muxer wrote its key in (mp4 ``comment``, webm ``COMMENT``)."""
        wanted = key.lower()
        return next((value for name, value in self.tags.items() if name.lower() == wanted), None)


def probe_video(path: Path, *, decode: bool = True) -> VideoProbe:
    """Count the frames of ``path``'s first video stream, decoding each one unless ``decode`` is False."""
    frames = 0
    tags: dict[str, str] = {}
    try:
        with av.open(str(path)) as container:
            tags = {str(k): str(v) for k, v in container.metadata.items()}
            if not container.streams.video:
                return VideoProbe(0, tags, "it has no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for packet in container.demux(stream):
                if decode:
                    frames += len(packet.decode())
                elif packet.size:
                    frames += 1
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        return VideoProbe(frames, tags, f"it cannot be read as video ({str(exc)[:200]})")
    return VideoProbe(frames, tags)
