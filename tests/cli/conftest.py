"""The auditor's commands through the real entry point (``python -m ops.cli``) on real Postgres.

``store`` seeds a schema of its own through the use cases — pools, deposits (credited, failed,
charged back), draws (won, missed, refused), a bonus, an adjustment, withdrawals (paid,
rejected, open) — and projects it. ``cli`` runs a command against that schema in a subprocess.
The tamper helpers change the stored events or read models behind the application's back, the
way an attacker with database access would: events are MessagePack (``MsgspecTranscoder``).
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest

from domain.cause import Cause
from domain.prizes import PoolControls, Prize
from domain.wallet import Balance
from infrastructure.bootstrap import System, bootstrap
from infrastructure.settings import Settings
from infrastructure.transcoder import MsgspecTranscoder
from tests.conftest import SteppingClock

ROOT = Path(__file__).resolve().parents[2]
OPERATOR, PSP = "operator:alice", "system:psp"


@dataclass
class Store:
    settings: Settings
    system: System
    clock: SteppingClock
    draws: dict[str, str] = field(default_factory=dict)  # name -> draw id
    deposits: dict[str, str] = field(default_factory=dict)
    withdrawals: dict[str, str] = field(default_factory=dict)
    data_dir: Path | None = None  # the embedded store's directory (its secrets are kept there)

    @property
    def table(self) -> str:
        return f"{self.settings.schema}.prizeledger_events"

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """``prizeledger ARGS`` in a subprocess against this store."""
        return subprocess.run(
            [sys.executable, "-m", "ops.cli", *args],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def env(self) -> dict[str, str]:
        assert self.settings.database_url is not None
        env = {
            **os.environ,
            "DATABASE_URL": self.settings.database_url,
            "PRIZELEDGER_SCHEMA": self.settings.schema,
            "PRIZELEDGER_LOG_LEVEL": "WARNING",
            "POSTGRES_POOL_SIZE": "2",  # the server's connections are shared by parallel runs
        }
        if self.data_dir is not None:
            env["PRIZELEDGER_DATA_DIR"] = str(self.data_dir)
        return env

    def project(self) -> None:
        """Catch every read model up, then release the projector's lease and connections."""
        projector = self.system.projector()
        projector.catch_up()
        stopped = threading.Event()
        stopped.set()
        projector.run(stopped)

    def notifications(self, topic: str) -> list[tuple[int, Any]]:
        """(notification id, decoded event) of every stored event of ``topic`` (a qualname)."""
        found = []
        for n in self.system.ledger.recorder.select_notifications(start=1, limit=100_000):
            if n.topic.endswith(f":{topic}"):
                found.append((n.id, self.system.ledger.mapper.to_domain_event(n)))
        return found

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        assert self.settings.database_url is not None
        with psycopg.connect(self.settings.database_url, autocommit=True) as conn:
            conn.execute(f"SET search_path TO {self.settings.schema}")
            cursor = conn.execute(statement, params)
            return cursor.fetchall() if cursor.description else []

    def rewrite_event(self, notification_id: int, change: Callable[[dict[str, Any]], None]) -> None:
        """Decode a stored event's state, let ``change`` edit it, store it re-encoded."""
        transcoder = MsgspecTranscoder()
        (state,) = self.sql(
            f"SELECT state FROM {self.table} WHERE notification_id = %s", (notification_id,)
        )[0]
        data = transcoder.decode(bytes(state))
        change(data)
        self.sql(
            f"UPDATE {self.table} SET state = %s WHERE notification_id = %s",
            (transcoder.encode(data), notification_id),
        )


def _seed(store: Store) -> None:
    s, clock = store.system, store.clock

    def player(pid: str, request: str) -> Cause:
        return Cause(f"player:{pid}", request)

    op = itertools.count(1)

    def operator() -> Cause:
        return Cause(OPERATOR, f"op-{next(op)}")

    s.pools.create("gold", "Gold wheel", 100, PoolControls(rtp_target_bps=10_000), operator())
    nugget = Prize("nugget", "Nugget", "cash", 100, 1, stock=3, budget=250, budget_window_s=3600)
    s.pools.add_prize("gold", nugget, operator())
    s.pools.fund("gold", 10_000, operator())
    chips = PoolControls(rtp_target_bps=5_000, miss_weight=3)  # 1 in 4 wins
    s.pools.create("chips", "Chip wheel", 100, chips, operator())
    s.pools.add_prize("chips", Prize("chip", "Chip", "bonus", 50, 1), operator())
    s.pools.fund("chips", 1_000, operator())
    clock.advance(minutes=1)
    for pid in ("p1", "p2"):
        s.wallets.open(pid, player(pid, "open"))
    d = store.deposits
    d["p1"] = s.deposits.request("p1", 5_000, "EUR", "sandbox", player("p1", "d1")).deposit_id
    s.deposits.confirm(UUID(d["p1"]), "psp-1", Cause(PSP, "wh1"))
    d["p2-failed"] = s.deposits.request(
        "p2", 2_000, "EUR", "sandbox", player("p2", "d1")
    ).deposit_id
    s.deposits.fail(UUID(d["p2-failed"]), "card declined", Cause(PSP, "wh2"))
    d["p2"] = s.deposits.request("p2", 3_000, "EUR", "sandbox", player("p2", "d2")).deposit_id
    s.deposits.confirm(UUID(d["p2"]), "psp-2", Cause(PSP, "wh3"))
    clock.advance(minutes=5)
    draws = [("gold-2", "p1", "gold", 2), ("chips-3", "p1", "chips", 3)]
    draws += [("gold-refused", "p1", "gold", 1), ("p2-chips", "p2", "chips", 1)]
    for name, pid, pool, count in draws:
        store.draws[name] = s.draws.draw(pid, pool, count, player(pid, name)).draw_id
    clock.advance(minutes=5)
    s.wallets.credit_bonus("p2", 500, "welcome", operator())
    s.wallets.adjust("p1", Balance.AVAILABLE, -100, "duplicate credit", operator())
    d["p1-back"] = s.deposits.request("p1", 1_000, "EUR", "sandbox", player("p1", "d2")).deposit_id
    s.deposits.confirm(UUID(d["p1-back"]), "psp-3", Cause(PSP, "wh4"))
    s.deposits.reverse(UUID(d["p1-back"]), "chargeback", Cause(PSP, "cb1"))
    clock.advance(minutes=5)
    w = store.withdrawals
    w["p1-paid"] = s.withdrawals.request(
        "p1", 1_000, "EUR", "iban:p1", player("p1", "w1")
    ).withdrawal_id
    s.withdrawals.approve(UUID(w["p1-paid"]), operator())
    s.withdrawals.submit(UUID(w["p1-paid"]), "bank-1", operator())
    s.withdrawals.mark_paid(UUID(w["p1-paid"]), operator())
    w["p2-rejected"] = s.withdrawals.request(
        "p2", 500, "EUR", "iban:p2", player("p2", "w1")
    ).withdrawal_id
    s.withdrawals.reject(UUID(w["p2-rejected"]), "suspicious", operator())
    w["p2-open"] = s.withdrawals.request(
        "p2", 600, "EUR", "iban:p2", player("p2", "w2")
    ).withdrawal_id
    store.project()


def _seeded(
    settings: Settings, clock: SteppingClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Store]:
    # Event timestamps follow the test's clock, so --as-of and export windows are exact.
    monkeypatch.setattr("eventsourcing.domain.datetime_now_with_tzinfo", clock)
    counter = itertools.count(1)
    system = bootstrap(settings, clock=clock, seeds=lambda: f"server-seed-{next(counter):032d}")
    built = Store(settings, system, clock, data_dir=settings.data_dir)
    _seed(built)
    yield built
    system.close()


@pytest.fixture
def store(
    pg_settings: Settings, clock: SteppingClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Store]:
    """The seeded history on Postgres, in a schema of this test's own."""
    yield from _seeded(dataclasses.replace(pg_settings, pool_size=4), clock, monkeypatch)


@pytest.fixture
def embedded_store(
    tmp_path: Path, clock: SteppingClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Store]:
    """The seeded history in the embedded SQLite files, as ``prizeledger run`` keeps them."""
    settings = Settings(database_url=f"sqlite:{tmp_path / 'ledger.sqlite'}", data_dir=tmp_path)
    yield from _seeded(settings, clock, monkeypatch)
