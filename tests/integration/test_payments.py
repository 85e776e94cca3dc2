"""Deposits through the sandbox provider, end to end: request → checkout → signed webhook →
credited exactly once, on SQLite and on the real Postgres (also with racing deliveries)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from application.commands import Unit
from application.errors import NotFound
from application.payments import Checkout, PaymentMismatch, UnknownProvider, WebhookRejected
from domain import ids
from domain.cause import Cause
from domain.deposit import Deposit
from domain.errors import DepositLimitExceeded, IllegalTransition
from domain.receipt import Receipt
from domain.wallet import LimitPeriod
from infrastructure.bootstrap import System, bootstrap
from infrastructure.settings import Settings, SettingsError
from tests.conftest import SteppingClock
from tests.ledger_checks import assert_ledger_invariants, stored_events

THREADS = 8


@pytest.fixture(params=["embedded", pytest.param("pg_system", marks=pytest.mark.postgres)])
def system(request: pytest.FixtureRequest) -> System:
    return request.getfixturevalue(request.param)


def player(system: System, name: str = "alice") -> str:
    system.wallets.open(name, Cause(f"player:{name}", "open"))
    return name


def checkout_for(system: System, name: str, amount: int, request_id: str = "dep-1") -> Checkout:
    """What POST /deposits does: request the deposit, then start its checkout (same cause)."""
    cause = Cause(f"player:{name}", request_id)
    status = system.deposits.request(name, amount, "EUR", "sandbox", cause)
    return system.payments.start(status, cause)


def sandbox(system: System) -> Any:
    assert system.sandbox is not None
    return system.sandbox


def deposit_of(system: System, checkout: Checkout) -> Deposit:
    deposit_id = sandbox(system).checkout(checkout.provider_ref).deposit_id
    return Unit(system.ledger).get(Deposit, UUID(deposit_id))


def credits(system: System) -> list[Any]:
    return [e for e in stored_events(system.ledger) if type(e).__name__ == "DepositCredited"]


def available(system: System, name: str = "alice") -> int:
    return system.wallets.balances(name).available


# ---- the whole flow ------------------------------------------------------------------------


def test_request_checkout_pay_credits_exactly_once(system: System) -> None:
    name = player(system)
    checkout = checkout_for(system, name, 5_000)
    assert deposit_of(system, checkout).state == "provider_pending"
    assert deposit_of(system, checkout).provider_ref == checkout.provider_ref
    assert available(system) == 0

    headers, body = sandbox(system).complete(checkout.provider_ref, succeeded=True)
    outcome = system.payments.receive("sandbox", headers, body)

    assert outcome.state == "credited"
    assert outcome.duplicate is False
    assert outcome.deposit_id == str(deposit_of(system, checkout).id)
    assert available(system) == 5_000
    assert len(credits(system)) == 1
    assert_ledger_invariants(system.ledger)


def test_starting_again_returns_the_same_checkout_and_records_nothing(system: System) -> None:
    name = player(system)
    cause = Cause(f"player:{name}", "dep-1")
    status = system.deposits.request(name, 5_000, "EUR", "sandbox", cause)
    first = system.payments.start(status, cause)
    before = len(stored_events(system.ledger))

    again = system.payments.start(status, Cause(f"player:{name}", "dep-1-retry"))

    assert again == first
    assert len(stored_events(system.ledger)) == before


def test_another_player_cannot_start_a_checkout_for_my_deposit(system: System) -> None:
    name = player(system)
    status = system.deposits.request(name, 5_000, "EUR", "sandbox", Cause("player:alice", "d"))

    with pytest.raises(NotFound):
        system.payments.start(status, Cause("player:mallory", "d"))
    assert system.deposits.status(UUID(status.deposit_id)).state == "requested"


# ---- duplicates ----------------------------------------------------------------------------


def test_the_same_webhook_delivered_twice_credits_once(system: System) -> None:
    name = player(system)
    checkout = checkout_for(system, name, 5_000)
    headers, body = sandbox(system).complete(checkout.provider_ref, succeeded=True)
    first = system.payments.receive("sandbox", headers, body)
    events_after_first = len(stored_events(system.ledger))

    second = system.payments.receive("sandbox", headers, body)

    assert (first.duplicate, second.duplicate) == (False, True)
    assert second.state == "credited"
    assert second.event_id == first.event_id
    assert len(stored_events(system.ledger)) == events_after_first
    assert available(system) == 5_000


def test_another_success_event_for_a_credited_deposit_is_a_duplicate(system: System) -> None:
    name = player(system)
    checkout = checkout_for(system, name, 5_000)
    system.payments.receive("sandbox", *sandbox(system).complete(checkout.provider_ref, True))

    again = system.payments.receive(
        "sandbox", *sandbox(system).complete(checkout.provider_ref, True, event_id="evt_other")
    )

    assert (again.duplicate, again.state) == (True, "credited")
    assert available(system) == 5_000
    assert len(credits(system)) == 1


def _race(deliver: Callable[[int], Any]) -> list[Any]:
    """Run ``deliver`` in THREADS threads released together; outcomes or exceptions."""
    start = threading.Barrier(THREADS)

    def run(i: int) -> Any:
        start.wait()
        try:
            return deliver(i)
        except Exception as error:
            return error

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(run, range(THREADS)))


@pytest.mark.postgres
def test_eight_racing_deliveries_of_one_webhook_credit_once(pg_system: System) -> None:
    name = player(pg_system)
    checkout = checkout_for(pg_system, name, 5_000)
    headers, body = sandbox(pg_system).complete(checkout.provider_ref, succeeded=True)

    outcomes = _race(lambda _: pg_system.payments.receive("sandbox", headers, body))

    assert [type(o).__name__ for o in outcomes] == ["WebhookOutcome"] * THREADS, outcomes
    assert {o.state for o in outcomes} == {"credited"}
    assert sorted(o.duplicate for o in outcomes) == [False] + [True] * (THREADS - 1)
    assert available(pg_system) == 5_000
    assert len(credits(pg_system)) == 1
    assert_ledger_invariants(pg_system.ledger)


@pytest.mark.postgres
def test_eight_racing_success_events_with_different_ids_credit_once(pg_system: System) -> None:
    name = player(pg_system)
    checkout = checkout_for(pg_system, name, 5_000)
    provider = sandbox(pg_system)
    webhooks = [provider.complete(checkout.provider_ref, True, event_id=f"e{i}") for i in range(8)]

    outcomes = _race(lambda i: pg_system.payments.receive("sandbox", *webhooks[i]))

    assert [type(o).__name__ for o in outcomes] == ["WebhookOutcome"] * THREADS, outcomes
    assert sorted(o.duplicate for o in outcomes) == [False] + [True] * (THREADS - 1)
    assert available(pg_system) == 5_000
    assert len(credits(pg_system)) == 1
    assert_ledger_invariants(pg_system.ledger)


# ---- failures ------------------------------------------------------------------------------


def test_a_declined_payment_fails_the_deposit_and_frees_the_limit(system: System) -> None:
    name = player(system)
    system.wallets.set_deposit_limit(name, LimitPeriod.DAY, 5_000, Cause("player:alice", "lim"))
    checkout = checkout_for(system, name, 5_000)
    with pytest.raises(DepositLimitExceeded):
        checkout_for(system, name, 100, request_id="dep-2")

    headers, body = sandbox(system).complete(checkout.provider_ref, False, reason="card declined")
    outcome = system.payments.receive("sandbox", headers, body)

    assert (outcome.state, outcome.duplicate) == ("failed", False)
    assert deposit_of(system, checkout).failure_reason == "card declined"
    assert system.payments.receive("sandbox", headers, body).duplicate is True
    # The failed deposit no longer counts: the whole daily limit is available again.
    retry = checkout_for(system, name, 5_000, request_id="dep-3")
    system.payments.receive("sandbox", *sandbox(system).complete(retry.provider_ref, True))
    assert available(system) == 5_000
    assert_ledger_invariants(system.ledger)


def test_success_after_failure_is_refused_and_kept_for_operators(system: System) -> None:
    name = player(system)
    checkout = checkout_for(system, name, 5_000)
    system.payments.receive("sandbox", *sandbox(system).complete(checkout.provider_ref, False))

    late = sandbox(system).complete(checkout.provider_ref, True, event_id="evt_late")
    with pytest.raises(IllegalTransition):
        system.payments.receive("sandbox", *late)
    with pytest.raises(IllegalTransition):  # a redelivery gets the same answer
        system.payments.receive("sandbox", *late)

    receipt = Unit(system.ledger).get(
        Receipt, ids.receipt_id("system:payments-sandbox", "webhook:evt_late")
    )
    assert receipt.error_code == "illegal_transition"
    assert available(system) == 0
    assert credits(system) == []


@pytest.mark.parametrize(
    "misreport",
    [{"amount_minor": 9_000}, {"amount_minor": 4_999}, {"currency": "USD"}],
)
def test_a_mismatched_payment_fails_the_deposit_and_never_credits(
    system: System, misreport: dict[str, Any]
) -> None:
    name = player(system)
    checkout = checkout_for(system, name, 5_000)
    headers, body = sandbox(system).complete(checkout.provider_ref, True, **misreport)

    with pytest.raises(PaymentMismatch) as error:
        system.payments.receive("sandbox", headers, body)
    assert error.value.code == "payment_mismatch"
    with pytest.raises(PaymentMismatch):
        system.payments.receive("sandbox", headers, body)

    deposit = deposit_of(system, checkout)
    assert (deposit.state, deposit.failure_reason) == ("failed", "payment_mismatch")
    # The correct report arriving afterwards cannot credit a failed deposit either.
    with pytest.raises(IllegalTransition):
        system.payments.receive("sandbox", *sandbox(system).complete(checkout.provider_ref, True))
    assert available(system) == 0
    assert credits(system) == []
    assert_ledger_invariants(system.ledger)


def test_a_mismatch_after_crediting_changes_nothing(system: System) -> None:
    name = player(system)
    checkout = checkout_for(system, name, 5_000)
    system.payments.receive("sandbox", *sandbox(system).complete(checkout.provider_ref, True))

    with pytest.raises(PaymentMismatch):
        system.payments.receive(
            "sandbox",
            *sandbox(system).complete(checkout.provider_ref, True, amount_minor=50_000),
        )

    assert deposit_of(system, checkout).state == "credited"
    assert available(system) == 5_000


# ---- rejected requests record nothing --------------------------------------------------------


def test_rejected_webhooks_and_unknown_providers_record_nothing(
    system: System, clock: SteppingClock
) -> None:
    name = player(system)
    checkout = checkout_for(system, name, 5_000)
    headers, body = sandbox(system).complete(checkout.provider_ref, True)
    before = len(stored_events(system.ledger))

    with pytest.raises(UnknownProvider):
        system.payments.receive("stripe", headers, body)
    with pytest.raises(WebhookRejected) as forged:
        system.payments.receive("sandbox", headers, body.replace(b"5000", b"9000"))
    clock.advance(seconds=301)
    with pytest.raises(WebhookRejected) as stale:
        system.payments.receive("sandbox", headers, body)

    assert forged.value.code == "webhook_signature_invalid"
    assert stale.value.code == "webhook_timestamp_out_of_tolerance"
    assert len(stored_events(system.ledger)) == before
    assert available(system) == 0


def test_a_webhook_for_an_unknown_deposit_is_not_found(system: System) -> None:
    provider = sandbox(system)
    ghost = provider.create_checkout("00000000-0000-0000-0000-000000000001", 5_000, "EUR")

    with pytest.raises(NotFound):
        system.payments.receive("sandbox", *provider.complete(ghost.provider_ref, True))


# ---- settings and wiring -------------------------------------------------------------------


def test_embedded_settings_generate_the_webhook_secret_once_per_data_dir(tmp_path: Path) -> None:
    env = {"PRIZELEDGER_DATA_DIR": str(tmp_path)}

    first = Settings.from_env(env)
    second = Settings.from_env(env)

    assert first.sandbox_payments is True
    assert first.webhook_secret == second.webhook_secret
    assert first.webhook_secret == (tmp_path / "webhook.secret").read_text()
    assert len(first.webhook_secret or "") >= 32
    assert first.webhook_tolerance_s == 300


def test_outside_embedded_the_sandbox_is_off_and_needs_a_long_secret_to_run() -> None:
    postgres = {"DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/postgres"}

    settings = Settings.from_env(postgres)
    assert (settings.sandbox_payments, settings.webhook_secret) == (False, None)
    with pytest.raises(SettingsError, match="PRIZELEDGER_WEBHOOK_SECRET"):
        Settings.from_env(
            {**postgres, "PRIZELEDGER_SANDBOX_PAYMENTS": "1"}
        ).require_webhook_secret()
    with pytest.raises(SettingsError, match="at least 32"):
        Settings.from_env({**postgres, "PRIZELEDGER_WEBHOOK_SECRET": "short"})
    with pytest.raises(SettingsError):
        Settings.from_env({**postgres, "PRIZELEDGER_SANDBOX_PAYMENTS": "yes"})
    with pytest.raises(SettingsError):
        Settings.from_env({**postgres, "PRIZELEDGER_WEBHOOK_TOLERANCE_S": "0"})
    configured = Settings.from_env(
        {
            **postgres,
            "PRIZELEDGER_SANDBOX_PAYMENTS": "1",
            "PRIZELEDGER_WEBHOOK_SECRET": "k" * 32,
            "PRIZELEDGER_WEBHOOK_TOLERANCE_S": "60",
        }
    )
    assert (configured.sandbox_payments, configured.webhook_tolerance_s) == (True, 60)
    assert configured.require_webhook_secret() == "k" * 32


def test_a_system_running_the_sandbox_refuses_to_start_without_a_secret() -> None:
    with pytest.raises(SettingsError, match="PRIZELEDGER_WEBHOOK_SECRET"):
        bootstrap(Settings(database_url="sqlite::memory:", webhook_secret=None))


def test_with_the_sandbox_off_no_provider_takes_webhooks(clock: SteppingClock) -> None:
    system = bootstrap(
        Settings(database_url="sqlite::memory:", sandbox_payments=False), clock=clock
    )
    try:
        assert system.sandbox is None
        with pytest.raises(UnknownProvider):
            system.payments.receive("sandbox", {}, b"{}")
    finally:
        system.close()
