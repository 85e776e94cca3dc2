"""``prizeledger seed-demo`` through the console script on real Postgres: it makes what it
says through the use cases, its printed logins work, a second run records nothing, and the
seeded store passes the auditor's verification."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pyotp
import pytest

from domain.cause import Cause
from domain.errors import AccountFrozen
from infrastructure.bootstrap import System, bootstrap
from infrastructure.settings import Settings
from tests.cli.entry import postgres_environment, prizeledger, unmade_schema
from tests.conftest import FAST_ARGON2

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

WITHDRAWALS = {
    "alice-paid": "paid",
    "alice-cancelled": "cancelled",
    "ben-large": "approved",
    "chen-rejected": "rejected",
    "chen-open": "requested",
}


@dataclass
class Seeded:
    env: dict[str, str]
    report: dict[str, Any]
    system: System  # in this process, on the same schema: what the store holds

    def player(self, name: str) -> dict[str, Any]:
        return next(p for p in self.report["players"] if p["email"].startswith(f"{name}@"))

    def operator(self, name: str) -> dict[str, Any]:
        return next(o for o in self.report["operators"] if o["email"].startswith(f"{name}@"))


def seed_demo(env: dict[str, str]) -> dict[str, Any]:
    done = prizeledger(env, "seed-demo", "--json")
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


@pytest.fixture(scope="module")
def seeded(postgres_url: str) -> Iterator[Seeded]:
    """One schema, migrated then seeded as in production (seeding takes seconds), for the
    module. The tests read it, and sign in (which records sessions, never money)."""
    with unmade_schema(postgres_url, "demo") as schema:
        env = postgres_environment(postgres_url, schema)
        assert prizeledger(env, "migrate").returncode == 0
        report = seed_demo(env)
        settings = Settings(database_url=postgres_url, schema=schema, pool_size=4, **FAST_ARGON2)
        system = bootstrap(settings)
        try:
            yield Seeded(env, report, system)
        finally:
            system.close()


def test_the_first_run_creates_the_demo(seeded: Seeded) -> None:
    report = seeded.report
    assert report["created"] is True
    assert report["new_events"] == seeded.system.ledger.recorder.max_notification_id()
    assert report["pools"] == ["daily-spin", "jackpot"]
    assert len(report["draws"]) == 10
    assert len(report["players"]) == 4
    assert {o["email"].partition("@")[0]: o["roles"] for o in report["operators"]} == {
        "admin": ["admin"],
        "finance": ["finance"],
    }


def test_the_printed_operator_logins_work_with_totp(seeded: Seeded) -> None:
    operators = seeded.system.operators
    for printed in seeded.report["operators"]:
        assert printed["otpauth_uri"].startswith("otpauth://totp/")
        assert f"secret={printed['totp_secret']}" in printed["otpauth_uri"]
        assert operators.operator(printed["operator_id"]).totp_enabled
        # The next step's code: the current one may have been spent enabling TOTP.
        code = pyotp.TOTP(printed["totp_secret"]).at(seeded.system.clock(), counter_offset=1)
        session = operators.login(
            printed["email"],
            printed["password"],
            "127.0.0.1",
            "test",
            Cause("system:test", f"login-{secrets.token_hex(4)}"),
            totp_code=code,
        )
        assert session.operator_id == printed["operator_id"]
        assert not session.enrolment_only


def test_the_printed_player_logins_work_but_the_frozen_one(seeded: Seeded) -> None:
    accounts = seeded.system.accounts
    for printed in seeded.report["players"]:
        cause = Cause("system:test", f"login-{secrets.token_hex(4)}")
        if printed["frozen"]:
            with pytest.raises(AccountFrozen):
                accounts.login(printed["email"], printed["password"], "::1", "test", cause)
            continue
        result = accounts.login(printed["email"], printed["password"], "::1", "test", cause)
        assert result.player_id == printed["player_id"]
    assert [p["email"].partition("@")[0] for p in seeded.report["players"] if p["frozen"]] == [
        "dana"
    ]
    assert seeded.player("ben")["totp_secret"]
    assert accounts.account(seeded.player("ben")["account_id"]).totp_enabled


def test_withdrawals_are_in_every_review_state(seeded: Seeded) -> None:
    printed = {w["name"]: w for w in seeded.report["withdrawals"]}
    assert {name: w["state"] for name, w in printed.items()} == WITHDRAWALS
    for name, state in WITHDRAWALS.items():
        stored = seeded.system.withdrawals.status(UUID(printed[name]["withdrawal_id"]))
        assert stored.state == state, name
    large = seeded.system.withdrawals.status(UUID(printed["ben-large"]["withdrawal_id"]))
    assert large.amount_minor >= seeded.system.config.money_policy().large_withdrawal_threshold
    assert (large.approvals_required, large.approvals) == (2, 2)


def test_pools_draws_and_a_revealed_epoch(seeded: Seeded) -> None:
    pools = seeded.system.pools
    jackpot = pools.summary("jackpot")
    assert {p["prize_id"]: p.get("stock") for p in jackpot.prizes}["grand"] == 1  # scarce
    assert jackpot.stock["grand"] in {0, 1}
    for key in ("daily-spin", "jackpot"):
        first, current = pools.epochs(key)
        assert first.revealed_seed is not None  # the first epoch's draws can be verified
        assert current.revealed_seed is None
    outcomes = [seeded.system.draws.get(UUID(d)) for d in seeded.report["draws"]]
    assert {o.status for o in outcomes} == {"settled"}
    assert sum(o.requested for o in outcomes) == 1 + 5 + 2 + 10 + 10 + 3 + 1 + 3 + 3 + 5


def test_the_read_models_show_deposits_the_suspect_and_the_audit_trail(seeded: Seeded) -> None:
    reads = seeded.system.read_models
    alice, chen = seeded.player("alice")["player_id"], seeded.player("chen")["player_id"]
    states = sorted(d.state for d in reads.deposits(player_id=alice).rows)
    assert states == ["credited", "failed"]  # one top-up declined at the sandbox checkout
    assert len(reads.deposits(player_id=chen, state="credited", limit=50).rows) == 12
    assert sum(v.deposits_requested for v in reads.velocity(player_id=chen)) == 12
    rapid = reads.rapid_withdrawals(player_id=chen)
    assert len(rapid) == 2  # both of the suspect's withdrawals followed a credit within minutes
    admin = seeded.operator("admin")["operator_id"]
    rows = reads.audit(actor=f"operator:{admin}", limit=200).rows
    actions = {row.action for row in rows}
    assert {"PrizePool.Created", "PrizePool.EpochRotated", "Wallet.Frozen"} <= actions
    frozen = next(row for row in rows if row.action == "Wallet.Frozen")
    assert frozen.reason == "identity documents requested (KYC review)"


def test_a_second_run_creates_nothing(seeded: Seeded) -> None:
    head = seeded.system.ledger.recorder.max_notification_id()
    again = prizeledger(seeded.env, "seed-demo")
    assert again.returncode == 0, again.stderr
    assert "nothing new recorded" in again.stdout
    replayed = seed_demo(seeded.env)
    assert seeded.system.ledger.recorder.max_notification_id() == head
    assert (replayed["created"], replayed["new_events"]) == (False, 0)
    for key in ("operators", "players", "pools", "draws", "withdrawals"):
        assert replayed[key] == seeded.report[key], key  # the same logins and TOTP secrets


def test_the_seeded_store_verifies(seeded: Seeded) -> None:
    done = prizeledger(seeded.env, "verify", "--json")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["ok"] is True
    assert report["ledger_totals"] == {"EUR": 0}
    assert {c["name"]: c["violations"] for c in report["checks"] if c["violations"]} == {}
    drawn = prizeledger(seeded.env, "verify-draw", "--all", "--pool", "jackpot")
    assert drawn.returncode == 0, drawn.stdout + drawn.stderr


def test_without_the_sandbox_provider_nothing_is_recorded(pg_settings: Settings) -> None:
    assert pg_settings.database_url is not None
    env = postgres_environment(pg_settings.database_url, pg_settings.schema)
    env["PRIZELEDGER_SANDBOX_PAYMENTS"] = "0"
    done = prizeledger(env, "seed-demo")
    assert done.returncode == 2
    assert "PRIZELEDGER_SANDBOX_PAYMENTS=1" in done.stderr
    system = bootstrap(pg_settings)
    try:
        assert not system.ledger.recorder.max_notification_id()
    finally:
        system.close()
