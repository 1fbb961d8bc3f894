"""CPU time of this process's tree, by role (Chrome browser/renderer/GPU/utility, Playwright's driver, ffmpeg).

Read from /proc (no psutil here): per-process utime + stime, the machine's idle time from /proc/stat,
and reaped children (ffmpeg, once it exits) through RUSAGE_CHILDREN, which /proc no longer shows.
"""

from __future__ import annotations

import os
import resource
import subprocess
import threading
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


@dataclass(frozen=True)
class ProcTimes:
    """One process's counters from /proc/<pid>/stat."""

    ticks: int = 0  # user + kernel CPU, in clock ticks
    kernel_ticks: int = 0
    minor_faults: int = 0  # pages the kernel had to map in (fresh memory is faulted in page by page)

    def __sub__(self, other: ProcTimes) -> ProcTimes:
        return ProcTimes(
            self.ticks - other.ticks, self.kernel_ticks - other.kernel_ticks, self.minor_faults - other.minor_faults
        )


def _proc_times(pid: int) -> ProcTimes:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return ProcTimes()
    return ProcTimes(int(fields[11]) + int(fields[12]), int(fields[12]), int(fields[7]))


def _machine_cpu() -> tuple[int, int]:
    """(idle, total) jiffies of the whole machine since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return values[3] + values[4], sum(values[:8])


@dataclass
class CpuSample:
    started: float = field(default_factory=time.perf_counter)
    per_pid: dict[int, tuple[str, ProcTimes]] = field(default_factory=dict)
    children: float = 0.0  # reaped children (ffmpeg) in seconds
    python: float = 0.0
    machine: tuple[int, int] = (0, 0)

    @classmethod
    def take(cls) -> CpuSample:
        me = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return cls(
            per_pid={pid: (role(pid), _proc_times(pid)) for pid in descendants(os.getpid())},
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
    kernel_by_role: dict[str, float] = field(default_factory=dict)  # of by_role, seconds in the kernel
    faults_by_role: dict[str, int] = field(default_factory=dict)  # minor page faults


def cpu_between(before: CpuSample, after: CpuSample, finished: dict[str, float]) -> CpuUse:
    """CPU seconds per process role between two samples; ``finished`` adds processes reaped meanwhile."""
    by_role: dict[str, float] = defaultdict(float)
    kernel: dict[str, float] = defaultdict(float)
    faults: dict[str, int] = defaultdict(int)
    for pid, (role, times) in after.per_pid.items():
        if role not in finished:  # reaped processes are counted by the caller (RUSAGE_CHILDREN)
            delta = times - before.per_pid.get(pid, (role, ProcTimes()))[1]
            by_role[role] += delta.ticks / TICK
            kernel[role] += delta.kernel_ticks / TICK
            faults[role] += delta.minor_faults
    for role, seconds in finished.items():
        by_role[role] += seconds
    by_role["python (framecast)"] = after.python - before.python
    wall = after.started - before.started
    return CpuUse(
        wall, dict(by_role), *_machine_share(before.machine, after.machine, wall, sum(by_role.values())),
        kernel_by_role=dict(kernel), faults_by_role=dict(faults),
    )  # fmt: skip


def _machine_share(before: tuple[int, int], after: tuple[int, int], wall: float, ours: float) -> tuple[float, float]:
    """(idle fraction, fraction busy with other people's work) of the machine between two /proc/stat reads."""
    idle = after[0] - before[0]
    total = after[1] - before[1] or 1
    cores = os.cpu_count() or 1
    busy_seconds = (total - idle) / total * wall * cores
    return idle / total, max(0.0, busy_seconds - ours) / (wall * cores)


@dataclass
class SampledRun:
    """A command run to its end, with the CPU its whole process tree used (sampled from /proc)."""

    returncode: int
    wall: float
    cpu: float  # CPU seconds of every process the command started, exited ones included
    machine_idle_fraction: float
    other_fraction: float
    stderr: str


def run_sampled(command: list[str], every: float = 0.05) -> SampledRun:
    """Run ``command``; sum the last CPU reading of each process in its tree (a process that ends between
    two samples loses at most ``every`` seconds of CPU), and read the machine's idle and other load."""
    machine_before, started = _machine_cpu(), time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    last: dict[int, int] = {}

    def sample() -> None:
        while proc.poll() is None:
            for pid in [proc.pid, *descendants(proc.pid)]:
                if ticks := _proc_times(pid).ticks:
                    last[pid] = ticks
            time.sleep(every)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = proc.communicate()
    sampler.join()
    wall = time.perf_counter() - started
    cpu = sum(last.values()) / TICK
    idle, other = _machine_share(machine_before, _machine_cpu(), wall, cpu)
    return SampledRun(proc.returncode, wall, cpu, idle, other, stderr)
