"""``prizeledger migrate`` through the console script: the first run creates the schema, the
event store, every read model at its version, the outboxes; a second run creates nothing and
keeps every row; the same on the embedded SQLite files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from domain.cause import Cause
from infrastructure.bootstrap import bootstrap
from infrastructure.settings import Settings
from projections.catalog import ALL
from tests.cli.entry import environment, postgres_environment, prizeledger, unmade_schema
from tests.conftest import FAST_ARGON2

# Besides the read models (rm_<name>_v<version>_<table>), every store has these, and the event
# store's events and snapshots (named by the eventsourcing recorder of each database).
COMMON = {"rm_tracking", "rm_active", "notification_outbox", "mail_local"}
POSTGRES_EVENTS = {"prizeledger_events", "prizeledger_snapshots"}
SQLITE_EVENTS = {"stored_events", "stored_snapshots"}


def migrate(env: dict[str, str]) -> dict[str, Any]:
    done = prizeledger(env, "migrate", "--json")
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def assert_complete(tables: list[str], events: set[str]) -> None:
    assert set(tables) >= COMMON | events
    for cls in ALL:  # every read model has its tables at its version
        assert any(t.startswith(f"rm_{cls.name}_v{cls.version}_") for t in tables), cls.name


@pytest.fixture
def schema(postgres_url: str) -> Iterator[str]:
    with unmade_schema(postgres_url, "mig") as name:
        yield name


@pytest.mark.postgres
def test_migrate_twice_on_postgres(postgres_url: str, schema: str) -> None:
    env = postgres_environment(postgres_url, schema)
    first = migrate(env)
    assert first["where"] == f"Postgres, schema {schema}"
    assert_complete(first["created"], POSTGRES_EVENTS)
    assert first["created"] == first["tables"]
    assert first["behind"] == []
    settings = Settings(database_url=postgres_url, schema=schema, **FAST_ARGON2)
    system = bootstrap(settings)  # some data that a second run must keep
    try:
        system.wallets.open("p1", Cause("player:p1", "open"))
        head = system.ledger.recorder.max_notification_id()
        system.projector().catch_up()
        second = migrate(env)
        assert second["created"] == []
        assert second["tables"] == first["tables"]
        assert system.ledger.recorder.max_notification_id() == head
        assert system.read_models.balance("p1") is not None
        human = prizeledger(env, "migrate")
        assert human.returncode == 0, human.stderr
        assert "nothing to create" in human.stdout
    finally:
        system.close()


def test_migrate_twice_embedded(tmp_path: Path) -> None:
    env = environment(PRIZELEDGER_DATA_DIR=str(tmp_path))
    first = migrate(env)
    assert first["where"] == f"embedded SQLite in {tmp_path}"
    assert_complete(first["created"], SQLITE_EVENTS)
    assert {p.name for p in tmp_path.glob("*.sqlite")} == {
        "prizeledger.sqlite",
        "readmodels.sqlite",
    }
    second = migrate(env)
    assert second["created"] == []
    assert second["tables"] == first["tables"]
