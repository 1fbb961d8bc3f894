"""CPU time of this process's tree, by role (Chrome browser/renderer/GPU/utility, Playwright's driver, ffmpeg).

Read from /proc (no psutil here): per-process utime + stime, the machine's idle time from /proc/stat,
and reaped children (ffmpeg, once it exits) through RUSAGE_CHILDREN, which /proc no longer shows.
"""

from __future__ import annotations

import os
import resource
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:  # it ended while we looked
                continue
            children[int(stat.rsplit(")", 1)[1].split()[1])].append(int(entry))
    found, pending = [], [root]
    while pending:
        for pid in children.get(pending.pop(), []):
            found.append(pid)
            pending.append(pid)
    return found


def role(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    # Chrome's child processes rewrite their command line as one space-separated string.
    argv = raw.replace(b"\0", b" ").decode(errors="replace").split()
    exe = os.path.basename(argv[0]) if argv else "?"
    kind = next((a.removeprefix("--type=") for a in argv if a.startswith("--type=")), None)
    if kind == "utility":
        sub = next((a.rsplit(".", 1)[-1] for a in argv if a.startswith("--utility-sub-type=")), "?")
        return f"chrome utility ({sub})"
    if kind:
        return f"chrome {kind.removesuffix('-process')}"
    if "chrom" in exe:
        return "chrome browser"
    if exe == "node":
        return "playwright driver (node)"
    return "ffmpeg (x264)" if exe.startswith("ffmpeg") else exe


def _cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


def _machine_cpu() -> tuple[int, int]:
    """(idle, total) jiffies of the whole machine since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return values[3] + values[4], sum(values[:8])


@dataclass
class CpuSample:
    started: float = field(default_factory=time.perf_counter)
    per_pid: dict[int, tuple[str, int]] = field(default_factory=dict)
    children: float = 0.0  # reaped children (ffmpeg) in seconds
    python: float = 0.0
    machine: tuple[int, int] = (0, 0)

    @classmethod
    def take(cls) -> CpuSample:
        me = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return cls(
            per_pid={pid: (role(pid), _cpu_ticks(pid)) for pid in descendants(os.getpid())},
            children=kids.ru_utime + kids.ru_stime,
            python=me.ru_utime + me.ru_stime,
            machine=_machine_cpu(),
        )


@dataclass
class CpuUse:
    wall: float
    by_role: dict[str, float]
    machine_idle_fraction: float
    other_fraction: float  # busy time of the machine not spent by our processes (the other engineers)


def cpu_between(before: CpuSample, after: CpuSample, finished: dict[str, float]) -> CpuUse:
    """CPU seconds per process role between two samples; ``finished`` adds processes reaped meanwhile."""
    by_role: dict[str, float] = defaultdict(float)
    for pid, (role, ticks) in after.per_pid.items():
        if role not in finished:  # reaped processes are counted by the caller (RUSAGE_CHILDREN)
            by_role[role] += (ticks - before.per_pid.get(pid, (role, 0))[1]) / TICK
    for role, seconds in finished.items():
        by_role[role] += seconds
    by_role["python (framecast)"] = after.python - before.python
    wall = after.started - before.started
    idle = after.machine[0] - before.machine[0]
    total = after.machine[1] - before.machine[1] or 1
    ours = sum(by_role.values())
    cores = os.cpu_count() or 1
    busy_seconds = (total - idle) / total * wall * cores
    return CpuUse(wall, dict(by_role), idle / total, max(0.0, busy_seconds - ours) / (wall * cores))
