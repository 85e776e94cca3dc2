"""Money in and out over HTTP: deposits through the sandbox provider's signed webhook (credited
exactly once, forged or stale deliveries change nothing), payout methods, withdrawals with the
TOTP step-up, and cancelling."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pyotp

from infrastructure.sandbox_payments import SIGNATURE_HEADER, SandboxProvider
from tests.api.conftest import Api, Player
from tests.api.support import add_bank_account, assert_problem, assert_unchanged, snapshot
from tests.ledger_checks import assert_ledger_invariants

WEBHOOK = "/api/v1/webhooks/payments/sandbox"


def money_of(api: Api, player: Player) -> tuple[int, int]:
    b = api.system.wallets.balances(player.player_id)
    return b.available, b.locked


def start_deposit(api: Api, player: Player, amount: int) -> dict[str, Any]:
    made = api.client.post(
        "/api/v1/deposits", json={"amount_minor": amount}, headers=player.money()
    )
    assert made.status_code == 201, made.text
    body: dict[str, Any] = made.json()
    return body


def checkout(api: Api, player: Player, ref: str, outcome: str) -> Any:
    return api.client.post(
        f"/api/v1/sandbox/checkout/{ref}", json={"outcome": outcome}, headers=player.auth
    )


def sandbox(api: Api) -> SandboxProvider:
    assert api.system.sandbox is not None
    return api.system.sandbox


# ---- deposits ------------------------------------------------------------------------------


def test_a_paid_deposit_is_credited_once_however_often_it_is_paid(api: Api) -> None:
    player = api.register()
    made = start_deposit(api, player, 2_000)
    deposit_id = made["deposit"]["deposit_id"]
    assert made["deposit"]["state"] == "provider_pending"
    assert made["checkout"]["pay_url"].endswith(made["checkout"]["provider_ref"])
    assert money_of(api, player) == (0, 0)

    paid = checkout(api, player, made["checkout"]["provider_ref"], "pay")
    again = checkout(api, player, made["checkout"]["provider_ref"], "pay")

    assert paid.status_code == 200, paid.text
    assert paid.json()["state"] == "credited"
    assert paid.json()["duplicate"] is False
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert money_of(api, player) == (2_000, 0)
    got = api.client.get(f"/api/v1/deposits/{deposit_id}", headers=player.auth)
    assert got.json() == {**made["deposit"], "state": "credited"}
    api.project()
    listed = api.client.get("/api/v1/deposits", headers=player.auth).json()
    assert [(r["deposit_id"], r["state"]) for r in listed["rows"]] == [(deposit_id, "credited")]
    assert_ledger_invariants(api.system.ledger)


def test_a_declined_deposit_fails_and_credits_nothing(api: Api) -> None:
    player = api.register()
    made = start_deposit(api, player, 2_000)

    declined = checkout(api, player, made["checkout"]["provider_ref"], "decline")

    assert declined.status_code == 200, declined.text
    assert declined.json()["state"] == "failed"
    assert money_of(api, player) == (0, 0)
    deposit = api.client.get(
        f"/api/v1/deposits/{made['deposit']['deposit_id']}", headers=player.auth
    )
    assert deposit.json()["state"] == "failed"
    # Paying a failed deposit afterwards is refused: it never credits.
    late = checkout(api, player, made["checkout"]["provider_ref"], "pay")
    assert_problem(late, 409, "illegal_transition")
    assert money_of(api, player) == (0, 0)


def test_a_deposit_must_be_in_range_and_well_formed(api: Api) -> None:
    player = api.register()
    before = snapshot(api, player)
    for body, status, code in (
        ({"amount_minor": 99}, 422, "amount_out_of_range"),
        ({"amount_minor": 1_000_001}, 422, "amount_out_of_range"),
        ({"amount_minor": 0}, 400, "validation_failed"),
        ({"amount_minor": 1.5}, 400, "validation_failed"),
        ({"amount_minor": 500, "currency": "eur"}, 400, "validation_failed"),
        ({"amount_minor": 500, "currency": "USD"}, 400, "currency_mismatch"),
        ({"amount_minor": 500, "provider": "paypal"}, 400, "validation_failed"),
    ):
        refused = api.client.post("/api/v1/deposits", json=body, headers=player.money())
        assert_problem(refused, status, code)
    assert_unchanged(api, before, player)


def test_a_genuine_webhook_delivered_twice_credits_once(api: Api) -> None:
    player = api.register()
    made = start_deposit(api, player, 3_000)
    headers, body = sandbox(api).complete(
        made["checkout"]["provider_ref"], succeeded=True, event_id="evt_genuine_1"
    )

    first = api.client.post(WEBHOOK, content=body, headers=headers)
    replayed = api.client.post(WEBHOOK, content=body, headers=headers)

    assert first.status_code == 200, first.text
    assert first.json() == {
        "event_id": "evt_genuine_1",
        "deposit_id": made["deposit"]["deposit_id"],
        "state": "credited",
        "duplicate": False,
    }
    assert replayed.status_code == 200, replayed.text
    assert replayed.json() == {**first.json(), "duplicate": True}
    assert money_of(api, player) == (3_000, 0)


def test_forged_stale_misaddressed_or_malformed_webhooks_change_nothing(api: Api) -> None:
    player = api.register()
    made = start_deposit(api, player, 3_000)
    ref = made["checkout"]["provider_ref"]
    provider = sandbox(api)
    headers, body = provider.complete(ref, succeeded=True, event_id="evt_1")
    forged = SandboxProvider("an attacker's secret, long enough to be used", clock=api.clock)
    stale_at = api.clock() - timedelta(minutes=6)
    payload = json.loads(body)
    tampered = json.dumps({**payload, "data": {**payload["data"], "amount_minor": 9_000}})
    before = snapshot(api, player)

    attempts = [
        (forged.sign(payload, api.clock()), 401, "webhook_signature_invalid"),
        (({"Content-Type": "application/json"}, body), 401, "webhook_signature_invalid"),
        (({**headers, SIGNATURE_HEADER: "t=1,v1=zz"}, body), 401, "webhook_signature_invalid"),
        ((headers, tampered.encode()), 401, "webhook_signature_invalid"),
        (provider.sign(payload, stale_at), 400, "webhook_timestamp_out_of_tolerance"),
        (
            provider.sign({"id": "evt_2", "type": "payment.refunded"}, api.clock()),
            400,
            "webhook_malformed",
        ),
        (provider.sign({"id": "evt_3"}, api.clock()), 400, "webhook_malformed"),
        (provider.sign([1, 2], api.clock()), 400, "webhook_malformed"),  # type: ignore[arg-type]
    ]
    for (sent_headers, sent_body), status, code in attempts:
        refused = api.client.post(WEBHOOK, content=sent_body, headers=sent_headers)
        assert_problem(refused, status, code)
    unknown = api.client.post("/api/v1/webhooks/payments/acme", content=body, headers=headers)
    assert_problem(unknown, 404, "unknown_provider")

    assert snapshot(api, player) == before  # not even a receipt
    assert api.client.post(WEBHOOK, content=body, headers=headers).status_code == 200
    assert money_of(api, player) == (3_000, 0)


def test_a_webhook_for_an_unknown_deposit_is_404(api: Api) -> None:
    player = api.register()
    start_deposit(api, player, 1_000)
    before = snapshot(api, player)
    payload = {
        "id": "evt_nobody",
        "type": "payment.succeeded",
        "data": {
            "deposit_id": "00000000-0000-0000-0000-000000000000",
            "provider_ref": "sbx_unknown",
            "amount_minor": 1_000,
            "currency": "EUR",
            "reason": None,
        },
    }
    headers, body = sandbox(api).sign(payload, api.clock())

    assert_problem(api.client.post(WEBHOOK, content=body, headers=headers), 404, "not_found")
    assert_unchanged(api, before, player)


def test_an_unknown_sandbox_checkout_is_404(api: Api) -> None:
    player = api.register()
    made = start_deposit(api, player, 1_000)
    ref = made["checkout"]["provider_ref"]
    forged_ref = ref[:-4] + ("0000" if not ref.endswith("0000") else "1111")

    for bad in (forged_ref, "sbx_nope"):
        assert_problem(checkout(api, player, bad, "pay"), 404, "not_found")
    assert money_of(api, player) == (0, 0)


# ---- payout methods ------------------------------------------------------------------------


def add_method(api: Api, player: Player, details: dict[str, str] | None = None) -> Any:
    return add_bank_account(api, player, details, label="main account")


def test_payout_methods_are_added_listed_masked_and_removed(api: Api) -> None:
    player = api.register()

    added = add_method(api, player)

    assert added.status_code == 201, added.text
    method = added.json()
    assert method["kind"] == "bank_account"
    assert method["label"] == "main account"
    assert "0532013000" not in json.dumps(method)
    assert method["masked"].endswith("3000")
    listed = api.client.get("/api/v1/payout-methods", headers=player.auth)
    assert listed.json() == [method]
    assert "0532013000" not in listed.text

    removed = api.client.delete(
        f"/api/v1/payout-methods/{method['method_id']}", headers=player.auth
    )
    assert removed.status_code == 200, removed.text
    assert api.client.get("/api/v1/payout-methods", headers=player.auth).json() == []
    again = api.client.delete(f"/api/v1/payout-methods/{method['method_id']}", headers=player.auth)
    assert_problem(again, 404, "payout_method_not_found")


def test_a_payout_method_with_a_bad_iban_or_shape_is_refused(api: Api) -> None:
    player = api.register()
    before = snapshot(api, player)

    typo = add_method(api, player, {"iban": "DE89370400440532013001", "holder_name": "Ann"})
    missing = add_method(api, player, {"holder_name": "Ann"})
    shape = api.client.post(
        "/api/v1/payout-methods", json={"kind": "cash", "details": {}}, headers=player.auth
    )

    assert_problem(typo, 400, "invalid_payout_method")
    assert_problem(missing, 400, "invalid_payout_method")
    assert_problem(shape, 400, "validation_failed")
    assert_unchanged(api, before, player)


# ---- withdrawals ---------------------------------------------------------------------------


def withdraw(
    api: Api, player: Player, amount: int, method_id: str, key: str | None = None, **extra: Any
) -> Any:
    return api.client.post(
        "/api/v1/withdrawals",
        json={"amount_minor": amount, "payout_method_id": method_id, **extra},
        headers=player.money(key),
    )


def funded_with_method(api: Api, amount: int) -> tuple[Player, str]:
    player = api.register()
    api.deposit(player, amount)
    method = add_method(api, player)
    assert method.status_code == 201, method.text
    return player, method.json()["method_id"]


def test_a_withdrawal_locks_the_amount_and_cancelling_unlocks_it(api: Api) -> None:
    player, method_id = funded_with_method(api, 5_000)

    requested = withdraw(api, player, 2_000, method_id)

    assert requested.status_code == 201, requested.text
    withdrawal = requested.json()
    assert withdrawal["state"] == "requested"
    assert withdrawal["approvals_required"] == 1
    assert money_of(api, player) == (3_000, 2_000)
    got = api.client.get(f"/api/v1/withdrawals/{withdrawal['withdrawal_id']}", headers=player.auth)
    assert got.json() == withdrawal

    cancel_key = "cancel-1"
    url = f"/api/v1/withdrawals/{withdrawal['withdrawal_id']}/cancel"
    cancelled = api.client.post(url, headers=player.money(cancel_key))
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled"
    assert money_of(api, player) == (5_000, 0)
    assert api.client.post(url, headers=player.money(cancel_key)).json() == cancelled.json()
    assert_problem(api.client.post(url, headers=player.money()), 409, "illegal_transition")
    assert money_of(api, player) == (5_000, 0)

    api.project()
    listed = api.client.get("/api/v1/withdrawals", headers=player.auth).json()
    assert [(r["withdrawal_id"], r["state"]) for r in listed["rows"]] == [
        (withdrawal["withdrawal_id"], "cancelled")
    ]
    assert_ledger_invariants(api.system.ledger)


def test_a_withdrawal_over_the_available_balance_is_refused(api: Api) -> None:
    player, method_id = funded_with_method(api, 5_000)
    assert withdraw(api, player, 4_000, method_id).status_code == 201
    before = snapshot(api, player)

    over = withdraw(api, player, 1_001, method_id)

    assert_problem(over, 422, "insufficient_funds")
    assert_unchanged(api, before, player)
    assert money_of(api, player) == (1_000, 4_000)


def test_a_withdrawal_to_someone_elses_or_a_removed_method_is_404(api: Api) -> None:
    player, _ = funded_with_method(api, 5_000)
    _, others = funded_with_method(api, 1_000)
    before = snapshot(api, player)

    assert_problem(withdraw(api, player, 1_000, others), 404, "payout_method_not_found")
    assert_problem(withdraw(api, player, 1_000, "nope"), 404, "payout_method_not_found")
    assert_unchanged(api, before, player)


def test_a_large_withdrawal_needs_a_fresh_totp_code(api: Api) -> None:
    player, method_id = funded_with_method(api, 300_000)
    before = snapshot(api, player)
    assert_problem(withdraw(api, player, 100_000, method_id), 409, "totp_not_enabled")
    assert_unchanged(api, before, player)

    secret = api.client.post("/api/v1/auth/totp", headers=player.auth).json()["secret"]
    totp = pyotp.TOTP(secret)
    enabled = api.client.post(
        "/api/v1/auth/totp/confirm", json={"code": totp.at(api.clock())}, headers=player.auth
    )
    assert enabled.status_code == 200, enabled.text
    api.clock.advance(seconds=30)
    code = totp.at(api.clock())
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    before = snapshot(api, player)

    assert_problem(withdraw(api, player, 100_000, method_id), 403, "totp_required")
    assert_problem(withdraw(api, player, 100_000, method_id, totp_code=wrong), 403, "totp_invalid")
    assert_unchanged(api, before, player)

    good = withdraw(api, player, 100_000, method_id, key="big-1", totp_code=code)
    assert good.status_code == 201, good.text
    assert good.json()["approvals_required"] == 2
    assert money_of(api, player) == (200_000, 100_000)
    retried = withdraw(api, player, 100_000, method_id, key="big-1", totp_code=code)
    assert retried.status_code == 201, retried.text
    assert retried.json() == good.json()  # the same withdrawal, not a second one
    assert money_of(api, player) == (200_000, 100_000)
    # The code is spent: a new request with it is refused.
    assert_problem(withdraw(api, player, 100_000, method_id, totp_code=code), 403, "totp_invalid")
    # Below the threshold no code is needed.
    assert withdraw(api, player, 99_999, method_id).status_code == 201
