"""The Sweeper runs each job at its own interval, and a failing job does not stop the others."""

from __future__ import annotations

import threading

from infrastructure.sweeper import Sweeper


def test_each_job_runs_at_its_own_interval_and_failures_stay_contained() -> None:
    runs: list[str] = []

    def failing() -> None:
        runs.append("failing")
        raise RuntimeError("the store went away")

    sweeper = Sweeper(
        [
            ("often", lambda: runs.append("often"), 0.0),
            ("rarely", lambda: runs.append("rarely"), 3_600.0),
            ("failing", failing, 0.0),
        ]
    )
    assert sweeper.run_once() is True  # embedded: no lease to wait for
    assert sweeper.run_once() is True
    assert runs == ["often", "rarely", "failing", "often", "failing"]


def test_run_stops_when_asked() -> None:
    calls = threading.Event()
    sweeper = Sweeper([("job", calls.set, 0.0)], poll_s=0.01)
    stop = threading.Event()
    thread = threading.Thread(target=sweeper.run, args=(stop,))
    thread.start()
    assert calls.wait(5)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
