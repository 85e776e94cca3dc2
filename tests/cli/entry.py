"""Running ``prizeledger`` the way an operator does: the installed console script in a
subprocess, configured by environment only (the tests' own settings never leak in)."""

from __future__ import annotations

import os
import queue
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]
_SCRIPT = Path(sys.executable).with_name("prizeledger")
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "ops.cli"]
# What the process may inherit; anything else (DATABASE_URL, REDIS_URL, PRIZELEDGER_*) is
# left out so that only what a test passes configures it.
_INHERITED = {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV", "PYTHONPATH"}
FAST_ARGON2 = {
    "PRIZELEDGER_ARGON2_TIME_COST": "1",
    "PRIZELEDGER_ARGON2_MEMORY_KIB": "1024",
    "PRIZELEDGER_ARGON2_PARALLELISM": "1",
}


def environment(**settings: str) -> dict[str, str]:
    """A clean environment with quiet logs, cheap password hashing and ``settings``."""
    env = {k: v for k, v in os.environ.items() if k in _INHERITED}
    return {**env, "PRIZELEDGER_LOG_LEVEL": "WARNING", **FAST_ARGON2, **settings}


def postgres_environment(database_url: str, schema: str) -> dict[str, str]:
    """A production-like configuration: Postgres, every secret set (32+ characters), the
    sandbox payment provider on (the demo's deposits go through it)."""
    return environment(
        DATABASE_URL=database_url,
        PRIZELEDGER_SCHEMA=schema,
        PRIZELEDGER_JWT_SECRET=secrets.token_urlsafe(40),
        PRIZELEDGER_ADMIN_JWT_SECRET=secrets.token_urlsafe(40),
        PRIZELEDGER_WEBHOOK_SECRET=secrets.token_urlsafe(40),
        PRIZELEDGER_SANDBOX_PAYMENTS="1",
        POSTGRES_POOL_SIZE="4",
    )


@contextmanager
def unmade_schema(postgres_url: str, prefix: str) -> Iterator[str]:
    """A schema name nobody made yet (``prizeledger migrate`` creates it), dropped after."""
    name = f"{prefix}_{secrets.token_hex(5)}"
    try:
        yield name
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


def prizeledger(
    env: dict[str, str], *args: str, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """``prizeledger ARGS`` to completion."""
    return subprocess.run(
        [*COMMAND, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """A long-running ``prizeledger`` process (run, api): its stdout read line by line in a
    thread, stopped with SIGTERM and a bounded wait."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.process = subprocess.Popen(
            [*COMMAND, *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.stderr: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, daemon=True),
            threading.Thread(target=self._drain, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def _drain(self) -> None:
        assert self.process.stderr is not None
        self.stderr.extend(self.process.stderr)

    def lines_until(self, last: str, timeout: float) -> list[str]:
        """stdout lines up to the first one containing ``last`` (or AssertionError)."""
        deadline = time.monotonic() + timeout
        lines: list[str] = []
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                raise AssertionError(f"no {last!r} in {lines} / {''.join(self.stderr)[-3000:]}")
            lines.append(line)
            if last in line:
                return lines

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, then wait at most ``timeout`` s (killed, and the test fails, past it)."""
        self.process.terminate()
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            raise AssertionError(f"did not stop within {timeout} s of SIGTERM") from None
        finally:
            for reader in self._readers:  # both pipes reach their end once the process exits
                reader.join(timeout=10)
            for pipe in (self.process.stdout, self.process.stderr):
                if pipe is not None:
                    pipe.close()


def get(url: str, timeout: float = 60) -> tuple[int, bytes]:
    """GET once the server answers (connection refused is retried until ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return int(response.status), response.read()
        except urllib.error.HTTPError as error:
            return int(error.code), error.read()
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
