"""Test-run isolation: every run gets its own Postgres database and Redis key prefix.

DATABASE_URL / REDIS_URL point at the servers (default 127.0.0.1). A test marked ``postgres`` or
``redis`` uses them; when a server is unreachable such tests are skipped on a developer machine
and *fail* in CI (CI=true), so a broken service can never turn into a green run.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
import redis

from infrastructure.bootstrap import System, bootstrap
from infrastructure.settings import Settings

ADMIN_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
RUN_ID = f"{os.getpid()}_{secrets.token_hex(4)}"
# Password hashing at production cost takes ~0.1 s a hash; tests need the behaviour, not the cost.
FAST_ARGON2: dict[str, Any] = {
    "argon2_time_cost": 1,
    "argon2_memory_kib": 1024,
    "argon2_parallelism": 1,
}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--soak", action="store_true", help="run the concurrency soak drill for 5 minutes"
    )


def _unavailable(what: str, error: Exception) -> None:
    message = f"{what} is not reachable: {error}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: a missing service is a failure, not a skip)")
    pytest.skip(message)


def _with_db(url: str, dbname: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{dbname}"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh database for this test run, dropped at the end."""
    dbname = f"prizeledger_test_{RUN_ID}"
    try:
        with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{dbname}"')
    except psycopg.OperationalError as error:
        _unavailable("Postgres", error)
    yield _with_db(ADMIN_URL, dbname)
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_prefix() -> Iterator[tuple[str, str]]:
    """(REDIS_URL, a key prefix owned by this run); the prefix's keys are deleted at the end."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5)
    try:
        client.ping()
    except redis.RedisError as error:
        _unavailable("Redis", error)
    prefix = f"prizeledger-test:{RUN_ID}:"
    yield REDIS_URL, prefix
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)
    client.close()


class SteppingClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 1, 1, 12, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock()


@pytest.fixture
def embedded(clock: SteppingClock) -> Iterator[System]:
    """The embedded default (SQLite in memory), as `prizeledger run` uses it."""
    system = bootstrap(Settings(database_url="sqlite::memory:", **FAST_ARGON2), clock=clock)
    yield system
    system.close()


@pytest.fixture
def pg_settings(postgres_url: str) -> Iterator[Settings]:
    """Settings for the real Postgres with a schema of this test's own (dropped afterwards)."""
    schema = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield Settings(database_url=postgres_url, pool_size=8, schema=schema, **FAST_ARGON2)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def pg_system(pg_settings: Settings, clock: SteppingClock) -> Iterator[System]:
    """A system on the real Postgres with its own tables (a schema per test)."""
    system = bootstrap(pg_settings, clock=clock)
    yield system
    system.close()
