"""uvicorn under cProfile in every thread (``python -m cProfile`` sees the main thread only,
not the draw desk or the handlers' worker threads), timing each thread's CPU (not wall time, in
which idle threads waiting on locks would dominate). Writes one merged pstats file at exit.

    python -m ops.bench.profiled_server OUT.pstats <uvicorn arguments>
"""

from __future__ import annotations

import atexit
import cProfile
import pstats
import signal
import sys
import threading
import time
from types import FrameType
from typing import Any

__all__ = ["main"]

_profiles: list[cProfile.Profile] = []


def _profile_this_thread(_frame: FrameType, _event: str, _arg: Any) -> None:
    # threading calls this on a new thread's first event; the profiler then replaces it
    profile = cProfile.Profile(time.thread_time)
    _profiles.append(profile)
    profile.enable()


def _dump(path: str) -> None:
    for profile in _profiles:
        profile.disable()  # the calling thread's only; the others' stats are read as they are
        profile.snapshot_stats()
    pstats.Stats(*_profiles).dump_stats(path)


def main() -> None:
    path, sys.argv = sys.argv[1], ["uvicorn", *sys.argv[2:]]
    import uvicorn.main

    # uvicorn re-raises the SIGTERM it shut down on, after restoring the handler it found:
    # this one turns it into an ordinary exit, so that the profile is written.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    threading.setprofile(_profile_this_thread)
    main_thread = cProfile.Profile(time.thread_time)
    _profiles.append(main_thread)
    atexit.register(_dump, path)
    main_thread.enable()
    uvicorn.main.main()


if __name__ == "__main__":
    main()
