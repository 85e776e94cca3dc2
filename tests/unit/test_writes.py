"""How a batch's statements are ordered and grouped before they reach the read store."""

from __future__ import annotations

from collections.abc import Sequence

from projections.base import Writes
from projections.store import Merge, Row, SetStatement


class _Recording:
    """A ReadTx that records what it was asked to run, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object, list[tuple[object, ...]]]] = []

    def execute(self, sql: str, params: Sequence[object] = ()) -> int:
        self.calls.append(("execute", sql, [tuple(params)]))
        return 1

    def send(self, sql: str, params: Sequence[object] = ()) -> None:
        self.calls.append(("one", sql, [tuple(params)]))

    def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        self.calls.append(("many", sql, [tuple(r) for r in rows]))

    def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[object]]
    ) -> None:
        self.calls.append(("insert", table, [tuple(r) for r in rows]))

    def merge_rows(self, merge: Merge, rows: Sequence[Sequence[object]]) -> None:
        self.calls.append(("merge", merge.table, [tuple(r) for r in rows]))

    def execute_set(self, statement: SetStatement, rows: Sequence[Sequence[object]]) -> None:
        self.calls.append(("set", statement.one, [tuple(r) for r in rows]))

    def update_set(self, statement: SetStatement, rows: Sequence[Sequence[object]]) -> int:
        self.execute_set(statement, rows)
        return len(rows)

    def fetchone(self, sql: str, params: Sequence[object] = ()) -> Row | None:
        return None

    def fetchall(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        return []


def _flushed(writes: Writes) -> list[tuple[str, object, list[tuple[object, ...]]]]:
    tx = _Recording()
    writes.flush(tx)
    return tx.calls


def test_keyed_statements_go_in_rounds_each_key_in_its_own_order() -> None:
    w = Writes()
    for player in ("ann", "ben", "ann"):  # ann draws twice in the batch
        w.add_for(player, "first", player)
        w.add_for(player, "second", player)
    assert _flushed(w) == [
        ("many", "first", [("ann",), ("ben",)]),
        ("many", "second", [("ann",), ("ben",)]),
        ("one", "first", [("ann",)]),
        ("one", "second", [("ann",)]),
    ]


def test_a_statement_of_no_key_waits_for_the_keyed_ones_before_it() -> None:
    w = Writes()
    w.add_for("ann", "keyed", "ann")
    w.add("barrier", 1)
    w.add_for("ben", "keyed", "ben")
    w.insert("t", ("c",), 2)
    assert _flushed(w) == [
        ("one", "keyed", [("ann",)]),
        ("one", "barrier", [(1,)]),
        ("one", "keyed", [("ben",)]),
        ("insert", "t", [(2,)]),
    ]


def test_merges_go_last_unless_cut_before_a_statement() -> None:
    counts = Merge("t", ("k",), ("n",))
    w = Writes()
    w.merge(counts, ("a",), (1,), ())
    w.add("sets n", "a")
    w.merge(counts, ("a",), (2,), ())
    w.merge(counts, ("b",), (5,), ())
    assert _flushed(w) == [
        ("one", "sets n", [("a",)]),
        ("merge", "t", [(3, "a"), (5, "b")]),
    ]
    w = Writes()
    w.merge(counts, ("a",), (1,), ())
    w.cut()
    w.add("sets n", "a")
    w.merge(counts, ("a",), (2,), ())
    assert _flushed(w) == [
        ("merge", "t", [(1, "a")]),
        ("one", "sets n", [("a",)]),
        ("merge", "t", [(2, "a")]),
    ]


def test_a_set_statement_takes_a_round_of_keys_as_one_set() -> None:
    drew = SetStatement("one row", "all of {src}", (("player", "text"),))
    w = Writes()
    for player in ("ann", "ben", "ann"):
        w.add_for(player, drew, player)
    assert _flushed(w) == [
        ("set", "one row", [("ann",), ("ben",)]),
        ("set", "one row", [("ann",)]),
    ]
