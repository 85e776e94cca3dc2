"""Finance review and finance reports through the operator app (real Postgres and Redis), with
players depositing and withdrawing through the player app on the same System: the queues, every
state-machine action, maker-checker on large withdrawals, step-up (missing or wrong: refused and
nothing changes), and every action in the audit log with its operator and reason."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.cause import Cause
from tests.admin.conftest import V1, AdminApi, StaffLogin
from tests.admin.test_changes import project as project_only
from tests.api.conftest import Player
from tests.api.support import IBAN, Snapshot, add_bank_account, given_pool, snapshot
from tests.ledger_checks import assert_ledger_invariants

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def problem(got: Any, status: int, code: str) -> None:
    assert got.status_code == status, got.text
    assert got.headers["content-type"].startswith("application/problem+json")
    assert got.json()["code"] == code, got.text


def assert_unchanged(admin: AdminApi, before: Snapshot, player: Player) -> None:
    """No money, payment or player event since ``before``: only receipts (a refusal's) and the
    operator's own stream (a wrong step-up code counts towards their lock)."""
    since = admin.system.ledger.recorder.select_notifications(start=before.head + 1, limit=1_000)
    kinds = {n.topic.rpartition(":")[2].split(".")[0] for n in since}
    assert kinds <= {"Receipt", "Operator"}, kinds
    assert snapshot(admin.players, player).balances == before.balances


def project(admin: AdminApi) -> None:
    """Every read model at the head (retried while a busy server refuses a connection)."""
    project_only(admin, *(s.name for s in admin.system.projection_status()))


def post(admin: AdminApi, path: str, headers: dict[str, str], **body: Any) -> Any:
    return admin.client.post(f"{V1}{path}", json=body, headers=headers)


def get(admin: AdminApi, path: str, op: StaffLogin, **params: Any) -> Any:
    got = admin.client.get(f"{V1}{path}", params=params, headers=op.auth)
    return got


def started_deposit(admin: AdminApi, player: Player, amount: int) -> tuple[str, str]:
    """A deposit the player started but the provider has not settled: (id, provider ref)."""
    made = admin.players.client.post(
        "/api/v1/deposits", json={"amount_minor": amount}, headers=player.money()
    )
    assert made.status_code == 201, made.text
    return made.json()["deposit"]["deposit_id"], made.json()["checkout"]["provider_ref"]


def funded_player(admin: AdminApi, amount: int = 300_000) -> tuple[Player, str]:
    """A player with ``amount`` credited and a bank account: (player, payout method id)."""
    player = admin.players.register()
    admin.players.deposit(player, amount)
    method = add_bank_account(admin.players, player)
    assert method.status_code == 201, method.text
    return player, method.json()["method_id"]


def withdraw(admin: AdminApi, player: Player, method_id: str, amount: int) -> str:
    """A withdrawal request as the player makes it (the player app asks large ones for the
    player's own TOTP: that is not under test here, so those go through the use case)."""
    if amount < admin.system.settings.policy.large_withdrawal_threshold:
        made = admin.players.client.post(
            "/api/v1/withdrawals",
            json={"amount_minor": amount, "payout_method_id": method_id},
            headers=player.money(),
        )
        assert made.status_code == 201, made.text
        return str(made.json()["withdrawal_id"])
    destination = admin.system.payout_methods.destination(player.player_id, method_id)
    cause = Cause(f"player:{player.player_id}", uuid.uuid4().hex)
    status = admin.system.withdrawals.request(player.player_id, amount, "EUR", destination, cause)
    return status.withdrawal_id


@pytest.fixture
def finance(admin_api: AdminApi) -> tuple[StaffLogin, StaffLogin]:
    """Two finance operators (maker and checker)."""
    return admin_api.operator("finance"), admin_api.operator("finance")


def test_deposit_queue_confirm_fail_and_reverse(
    admin_api: AdminApi, finance: tuple[StaffLogin, StaffLogin]
) -> None:
    f1, _ = finance
    viewer = admin_api.operator("viewer")
    player = admin_api.players.register()
    first, ref = started_deposit(admin_api, player, 5_000)
    second, _ = started_deposit(admin_api, player, 7_000)
    project(admin_api)

    problem(get(admin_api, "/deposits", viewer), 403, "permission_denied")
    queue = get(admin_api, "/deposits", f1, state="provider_pending", player=player.player_id)
    assert queue.status_code == 200, queue.text
    assert [r["deposit_id"] for r in queue.json()["rows"]] == [first, second]
    assert queue.json()["rows"][0]["amount_minor"] == 5_000
    one = get(admin_api, "/deposits", f1, state="provider_pending", limit=1)
    assert one.json()["next_cursor"] is not None
    rest = get(
        admin_api, "/deposits", f1, state="provider_pending", cursor=one.json()["next_cursor"]
    )
    assert [r["deposit_id"] for r in rest.json()["rows"]] == [second]

    before = snapshot(admin_api.players, player)
    body = {"settlement_ref": ref, "reason": "matched the bank statement"}
    problem(
        post(admin_api, f"/deposits/{first}/confirm", viewer.auth, **body), 403, "permission_denied"
    )
    problem(post(admin_api, f"/deposits/{first}/confirm", f1.auth, **body), 403, "step_up_required")
    wrong = {**f1.auth, "X-TOTP-Code": "000000"}
    problem(post(admin_api, f"/deposits/{first}/confirm", wrong, **body), 403, "step_up_invalid")
    empty = {"settlement_ref": ref, "reason": "  "}
    problem(
        post(admin_api, f"/deposits/{first}/confirm", admin_api.step_up(f1), **empty),
        400,
        "reason_required",
    )
    assert_unchanged(admin_api, before, player)

    confirmed = post(admin_api, f"/deposits/{first}/confirm", admin_api.step_up(f1), **body)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["state"] == "credited"
    assert admin_api.system.wallets.balances(player.player_id).available == 5_000

    failed = post(admin_api, f"/deposits/{second}/fail", f1.auth, reason="provider gave up")
    assert failed.json()["state"] == "failed", failed.text
    again = post(admin_api, f"/deposits/{second}/fail", f1.auth, reason="twice")
    problem(again, 409, "illegal_transition")

    problem(
        post(admin_api, f"/deposits/{first}/reverse", f1.auth, reason="chargeback"),
        403,
        "step_up_required",
    )
    reversed_ = post(
        admin_api, f"/deposits/{first}/reverse", admin_api.step_up(f1), reason="chargeback"
    )
    assert reversed_.json()["state"] == "reversed", reversed_.text
    assert admin_api.system.wallets.balances(player.player_id).available == 0

    project(admin_api)
    detail = get(admin_api, f"/deposits/{second}", f1)
    assert (detail.json()["state"], detail.json()["failure_reason"]) == (
        "failed",
        "provider gave up",
    )
    problem(get(admin_api, f"/deposits/{uuid.uuid4()}", f1), 404, "not_found")
    problem(get(admin_api, "/deposits/not-an-id", f1), 404, "not_found")
    assert_ledger_invariants(admin_api.system.ledger)


def test_withdrawal_review_and_payout(
    admin_api: AdminApi, finance: tuple[StaffLogin, StaffLogin]
) -> None:
    f1, _ = finance
    viewer = admin_api.operator("viewer")
    player, method = funded_player(admin_api, 10_000)
    wid = withdraw(admin_api, player, method, 1_000)
    rejected = withdraw(admin_api, player, method, 2_000)
    project(admin_api)
    queue = get(admin_api, "/withdrawals", f1, state="requested")
    assert [r["withdrawal_id"] for r in queue.json()["rows"]] == [wid, rejected]

    # Who may pay sees where the money goes; a viewer sees no payments at all.
    problem(get(admin_api, f"/withdrawals/{wid}", viewer), 403, "permission_denied")
    payout = get(admin_api, f"/withdrawals/{wid}", f1).json()["payout"]
    assert payout == {"kind": "bank_account", "iban": IBAN, "holder_name": "Ann Example"}

    steps = [
        ("approve", f1.auth, {}, "approved"),
        ("submit", f1.auth, {"provider_ref": "payout-77"}, "submitted"),
        ("paid", admin_api.step_up(f1), {}, "paid"),
        ("reverse", admin_api.step_up(f1), {}, "reversed"),
    ]
    for action, headers, extra, expected in steps:
        if action in {"paid", "reverse"}:
            before = snapshot(admin_api.players, player)
            problem(
                post(admin_api, f"/withdrawals/{wid}/{action}", f1.auth, reason="x"),
                403,
                "step_up_required",
            )
            assert_unchanged(admin_api, before, player)
        got = post(
            admin_api, f"/withdrawals/{wid}/{action}", headers, reason=f"{action} it", **extra
        )
        assert got.status_code == 200, got.text
        assert got.json()["state"] == expected
    wallet = admin_api.system.wallets.balances(player.player_id)
    assert (wallet.available, wallet.locked) == (10_000 - 2_000, 2_000)  # returned, one open

    rej = post(admin_api, f"/withdrawals/{rejected}/reject", f1.auth, reason="name mismatch")
    assert rej.json()["state"] == "rejected", rej.text
    wallet = admin_api.system.wallets.balances(player.player_id)
    assert (wallet.available, wallet.locked) == (10_000, 0)
    problem(
        post(admin_api, f"/withdrawals/{rejected}/submit", f1.auth, provider_ref="p", reason="r"),
        409,
        "illegal_transition",
    )
    problem(
        post(admin_api, f"/withdrawals/{wid}/approve", viewer.auth, reason="r"),
        403,
        "permission_denied",
    )
    assert_ledger_invariants(admin_api.system.ledger)


def test_large_withdrawals_need_two_different_approvers(
    admin_api: AdminApi, finance: tuple[StaffLogin, StaffLogin]
) -> None:
    f1, f2 = finance
    player, method = funded_player(admin_api, 300_000)
    large = admin_api.system.settings.policy.large_withdrawal_threshold
    wid = withdraw(admin_api, player, method, large)

    first = post(admin_api, f"/withdrawals/{wid}/approve", f1.auth, reason="looks fine")
    assert (first.json()["state"], first.json()["approvals"]) == ("requested", 1)
    before = snapshot(admin_api.players, player)
    twice = post(admin_api, f"/withdrawals/{wid}/approve", f1.auth, reason="still fine")
    problem(twice, 422, "approver_not_distinct")
    assert_unchanged(admin_api, before, player)
    submitted_early = post(
        admin_api, f"/withdrawals/{wid}/submit", f1.auth, provider_ref="p", reason="r"
    )
    problem(submitted_early, 409, "illegal_transition")

    key = {"Idempotency-Key": "second-approval"}
    second = post(admin_api, f"/withdrawals/{wid}/approve", {**f2.auth, **key}, reason="agreed")
    assert (second.json()["state"], second.json()["approvals"]) == ("approved", 2)
    replay = post(admin_api, f"/withdrawals/{wid}/approve", {**f2.auth, **key}, reason="agreed")
    assert replay.json() == second.json()  # the retry replays; no third approval
    project(admin_api)
    row = get(admin_api, f"/withdrawals/{wid}", f1).json()["withdrawal"]
    assert row["approvers"] == [f"operator:{f1.operator_id}", f"operator:{f2.operator_id}"]


def test_every_review_action_is_audited_with_operator_and_reason(
    admin_api: AdminApi, finance: tuple[StaffLogin, StaffLogin]
) -> None:
    f1, f2 = finance
    player, method = funded_player(admin_api, 10_000)
    pending, ref = started_deposit(admin_api, player, 3_000)
    wid = withdraw(admin_api, player, method, 1_000)
    done = [
        (
            "confirm_deposit",
            post(
                admin_api,
                f"/deposits/{pending}/confirm",
                admin_api.step_up(f1),
                settlement_ref=ref,
                reason="settled in batch 12",
            ),
        ),
        (
            "approve_withdrawal",
            post(admin_api, f"/withdrawals/{wid}/approve", f2.auth, reason="kyc ok"),
        ),
        (
            "submit_withdrawal",
            post(
                admin_api,
                f"/withdrawals/{wid}/submit",
                f1.auth,
                provider_ref="b-1",
                reason="sent in run 4",
            ),
        ),
        (
            "pay_withdrawal",
            post(
                admin_api,
                f"/withdrawals/{wid}/paid",
                admin_api.step_up(f1),
                reason="bank confirmed",
            ),
        ),
    ]
    for _, got in done:
        assert got.status_code == 200, got.text
    project(admin_api)
    auditor = admin_api.operator("admin")

    reasons = {"confirm_deposit": "settled in batch 12", "approve_withdrawal": "kyc ok"}
    reasons |= {"submit_withdrawal": "sent in run 4", "pay_withdrawal": "bank confirmed"}
    rows: list[dict[str, Any]] = []
    for op in (f1, f2):
        page = get(admin_api, "/audit", auditor, actor=f"operator:{op.operator_id}", limit=500)
        assert page.status_code == 200, page.text
        rows += page.json()["rows"]
    receipts = {r["details"]["command"]: r for r in rows if r["action"] == "Receipt.Recorded"}
    for command, reason in reasons.items():
        assert receipts[command]["reason"] == reason
    by_action = {r["action"]: r for r in rows}
    actions = ["Deposit.Credited", "Wallet.DepositCredited", "Withdrawal.ApprovalGiven"]
    actions += ["Withdrawal.Submitted", "Withdrawal.Paid", "Wallet.WithdrawalPaidOut"]
    for action in actions:
        assert by_action[action]["reason"], action
        assert by_action[action]["actor"].startswith("operator:")
    assert by_action["Withdrawal.Paid"]["reason"] == "bank confirmed"
    assert by_action["Withdrawal.Paid"]["actor"] == f"operator:{f1.operator_id}"

    kinds = get(admin_api, "/audit", auditor, kind="Withdrawal", subject=player.player_id)
    assert {r["action"].split(".")[0] for r in kinds.json()["rows"]} == {"Withdrawal"}
    exported = admin_api.client.get(
        f"{V1}/audit.csv", params={"actor": f"operator:{f1.operator_id}"}, headers=f1.auth
    )
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(exported.text)))
    assert {"bank confirmed", "settled in batch 12"} <= {r["reason"] for r in table}
    viewer = admin_api.operator("viewer")
    problem(admin_api.client.get(f"{V1}/audit.csv", headers=viewer.auth), 403, "permission_denied")
    naive = {"from": "2026-01-01T00:00:00"}
    problem(get(admin_api, "/audit", auditor, **naive), 400, "invalid_time")
    long_ago = {"from": "2000-01-01T00:00:00Z", "to": "2000-01-02T00:00:00Z"}
    window = get(admin_api, "/audit", auditor, **long_ago)
    assert window.json()["rows"] == []


def test_finance_reports(admin_api: AdminApi, finance: tuple[StaffLogin, StaffLogin]) -> None:
    f1, _ = finance
    given_pool(admin_api.players)
    player, _ = funded_player(admin_api, 5_000)
    drawn = admin_api.players.client.post(
        "/api/v1/pools/wheel/draws", json={"count": 2}, headers=player.money()
    )
    assert drawn.status_code == 201, drawn.text
    project(admin_api)
    # Days are those of the events' own timestamps (the store's clock, not the test's).
    today = datetime.now(UTC).date()
    days = {
        "from": (today - timedelta(days=1)).isoformat(),
        "to": (today + timedelta(days=1)).isoformat(),
    }

    daily = get(admin_api, "/finance/daily", f1, **days)
    assert daily.status_code == 200, daily.text
    (total,) = daily.json()["totals"]
    assert (total["deposits"], total["draw_revenue"]) == (5_000, 200)
    csv_rows = list(
        csv.DictReader(io.StringIO(get(admin_api, "/finance/daily.csv", f1, **days).text))
    )
    assert {r["pool_key"] for r in csv_rows} == {"", "wheel"}
    backwards = {"from": days["to"], "to": days["from"]}
    problem(get(admin_api, "/finance/daily", f1, **backwards), 400, "invalid_range")

    (pool,) = get(admin_api, "/finance/pools", f1).json()
    assert (pool["pool_key"], pool["draws"], pool["cost_total"]) == ("wheel", 2, 200)
    assert pool["declared_rtp_bps"] > 0
    assert pool["expected_rtp_bps"] is not None
    assert pool["observed_rtp_bps"] == pool["payout_total"] * 10_000 // 200
    as_csv = list(csv.DictReader(io.StringIO(get(admin_api, "/finance/pools.csv", f1).text)))
    assert as_csv[0]["pool_key"] == "wheel"

    trial = get(admin_api, "/finance/trial-balance", f1).json()
    assert trial["balanced"] is True
    assert all(v == 0 for v in trial["totals"].values())
    accounts = {(a["account"], a["currency"]): a["balance"] for a in trial["accounts"]}
    assert accounts[("external:deposits", "EUR")] == -5_000
