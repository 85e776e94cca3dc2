"""``prizeledger migrate``: create or update every table the system uses. Idempotent: every
statement is ``CREATE … IF NOT EXISTS``, so a second run creates nothing and changes no row.

What it makes: the Postgres schema (``PRIZELEDGER_SCHEMA``) if it is missing; the event store's
tables (the eventsourcing recorder makes them when the System is built: events and snapshots);
every read model at its active version with its tracking row (``projections.catalog.build``,
which includes the notification outbox); the local mail outbox the console lists. A read model
whose code moved to a new version is not rebuilt here (that replays the whole log): it is
reported, and ``prizeledger projections rebuild NAME`` switches it without downtime. Embedded, the
same tables go into the SQLite files under ``PRIZELEDGER_DATA_DIR``.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from infrastructure.bootstrap import bootstrap
from infrastructure.mail import MAIL_LOCAL_DDL
from infrastructure.settings import Settings
from projections.catalog import ALL, active_version, build

__all__ = ["Migration", "migrate"]


@dataclass(frozen=True, slots=True)
class Migration:
    where: str
    created: list[str]  # tables that did not exist before this run
    tables: list[str]  # every table there now
    # Read models serving an older version than the code's ("audit: v1 < v2"): reads keep
    # using the active version until ``prizeledger projections rebuild NAME`` switches them.
    behind: list[str]


def migrate(settings: Settings | None = None) -> Migration:
    """Create whatever is missing; report what was created."""
    settings = settings or Settings.from_env()
    if not settings.embedded:
        _create_schema(settings)
    before = _tables(settings)
    system = bootstrap(settings)  # the event store's tables
    try:
        build(system.read_store)  # every read model and the notification outbox
        with system.read_store.transaction() as tx:
            tx.execute(MAIL_LOCAL_DDL)
        behind = [
            f"{cls.name}: v{active} < v{cls.version}"
            for cls in ALL
            if (active := active_version(system.read_store, cls)) < cls.version
        ]
    finally:
        system.close()
    after = _tables(settings)
    where = (
        f"embedded SQLite in {settings.data_dir}"
        if settings.embedded
        else f"Postgres, schema {settings.schema}"
    )
    return Migration(where, sorted(set(after) - set(before)), sorted(after), behind)


def _create_schema(settings: Settings) -> None:
    assert settings.database_url is not None
    with psycopg.connect(settings.database_url, autocommit=True, connect_timeout=5) as conn:
        statement = sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
            sql.Identifier(settings.schema)
        )
        conn.execute(statement)


def _tables(settings: Settings) -> list[str]:
    if not settings.embedded:
        assert settings.database_url is not None
        with psycopg.connect(settings.database_url, connect_timeout=5) as conn:
            rows = conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (settings.schema,),
            ).fetchall()
        return [str(row[0]) for row in rows]
    files = [settings.event_store_env()["SQLITE_DBNAME"], settings.read_model_path()]
    return [name for path in files for name in _sqlite_tables(path)]


def _sqlite_tables(path: str) -> list[str]:
    if ":memory:" in path or not Path(path).exists():
        return []
    with closing(sqlite3.connect(path)) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return [str(row[0]) for row in rows]
