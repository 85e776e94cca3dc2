"""The services the suite runs against are there, and each run keeps to its own namespace."""

from __future__ import annotations

import psycopg
import pytest
import redis


@pytest.mark.redis
def test_redis_is_reachable_and_this_run_owns_its_prefix(redis_prefix: tuple[str, str]) -> None:
    url, prefix = redis_prefix
    client = redis.Redis.from_url(url)
    key = f"{prefix}probe"
    client.set(key, "1", ex=60)
    assert client.get(key) == b"1"
    assert all(k.decode().startswith(prefix) for k in client.scan_iter(match=f"{prefix}*"))
    client.close()


@pytest.mark.postgres
def test_postgres_runs_in_a_database_of_this_run(postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as conn:
        name = conn.execute("SELECT current_database()").fetchone()
        assert name is not None
        assert name[0].startswith("prizeledger_test_")
