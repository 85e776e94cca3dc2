"""PRIZELEDGER_CPUS: a CPU list as ``taskset -c`` reads it, every thread of the process kept on
it (those already running and those started later), and a clear error for a bad list."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from infrastructure.cpus import CpuSpecError, parse_cpus
from infrastructure.settings import Settings, SettingsError

pytestmark = pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="Linux only")


@pytest.mark.parametrize(
    ("spec", "cpus"),
    [("0", {0}), ("0,2", {0, 2}), ("0-3", {0, 1, 2, 3}), (" 1 , 3-4", {1, 3, 4}), ("2-2", {2})],
)
def test_a_cpu_list_reads_as_taskset_reads_it(spec: str, cpus: set[int]) -> None:
    assert parse_cpus(spec) == cpus


@pytest.mark.parametrize("spec", ["", "a", "3-1", "-1", "0,,1", "0-", "1.5"])
def test_anything_else_is_refused(spec: str) -> None:
    with pytest.raises(CpuSpecError, match="not a CPU list"):
        parse_cpus(spec)


def test_the_setting_is_off_unless_given_and_names_itself_when_wrong() -> None:
    assert Settings.from_env({}).cpus is None
    assert Settings.from_env({"PRIZELEDGER_CPUS": ""}).cpus is None
    assert Settings.from_env({"PRIZELEDGER_CPUS": "0-1"}).cpus == frozenset({0, 1})
    with pytest.raises(SettingsError, match="PRIZELEDGER_CPUS"):
        Settings.from_env({"PRIZELEDGER_CPUS": "first"})


def _threads_affinity(script: str, env: dict[str, str] | None = None) -> dict[str, object]:
    """Run ``script`` in a fresh interpreter (pinning this one would slow the rest of the run);
    it prints a JSON object last."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
        cwd=Path(__file__).resolve().parents[2],
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# Every thread's CPU set, as a sorted list of distinct sets (one line: the scripts are dedented).
AFFINITIES = (
    "affinities = lambda: sorted({tuple(sorted(os.sched_getaffinity(int(t))))"
    ' for t in os.listdir("/proc/self/task")})'
)


def test_every_thread_is_kept_on_the_cpus_those_running_and_those_started_later() -> None:
    cpu = min(os.sched_getaffinity(0))
    result = _threads_affinity(
        f"""
        import json, os, threading
        from infrastructure.cpus import pin_process
        {AFFINITIES}
        stop = threading.Event()
        before = threading.Thread(target=stop.wait); before.start()
        pinned = pin_process(frozenset({{{cpu}}}))
        after = threading.Thread(target=stop.wait); after.start()
        seen = affinities()
        unavailable = pin_process(frozenset({{10_000}}))
        stop.set()
        print(json.dumps({{"pinned": pinned, "seen": seen, "unavailable": unavailable,
                           "still": affinities()}}))
        """
    )
    assert result == {"pinned": True, "seen": [[cpu]], "unavailable": False, "still": [[cpu]]}


def test_a_system_bootstrapped_with_the_setting_runs_on_its_cpus(tmp_path: Path) -> None:
    cpu = max(os.sched_getaffinity(0))
    env = {"PRIZELEDGER_CPUS": str(cpu), "PRIZELEDGER_DATA_DIR": str(tmp_path)}
    env |= {"DATABASE_URL": "", "REDIS_URL": ""}
    result = _threads_affinity(
        f"""
        import json, os
        from infrastructure.bootstrap import bootstrap
        {AFFINITIES}
        system = bootstrap()
        print(json.dumps({{"cpus": sorted(system.settings.cpus), "seen": affinities()}}))
        system.close()
        """,
        env,
    )
    assert result == {"cpus": [cpu], "seen": [[cpu]]}
