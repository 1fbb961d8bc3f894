#!/usr/bin/env python3
"""Regenerate the media files of examples/media/ with the pinned ffmpeg, byte for byte.

    python scripts/make_example_media.py           write examples/media/assets/{tone.m4a,clip.mp4}
    python scripts/make_example_media.py --check   exit 1 if a fresh generation differs from the committed files

Every source is synthetic (ffmpeg ``lavfi``); encoders run single-threaded with ``bitexact`` flags so the
same ffmpeg build writes the same bytes. A different ffmpeg build may not: commit the regenerated files
together with an ffmpeg pin change.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing the package

from app.engine.ffmpeg import run_ffmpeg  # noqa: E402

ASSETS = ROOT / "examples" / "media" / "assets"
BITEXACT = ["-fflags", "+bitexact", "-flags", "+bitexact", "-map_metadata", "-1"]

# 4 s: 1 s of silence, then 3 s of 440 Hz peaking at -12 dBFS (ffmpeg's sine is -18 dBFS, +6 dB),
# with short fades so the edges do not click. The delay is an output filter counted in samples: inside a
# lavfi input graph, adelay's silence is dropped by the input's start-time rebasing.
TONE_SOURCE = "sine=f=440:r=48000:d=3"
TONE_FILTER = (
    "volume=6dB,afade=t=in:d=0.02,afade=t=out:st=2.95:d=0.05,"
    "adelay=delays=48000S:all=1,apad=whole_len=192000,atrim=end_sample=192000,asetpts=N/SR/TB"
)
# 3 s of a moving test pattern, with a 150 ms 880 Hz beep at the start of every second.
CLIP_VIDEO = "testsrc2=s=320x180:r=30:d=3"
CLIP_AUDIO = "aevalsrc=exprs='0.25*sin(2*PI*880*t)*lt(mod(t\\,1)\\,0.15)':s=48000:d=3"


def make_tone(out: Path) -> None:
    audio = ["-ac", "1", "-c:a", "aac", "-b:a", "64k"]
    run_ffmpeg(
        ["-f", "lavfi", "-i", TONE_SOURCE, "-af", TONE_FILTER, *audio, *BITEXACT, "-f", "mp4", out],
        what="generating the example tone",
    )


def make_clip(out: Path) -> None:
    video = ["-c:v", "libx264", "-preset", "medium", "-crf", "30", "-pix_fmt", "yuv420p", "-g", "30", "-threads", "1"]
    audio = ["-c:a", "aac", "-b:a", "48k", "-ac", "1"]
    inputs = ["-f", "lavfi", "-i", CLIP_VIDEO, "-f", "lavfi", "-i", CLIP_AUDIO]
    run_ffmpeg(
        [*inputs, *video, *audio, *BITEXACT, "-movflags", "+faststart", "-f", "mp4", out],
        what="generating the example clip",
    )


GENERATORS = {"tone.m4a": make_tone, "clip.mp4": make_clip}


def generate(directory: Path) -> dict[str, str]:
    directory.mkdir(parents=True, exist_ok=True)
    digests = {}
    for name, make in GENERATORS.items():
        make(directory / name)
        digests[name] = hashlib.sha256((directory / name).read_bytes()).hexdigest()
    return digests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare a fresh generation with the committed files")
    args = parser.parse_args()
    if not args.check:
        for name, digest in generate(ASSETS).items():
            print(f"{name}: {(ASSETS / name).stat().st_size} bytes, sha256 {digest[:16]}")
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        fresh = generate(Path(scratch))
    stale = [n for n, d in fresh.items() if not (ASSETS / n).is_file() or _sha256(ASSETS / n) != d]
    for name in stale:
        print(f"{name} differs from a fresh generation; run {Path(__file__).name} and commit the result")
    return 1 if stale else 0


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


if __name__ == "__main__":
    sys.exit(main())
