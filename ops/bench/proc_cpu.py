"""CPU seconds of processes and of the whole machine, read from /proc (Linux; no psutil)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["CpuSample", "busy_seconds", "cpu_seconds", "descendants", "machine_ticks", "spent"]

_TICK = os.sysconf("SC_CLK_TCK")

CpuSample = dict[int, float]  # pid -> CPU seconds (user + system) so far


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces; the fields after it are numbers
    return raw[raw.rindex(")") + 2 :].split()


def cpu_seconds(pids: Iterable[int]) -> CpuSample:
    """User + system CPU seconds of each pid still alive (fields 14 and 15 of /proc/pid/stat)."""
    sample = {}
    for pid in pids:
        fields = _stat(pid)
        if fields is not None:
            sample[pid] = (int(fields[11]) + int(fields[12])) / _TICK
    return sample


def spent(before: CpuSample, after: CpuSample) -> float:
    """CPU seconds spent between two samples; a process born in between counts in full."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def descendants(root: int) -> list[int]:
    """``root`` and every process below it (uvicorn's workers, multiprocessing helpers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, []))
    return found


def machine_ticks() -> int:
    """Busy jiffies of all CPUs since boot (the first line of /proc/stat, less idle and
    iowait)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return sum(values) - values[3] - values[4]


def busy_seconds(before: int, after: int) -> float:
    """CPU seconds the whole machine (every core) spent busy between two ``machine_ticks``."""
    return (after - before) / _TICK
