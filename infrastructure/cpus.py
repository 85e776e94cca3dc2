"""Keeping a process on chosen CPUs (``PRIZELEDGER_CPUS``).

A prizeledger process runs Python in several threads — the event loop, the draw desk, the
workers — that take turns on one interpreter lock, so it never runs Python on two cores at
once. Left to the scheduler, its threads still wake each other across cores, and on virtual
machines of the kind this project runs on a cross-core wake-up costs tens of microseconds
(``prizeledger bench`` reports it as ``machine.thread_round_trip_us``). Kept on one core, the
draw engine did more with less CPU; a whole deployment on two cores did not always
(docs/operations.md, "Scaling out"). Off by default: which CPUs to use is a deployment's
choice, to be measured where it runs.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

__all__ = ["CpuSpecError", "parse_cpus", "pin_process"]

log = logging.getLogger(__name__)


class CpuSpecError(ValueError):
    pass


def parse_cpus(spec: str) -> frozenset[int]:
    """``"0"``, ``"0,2"``, ``"0-3"`` or a mix (as ``taskset -c`` reads them): the CPU numbers."""
    cpus: set[int] = set()
    for part in spec.split(","):
        first, dash, last = part.strip().partition("-")
        try:
            low = int(first)
            high = int(last) if dash else low
        except ValueError:
            raise CpuSpecError(f"not a CPU list: {spec!r} (e.g. 0 or 0,2 or 0-3)") from None
        if low < 0 or high < low:
            raise CpuSpecError(f"not a CPU list: {spec!r} (e.g. 0 or 0,2 or 0-3)")
        cpus.update(range(low, high + 1))
    return frozenset(cpus)


def pin_process(cpus: frozenset[int]) -> bool:
    """Keep every thread of this process, and every thread it starts later, on ``cpus``.
    False (and a warning) where the system cannot: no affinity call, or none of ``cpus`` is
    available to this process — a CPU list is a tuning, never a reason not to start."""
    if not hasattr(os, "sched_setaffinity"):
        log.warning("PRIZELEDGER_CPUS ignored: this system cannot pin a process to CPUs")
        return False
    allowed = os.sched_getaffinity(0)
    usable = cpus & allowed
    if not usable:
        log.warning(
            "PRIZELEDGER_CPUS ignored: none of %s is among %s", sorted(cpus), sorted(allowed)
        )
        return False
    threads = Path("/proc/self/task")
    ids = [int(t.name) for t in threads.iterdir()] if threads.is_dir() else [0]
    for thread_id in ids:
        try:
            os.sched_setaffinity(thread_id, usable)
        except (ProcessLookupError, PermissionError):  # a thread that just ended
            continue
    os.sched_setaffinity(0, usable)  # the calling thread last: the one that starts the others
    return True
