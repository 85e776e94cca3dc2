"""``prizeledger verify``: passes on a sound store; names each kind of corruption, exit 1."""

from __future__ import annotations

import json
from typing import Any

import pytest

from domain import ids
from tests.cli.conftest import Store

pytestmark = pytest.mark.postgres

COMPARED = ["balances", "history", "trial_balance", "draws", "pool_stats", "deposits"]
COMPARED += ["withdrawals"]


def verify(store: Store, *args: str) -> tuple[int, dict[str, Any]]:
    done = store.cli("verify", "--json", *args)
    assert done.returncode in {0, 1}, done.stderr
    return done.returncode, json.loads(done.stdout)


def check(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in report["checks"] if c["name"] == name)


def failing(report: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """check name -> its offences, for the checks that failed."""
    return {c["name"]: c["first"] for c in report["checks"] if c["violations"]}


def models(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["name"]: m for m in report["read_models"]}


def test_a_sound_store_passes_every_check(store: Store) -> None:
    code, report = verify(store)
    assert code == 0
    assert report["ok"] is True
    assert failing(report) == {}
    head = store.system.ledger.recorder.max_notification_id()
    assert report["range"] == {"from": 1, "to": head, "head": head}
    assert report["events"] == head
    assert report["ledger_totals"] == {"EUR": 0}
    assert check(report, "draws")["checked"] == len(store.draws)
    assert check(report, "deposits")["checked"] == 3  # the credited ones (one charged back)
    assert check(report, "withdrawals")["checked"] == 3
    for name in COMPARED:
        assert models(report)[name]["outcome"] == "equal", name
        assert models(report)[name]["position"] == head
    assert models(report)["audit"]["outcome"].startswith("not compared")
    human = store.cli("verify")
    assert human.returncode == 0
    assert "verdict: OK" in human.stdout


def test_a_tampered_amount_is_named(store: Store) -> None:
    """A credit raised from 5,000 to 50,000 in the stored event: it no longer matches its
    deposit, and the read models (projected from the original) no longer match the events."""
    deposit = store.deposits["p1"]
    (position, _), *_ = [
        (n, e) for n, e in store.notifications("Wallet.DepositCredited") if e.deposit_id == deposit
    ]
    store.rewrite_event(position, lambda state: state.update(amount_minor=50_000))
    code, report = verify(store)
    assert code == 1
    assert report["ok"] is False
    offences = failing(report)
    (credit,) = offences["deposits"]
    assert credit["notification_id"] == position
    assert credit["topic"] == "Wallet.DepositCredited"
    assert "moves 50000 EUR" in credit["message"]
    assert "is 5000 EUR" in credit["message"]
    wallet = str(ids.wallet_id("p1"))
    mismatched = {o["aggregate_id"] for o in offences["read_models"]}
    assert wallet in mismatched  # balances: available differs
    assert "player:p1:available:EUR" in mismatched  # the trial balance's account
    assert "p1:available:EUR" in mismatched  # the history's sums


def test_a_pool_batch_its_checks_cannot_read_is_named_not_a_crash(store: Store) -> None:
    """A pool's DrawsSettled without its time: the win checks cannot run on it, nor can it
    apply to the pool. verify names the event and goes on to the end."""
    position, _ = store.notifications("PrizePool.DrawsSettled")[0]
    store.rewrite_event(position, lambda state: state.pop("at"))
    code, report = verify(store)
    assert code == 1
    events = failing(report)["events"]
    assert {o["notification_id"] for o in events} == {position}
    assert any("cannot be checked" in o["message"] for o in events)
    assert report["range"]["to"] == report["range"]["head"]  # folded to the end


def test_a_deleted_event_is_named(store: Store) -> None:
    """The lock of the paid withdrawal is deleted: the wallet's versions have a hole where it
    was, the payout settles a lock that never existed, and the read models disagree."""
    withdrawal = store.withdrawals["p1-paid"]
    [(position, locked)] = [
        (n, e)
        for n, e in store.notifications("Wallet.FundsLocked")
        if e.withdrawal_id == withdrawal
    ]
    store.sql(f"DELETE FROM {store.table} WHERE notification_id = %s", (position,))
    code, report = verify(store)
    assert code == 1
    offences = failing(report)
    (hole,) = offences["versions"]
    assert hole["aggregate_id"] == str(locked.originator_id)
    assert hole["notification_id"] > position
    assert f"version {locked.originator_version} is missing" in hole["message"]
    assert any(
        o["topic"] == "Wallet.WithdrawalPaidOut" and "never locked funds" in o["message"]
        for o in offences["withdrawals"]
    )
    assert any(o["aggregate_id"] == withdrawal for o in offences["withdrawals"])
    assert "balances" in offences  # the locked balance goes negative when the payout lands
    # A missing id is a warning on Postgres: rolled-back saves leave such gaps too.
    gaps = check(report, "notification_ids")
    assert gaps["violations"] == 0
    assert gaps["warnings"] == 1
    assert f"ids {position}..{position}" in gaps["notes"][0]["message"]


def test_a_duplicated_credit_is_named_and_a_lagging_read_model_is_not_blamed(
    store: Store,
) -> None:
    """A copy of a deposit's credit appended as the wallet's next version. The projections
    have not seen it: they are compared where they are, and their lag reported."""
    deposit = store.deposits["p2"]
    [(position, credit)] = [
        (n, e) for n, e in store.notifications("Wallet.DepositCredited") if e.deposit_id == deposit
    ]
    wallet = credit.originator_id
    (last,) = store.sql(
        f"SELECT max(originator_version) FROM {store.table} WHERE originator_id = %s", (wallet,)
    )[0]
    store.sql(
        f"INSERT INTO {store.table} (originator_id, originator_version, topic, state)"
        f" SELECT originator_id, %s, topic, state FROM {store.table} WHERE notification_id = %s",
        (last + 1, position),
    )
    (copy,) = store.sql(f"SELECT max(notification_id) FROM {store.table}")[0]
    code, report = verify(store)
    assert code == 1
    offences = failing(report)
    assert list(offences) == ["deposits"]
    second, end_state = offences["deposits"]
    assert second["notification_id"] == copy
    assert second["aggregate_id"] == str(wallet)
    assert f"deposit {deposit} is credited a second time" in second["message"]
    assert end_state["aggregate_id"] == deposit
    assert (
        "wanted 1 credit(s) and 0 reversal(s) in the wallet, found 2 and 0"
        in (end_state["message"])
    )
    for name in COMPARED:
        assert models(report)[name]["outcome"] == "equal", name
        assert models(report)[name]["lag"] == 1
        assert models(report)[name]["position"] == copy - 1


def test_a_read_model_row_changed_behind_its_back_is_named(store: Store) -> None:
    store.sql("UPDATE rm_balances_v1_balances SET available = available + 1 WHERE player_id = 'p2'")
    draw = store.draws["chips-3"]
    store.sql("UPDATE rm_draws_v1_draws SET cost_total = 1 WHERE draw_id = %s", (draw,))
    code, report = verify(store)
    assert code == 1
    offences = failing(report)
    assert list(offences) == ["read_models"]
    by_key = {o["aggregate_id"]: o for o in offences["read_models"]}
    balance = by_key[str(ids.wallet_id("p2"))]
    assert balance["topic"] == "read model balances"
    available = store.system.wallets.balances("p2").available
    assert f"available {available + 1} (events: {available})" in balance["message"]
    assert by_key[draw]["topic"] == "read model draws"
    assert "cost_total 1 (events: 300)" in by_key[draw]["message"]
    assert models(report)["balances"]["outcome"] == "mismatch"
    assert models(report)["history"]["outcome"] == "equal"
    human = store.cli("verify")
    assert human.returncode == 1
    assert "read model balances" in human.stdout
    assert "verdict: FAILED (2 violations)" in human.stdout


def test_a_draw_row_is_compared_by_value_not_by_its_json_text(store: Store) -> None:
    """The draws comparison tries a row's results text as stored first; text written otherwise
    (keys in another order, blanks) is the same value and still equal, a changed value is not."""
    reordered, changed = store.draws["gold-2"], store.draws["chips-3"]
    (text,) = store.sql("SELECT results FROM rm_draws_v1_draws WHERE draw_id = %s", (reordered,))[0]
    results = [dict(reversed(r.items())) for r in json.loads(text)]
    store.sql(
        "UPDATE rm_draws_v1_draws SET results = %s WHERE draw_id = %s",
        (json.dumps(results, indent=1), reordered),
    )
    (text,) = store.sql("SELECT results FROM rm_draws_v1_draws WHERE draw_id = %s", (changed,))[0]
    results = json.loads(text)
    results[0]["nonce"] += 1
    store.sql(
        "UPDATE rm_draws_v1_draws SET results = %s WHERE draw_id = %s",
        (json.dumps(results, sort_keys=True, separators=(",", ":")), changed),
    )
    code, report = verify(store)
    assert code == 1
    (offence,) = failing(report)["read_models"]
    assert offence["aggregate_id"] == changed
    assert offence["topic"] == "read model draws"
    assert "results" in offence["message"]


def test_from_and_to_bound_what_is_reported_and_folded(store: Store) -> None:
    deposit = store.deposits["p1"]
    [(position, _)] = [
        (n, e) for n, e in store.notifications("Wallet.DepositCredited") if e.deposit_id == deposit
    ]
    store.rewrite_event(position, lambda state: state.update(amount_minor=4_000))
    code, report = verify(store, "--from", str(position + 1))
    assert "deposits" not in failing(report)
    assert report["not_reported_before_from"] >= 1
    assert code == 1  # the read models still disagree with the events
    # Up to the save before the one that credits it, the ledger is sound.
    [(confirmed, _)] = [
        (n, e)
        for n, e in store.notifications("Deposit.ProviderSucceeded")
        if str(e.originator_id) == deposit
    ]
    code, report = verify(store, "--to", str(confirmed - 1))
    assert (code, report["range"]["to"]) == (0, confirmed - 1)
    assert models(report)["balances"]["outcome"].startswith("not compared")


def test_usage_errors_exit_2(store: Store) -> None:
    assert store.cli("verify", "--from", "0").returncode == 2
    assert store.cli("verify", "--from", "5", "--to", "4").returncode == 2
    assert store.cli("verify", "--bogus").returncode == 2
