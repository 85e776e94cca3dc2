"""A production-shaped deployment for one benchmark run, torn down afterwards.

A fresh Postgres database, a Redis key prefix, the environment the processes read their
settings from, ``prizeledger migrate``, a ``prizeledger projector`` process and the player API
under uvicorn (``--workers N``) as separate processes. The bench process keeps a System of its
own on the same store: operators' work (pools) and the checks afterwards go through it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import httpx
import psycopg
import redis

from infrastructure.bootstrap import System, bootstrap
from infrastructure.settings import Settings
from ops.bench.proc_cpu import descendants

__all__ = ["SERVER_HTTP", "SERVER_LOOP", "Deployment", "deploy"]

# The bench measures throughput, not the limiter: budgets no run can spend (the limiter's Redis
# calls still happen on every request).
UNLIMITED_PER_MIN = 100_000_000
START_TIMEOUT_S = 60.0
# The event loop and HTTP parser the server runs with: production's (``prizeledger api``).
SERVER_LOOP, SERVER_HTTP = "uvloop", "httptools"


@dataclass
class Deployment:
    base_url: str
    workers: int
    database: str
    env: dict[str, str]
    postgres: dict[str, str | None]  # fsync, synchronous_commit
    system: System
    server: subprocess.Popen[bytes]
    server_command: list[str]
    projector: subprocess.Popen[bytes]
    logs: Path
    _admin: psycopg.Connection[tuple[object, ...]]

    def server_pids(self) -> list[int]:
        return descendants(self.server.pid)

    def projector_pids(self) -> list[int]:
        return descendants(self.projector.pid)

    def postgres_pids(self) -> tuple[list[int], list[int]]:
        """The backends serving this run's database, and Postgres' background processes
        (WAL writer, checkpointer…; shared with anything else the server runs)."""
        rows = self._admin.execute(
            "SELECT pid, datname, backend_type FROM pg_stat_activity"
        ).fetchall()
        ours = [int(str(pid)) for pid, db, _ in rows if db == self.database]
        background = [
            int(str(pid)) for pid, db, kind in rows if db is None and kind != "client backend"
        ]
        return ours, background


def _database_url(admin_url: str, database: str) -> str:
    return urlunparse(urlparse(admin_url)._replace(path=f"/{database}"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _environment(database_url: str, redis_url: str, prefix: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PRIZELEDGER_", "POSTGRES_"))}
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        PRIZELEDGER_REDIS_PREFIX=prefix,
        PRIZELEDGER_DATA_DIR=str(data_dir),
        PRIZELEDGER_JWT_SECRET=secrets.token_urlsafe(48),
        PRIZELEDGER_WEBHOOK_SECRET=secrets.token_urlsafe(48),
        PRIZELEDGER_SANDBOX_PAYMENTS="1",
        PRIZELEDGER_RATE_IP_PER_MIN=str(UNLIMITED_PER_MIN),
        PRIZELEDGER_RATE_PLAYER_PER_MIN=str(UNLIMITED_PER_MIN),
        PRIZELEDGER_ACCESS_TOKEN_TTL_S="3600",  # outlives any run
        # every bench player registers from 127.0.0.1
        PRIZELEDGER_MAX_ACCOUNTS_PER_IP=str(UNLIMITED_PER_MIN),
        PRIZELEDGER_LOG_LEVEL="WARNING",  # the CLI's own log level (the projector process)
    )
    return env


def server_command(port: int, workers: int, profile: Path | None = None) -> list[str]:
    """uvicorn as production runs it; ``profile``: under cProfile in every thread, into that
    file (one worker only)."""
    runner = ["-m", "ops.bench.profiled_server", str(profile)] if profile else ["-m", "uvicorn"]
    return [
        sys.executable,
        *runner,
        "interfaces.player.app:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--loop",
        SERVER_LOOP,
        "--http",
        SERVER_HTTP,
        "--no-access-log",
        "--log-level",
        "warning",
    ]


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


def _wait_live(base_url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(
                f"the server exited ({server.returncode}):\n{log.read_text()[-3000:]}"
            )
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{base_url}/health/live", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"the server did not answer /health/live:\n{log.read_text()[-3000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _drop_redis_keys(redis_url: str, prefix: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1_000))
        for start in range(0, len(keys), 1_000):
            client.delete(*keys[start : start + 1_000])
    finally:
        client.close()


@contextlib.contextmanager
def deploy(
    admin_url: str, redis_url: str, workers: int, profile: Path | None = None
) -> Iterator[Deployment]:
    """Everything up and live; on exit every process stopped, the database dropped and the
    run's Redis keys deleted."""
    database = f"bench_http_{secrets.token_hex(4)}"
    prefix = f"{database}:"
    logs = Path(tempfile.mkdtemp(prefix=f"{database}-"))
    admin = psycopg.connect(admin_url, autocommit=True)
    admin.execute(f"CREATE DATABASE {database}")
    started: list[subprocess.Popen[bytes]] = []
    system: System | None = None
    failed = False
    try:
        postgres = {
            name: str(row[0]) if (row := admin.execute(f"SHOW {name}").fetchone()) else None
            for name in ("fsync", "synchronous_commit")
        }
        url = _database_url(admin_url, database)
        env = _environment(url, redis_url, prefix, logs)
        cli = [sys.executable, "-m", "ops.cli"]
        subprocess.run([*cli, "migrate"], env=env, check=True, capture_output=True)
        settings = Settings(database_url=url, redis_url=redis_url, redis_prefix=prefix, pool_size=4)
        system = bootstrap(settings)
        system.projection_status()  # before the projector runs: see http_draws._max_lag
        started.append(_start([*cli, "projector"], env, logs / "projector.log"))
        port = _free_port()
        command = server_command(port, workers, profile)
        started.append(_start(command, env, logs / "server.log"))
        base_url = f"http://127.0.0.1:{port}"
        _wait_live(base_url, started[-1], logs / "server.log")
        yield Deployment(
            base_url=base_url,
            workers=workers,
            database=database,
            env=env,
            postgres=postgres,
            system=system,
            server=started[1],
            server_command=command,
            projector=started[0],
            logs=logs,
            _admin=admin,
        )
    except BaseException:
        print(f"http bench: the processes' logs are kept in {logs}", file=sys.stderr)
        failed = True
        raise
    finally:
        for process in reversed(started):
            _stop(process)
        if system is not None:
            system.close()
        admin.execute(f"DROP DATABASE {database} WITH (FORCE)")
        admin.close()
        _drop_redis_keys(redis_url, prefix)
        if not failed:
            shutil.rmtree(logs, ignore_errors=True)
