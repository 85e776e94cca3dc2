"""The Sweeper runs the process managers that act on the read models by themselves — expiry of
stale requests (``application.expiry``) and risk auto-freeze (``application.risk``) — each at
its own interval (checked every ``poll_s``), in the projector process (and in the app's process
when embedded). The risk score aggregates over all players, so it runs less often than expiry's
indexed look-ups.

Their commands are idempotent by construction (deterministic request ids), so two sweepers could
never act twice on one request; still, on Postgres one per deployment holds the lease (the
projector's ``Leases``) so that the others do not redo its work.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from infrastructure.projector import Leases

__all__ = ["LEASE", "Sweeper"]

log = logging.getLogger(__name__)

LEASE = "sweeper"  # the advisory lock's name, next to the projections' (none is called so)


class Sweeper:
    def __init__(
        self,
        jobs: Sequence[tuple[str, Callable[[], object], float]],
        *,
        conninfo: str | None = None,
        lease_scope: str = "public",
        poll_s: float = 5.0,
    ) -> None:
        """``jobs``: (name, run once, at most every so many seconds; 0: every round);
        ``conninfo`` (Postgres) enables the lease."""
        self._jobs = list(jobs)
        self._leases = Leases(conninfo, lease_scope)
        self._poll_s = poll_s
        self._last_run: dict[str, float] = {}

    def run_once(self) -> bool:
        """Run the jobs that are due if this process holds the lease; False while a standby."""
        self._leases.check()
        if not self._leases.acquire(LEASE):
            return False
        for name, job, every_s in self._jobs:
            now = time.monotonic()
            if name in self._last_run and now - self._last_run[name] < every_s:
                continue
            self._last_run[name] = now
            try:
                job()
            except Exception as error:  # the store went away, say: the next round tries again
                log.warning("sweeper job %s failed: %r", name, error)
        return True

    def run(self, stop: threading.Event) -> None:
        """Until ``stop`` is set: a round every ``poll_s``. Never raises."""
        while not stop.is_set():
            try:
                self.run_once()
            except Exception as error:
                log.warning("sweeper round failed: %r", error)
            stop.wait(self._poll_s)
        self._leases.close()
