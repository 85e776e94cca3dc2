"""Bulk read-model writes (``insert_rows``, ``merge_rows``) leave the same rows in Postgres
(COPY, one statement over arrays) as in SQLite (one statement per row)."""

from __future__ import annotations

import psycopg
import pytest

from infrastructure.readstore import COPY_FROM_ROWS, PostgresReadStore, SqliteReadStore
from infrastructure.settings import Settings
from projections.store import Merge, ReadStore

DDL = (
    "CREATE TABLE {t} (k TEXT NOT NULL, c TEXT NOT NULL, n BIGINT NOT NULL, m INTEGER NOT NULL,"
    " note TEXT, PRIMARY KEY (k, c))"
)
ODD = ["tab\there", "new\nline", "back\\slash", "quote'\"", "ünï €", "", "\\N", None]


def _rows(store: ReadStore) -> list[tuple[object, ...]]:
    with store.transaction() as tx:
        return tx.fetchall("SELECT k, c, n, m, note FROM bulk ORDER BY k, c")


@pytest.mark.postgres
def test_bulk_writes_agree_between_the_stores(pg_settings: Settings) -> None:
    url = pg_settings.database_url or ""
    stores: list[ReadStore] = [
        SqliteReadStore(":memory:"),
        PostgresReadStore(url, pg_settings.schema, size=1),
    ]
    rows = [(f"k{i}", "EUR", i * 10**12, i, note) for i, note in enumerate(ODD)]
    # as many again in one write: a COPY in Postgres (the rows above: one INSERT over arrays)
    many = [(f"m{i}", "EUR", -i, i, ODD[i % len(ODD)]) for i in range(COPY_FROM_ROWS)]
    upsert = Merge("bulk", ("k", "c"), ("n", "m"), ("note",), insert=True)
    update = Merge("bulk", ("k", "c"), ("n",), ("note",))
    try:
        for store in stores:
            with store.transaction() as tx:
                tx.execute(DDL.format(t="bulk"))
                tx.insert_rows("bulk", ("k", "c", "n", "m", "note"), rows)
                tx.insert_rows("bulk", ("k", "c", "n", "m", "note"), many)
            with store.transaction() as tx:
                # upsert: two existing keys, one new; update: one existing key, one missing
                tx.merge_rows(upsert, [(5, 1, "x\ty", "k0", "EUR"), (-7, 2, None, "k1", "EUR")])
                tx.merge_rows(upsert, [(3, 1, "new", "k9", "USD")])
                tx.merge_rows(update, [(100, "upd", "k2", "EUR"), (1, "gone", "zz", "EUR")])
                tx.merge_rows(update, [])
        expected = [(k, c, n, m, note) for k, c, n, m, note in rows]
        expected[0] = ("k0", "EUR", 5, 1, "x\ty")
        expected[1] = ("k1", "EUR", 10**12 - 7, 3, None)
        expected[2] = ("k2", "EUR", 2 * 10**12 + 100, 2, "upd")
        expected.append(("k9", "USD", 3, 1, "new"))
        expected += many
        for store in stores:
            assert _rows(store) == sorted(expected), store.dialect
    finally:
        for store in stores:
            store.close()


@pytest.mark.postgres
def test_a_failed_bulk_write_rolls_back_its_transaction(pg_settings: Settings) -> None:
    store = PostgresReadStore(pg_settings.database_url or "", pg_settings.schema, size=1)
    try:
        with store.transaction() as tx:
            tx.execute(DDL.format(t="bulk"))
            tx.insert_rows("bulk", ("k", "c", "n", "m", "note"), [("a", "EUR", 1, 1, None)])

        def insert_b_then_a_again() -> None:
            with store.transaction() as tx:
                tx.insert_rows("bulk", ("k", "c", "n", "m", "note"), [("b", "EUR", 1, 1, None)])
                tx.insert_rows("bulk", ("k", "c", "n", "m", "note"), [("a", "EUR", 2, 2, None)])

        with pytest.raises(psycopg.errors.UniqueViolation):
            insert_b_then_a_again()
        assert _rows(store) == [("a", "EUR", 1, 1, None)]
    finally:
        store.close()


def _update_then_fail(store: ReadStore) -> None:
    with store.transaction() as tx:
        tx.execute("UPDATE lone SET n = 5 WHERE k = 'a'")
        raise ZeroDivisionError


@pytest.mark.postgres
def test_a_lone_query_runs_outside_a_transaction_and_leaves_the_connection_as_it_was(
    pg_settings: Settings,
) -> None:
    url = pg_settings.database_url or ""
    stores: list[ReadStore] = [
        SqliteReadStore(":memory:"),
        PostgresReadStore(url, pg_settings.schema, size=1),  # one connection: reused below
    ]
    try:
        for store in stores:
            with store.transaction() as tx:
                tx.execute(DDL.format(t="lone"))
                tx.execute("INSERT INTO lone VALUES ('a', 'EUR', 1, 2, 'x')")
            assert store.fetchone("SELECT n, note FROM lone WHERE k = %s", ("a",)) == (1, "x")
            assert store.fetchone("SELECT n FROM lone WHERE k = %s", ("b",)) is None
            with pytest.raises(psycopg.Error if store.dialect == "postgres" else Exception):
                store.fetchone("SELECT no_such_column FROM lone")
            # The connection is back in transactions: a failed one still rolls back whole.
            with pytest.raises(ZeroDivisionError):
                _update_then_fail(store)
            assert store.fetchone("SELECT n FROM lone WHERE k = %s", ("a",)) == (1,)
    finally:
        for store in stores:
            store.close()
