"""Deposit state machine: every legal move records one event; every other move is refused."""

from __future__ import annotations

from collections.abc import Callable
from itertools import product

import pytest

from domain import ids
from domain.cause import Cause
from domain.deposit import Deposit, DepositState
from domain.errors import IllegalTransition, InvalidAmount, InvalidArgument
from tests.unit.conftest import names, payload, refused

S = DepositState
WEBHOOK = Cause("system:sandbox", "wh-9")


def given_requested() -> Deposit:
    deposit = Deposit.request("p1", 5_000, "EUR", "sandbox", Cause("player:p1", "req-1"))
    deposit.collect_events()
    return deposit


# How each state is reached from the start; the last step is what the "given" replays.
_PATHS: dict[DepositState, list[Callable[[Deposit], None]]] = {
    S.REQUESTED: [],
    S.PROVIDER_PENDING: [
        lambda d: d.mark_provider_pending("psp-1", Cause("system:sandbox", "given-1")),
    ],
    S.PROVIDER_SUCCEEDED: [
        lambda d: d.mark_provider_pending("psp-1", Cause("system:sandbox", "given-1")),
        lambda d: d.mark_provider_succeeded("psp-1", Cause("system:sandbox", "given-2")),
    ],
    S.CREDITED: [
        lambda d: d.mark_provider_pending("psp-1", Cause("system:sandbox", "given-1")),
        lambda d: d.mark_provider_succeeded("psp-1", Cause("system:sandbox", "given-2")),
        lambda d: d.mark_credited(Cause("system:ledger", "given-3")),
    ],
    S.FAILED: [
        lambda d: d.fail("card declined", Cause("system:sandbox", "given-1")),
    ],
    S.REVERSED: [
        lambda d: d.mark_provider_pending("psp-1", Cause("system:sandbox", "given-1")),
        lambda d: d.mark_provider_succeeded("psp-1", Cause("system:sandbox", "given-2")),
        lambda d: d.mark_credited(Cause("system:ledger", "given-3")),
        lambda d: d.reverse("charge-back", Cause("system:sandbox", "given-4")),
    ],
}


def given_deposit_in(state: DepositState) -> Deposit:
    deposit = given_requested()
    for step in _PATHS[state]:
        step(deposit)
    deposit.collect_events()
    assert deposit.state == state.value
    return deposit


# The command that moves a deposit into each target state (with valid arguments).
COMMANDS: dict[DepositState, Callable[[Deposit], None]] = {
    S.PROVIDER_PENDING: lambda d: d.mark_provider_pending("psp-1", WEBHOOK),
    S.PROVIDER_SUCCEEDED: lambda d: d.mark_provider_succeeded("psp-1", WEBHOOK),
    S.CREDITED: lambda d: d.mark_credited(WEBHOOK),
    S.FAILED: lambda d: d.fail("card declined", WEBHOOK),
    S.REVERSED: lambda d: d.reverse("charge-back", WEBHOOK),
}
EVENT_OF = {
    S.PROVIDER_PENDING: "ProviderPending",
    S.PROVIDER_SUCCEEDED: "ProviderSucceeded",
    S.CREDITED: "Credited",
    S.FAILED: "Failed",
    S.REVERSED: "Reversed",
}
LEGAL = {
    (S.REQUESTED, S.PROVIDER_PENDING),
    (S.REQUESTED, S.PROVIDER_SUCCEEDED),
    (S.PROVIDER_PENDING, S.PROVIDER_SUCCEEDED),
    (S.PROVIDER_SUCCEEDED, S.CREDITED),
    (S.REQUESTED, S.FAILED),
    (S.PROVIDER_PENDING, S.FAILED),
    (S.CREDITED, S.REVERSED),
}
ILLEGAL = sorted(set(product(DepositState, COMMANDS)) - LEGAL)


def _id(pair: tuple[DepositState, DepositState]) -> str:
    return f"{pair[0].value}->{pair[1].value}"


def test_the_transition_table_covers_every_state_and_command():
    assert len(LEGAL) + len(ILLEGAL) == len(DepositState) * len(COMMANDS) == 30
    assert len(ILLEGAL) == 23


# ---- request -------------------------------------------------------------------------------


def test_request_records_requested():
    deposit = Deposit.request("p1", 5_000, "EUR", "sandbox", Cause("player:p1", "req-1"))

    events = deposit.collect_events()
    assert names(events) == ["Requested"]
    assert payload(events[0]) == {
        "player_id": "p1",
        "amount_minor": 5_000,
        "currency": "EUR",
        "provider": "sandbox",
        "actor": "player:p1",
        "request_id": "req-1",
    }
    assert deposit.id == ids.deposit_id("p1", "req-1")
    assert deposit.state == "requested"
    assert deposit.provider_ref is None
    assert deposit.failure_reason is None


@pytest.mark.parametrize(
    ("amount", "currency", "provider", "error"),
    [
        (0, "EUR", "sandbox", InvalidAmount),
        (-1, "EUR", "sandbox", InvalidAmount),
        (True, "EUR", "sandbox", InvalidAmount),
        (10**15 + 1, "EUR", "sandbox", InvalidAmount),
        (5_000, "eur", "sandbox", InvalidAmount),
        (5_000, "EUR", "", InvalidArgument),
    ],
)
def test_request_refuses_bad_values(amount, currency, provider, error):
    with pytest.raises(error):
        Deposit.request("p1", amount, currency, provider, Cause("player:p1", "req-1"))


# ---- every transition ----------------------------------------------------------------------


@pytest.mark.parametrize("pair", sorted(LEGAL), ids=_id)
def test_every_legal_transition_records_one_event(pair):
    start, target = pair
    deposit = given_deposit_in(start)

    COMMANDS[target](deposit)

    events = deposit.collect_events()
    assert names(events) == [EVENT_OF[target]]
    assert payload(events[0])["actor"] == "system:sandbox"
    assert payload(events[0])["request_id"] == "wh-9"
    assert deposit.state == target.value


@pytest.mark.parametrize("pair", ILLEGAL, ids=_id)
def test_every_illegal_transition_is_refused(pair):
    start, target = pair
    deposit = given_deposit_in(start)

    with refused(deposit, IllegalTransition):
        COMMANDS[target](deposit)
    assert deposit.state == start.value


# ---- details of single transitions ---------------------------------------------------------


def test_provider_pending_stores_the_provider_reference():
    deposit = given_requested()

    deposit.mark_provider_pending("psp-1", Cause("system:sandbox", "wh-1"))

    events = deposit.collect_events()
    assert payload(events[0]) == {
        "provider_ref": "psp-1",
        "actor": "system:sandbox",
        "request_id": "wh-1",
    }
    assert deposit.provider_ref == "psp-1"


def test_provider_pending_needs_a_reference():
    deposit = given_requested()

    with refused(deposit, InvalidArgument):
        deposit.mark_provider_pending("", Cause("system:sandbox", "wh-1"))


def test_success_straight_from_requested_takes_the_providers_reference():
    deposit = given_requested()

    deposit.mark_provider_succeeded("psp-7", Cause("system:sandbox", "wh-1"))

    assert names(deposit.collect_events()) == ["ProviderSucceeded"]
    assert deposit.provider_ref == "psp-7"
    assert deposit.state == "provider_succeeded"


def test_success_must_match_the_pending_reference():
    deposit = given_deposit_in(S.PROVIDER_PENDING)

    with refused(deposit, InvalidArgument):
        deposit.mark_provider_succeeded("psp-other", Cause("system:sandbox", "wh-1"))


@pytest.mark.parametrize("start", [S.REQUESTED, S.PROVIDER_PENDING])
def test_fail_records_the_stripped_reason(start):
    deposit = given_deposit_in(start)

    deposit.fail("  card declined ", Cause("system:sandbox", "wh-1"))

    events = deposit.collect_events()
    assert names(events) == ["Failed"]
    assert payload(events[0]) == {
        "reason": "card declined",
        "actor": "system:sandbox",
        "request_id": "wh-1",
    }
    assert deposit.failure_reason == "card declined"


def test_reverse_records_the_stripped_reason():
    deposit = given_deposit_in(S.CREDITED)

    deposit.reverse(" charge-back ", Cause("operator:alice", "r2"))

    events = deposit.collect_events()
    assert names(events) == ["Reversed"]
    assert payload(events[0]) == {
        "reason": "charge-back",
        "actor": "operator:alice",
        "request_id": "r2",
    }
    assert deposit.failure_reason == "charge-back"


@pytest.mark.parametrize("reason", ["", "   "])
def test_fail_needs_a_reason(reason):
    deposit = given_deposit_in(S.PROVIDER_PENDING)

    with refused(deposit, InvalidArgument):
        deposit.fail(reason, Cause("system:sandbox", "wh-1"))


@pytest.mark.parametrize("reason", ["", "   "])
def test_reverse_needs_a_reason(reason):
    deposit = given_deposit_in(S.CREDITED)

    with refused(deposit, InvalidArgument):
        deposit.reverse(reason, Cause("operator:alice", "r2"))


def test_an_illegal_move_is_refused_as_illegal_even_with_bad_arguments():
    deposit = given_deposit_in(S.CREDITED)

    with refused(deposit, IllegalTransition):
        deposit.fail("", Cause("system:sandbox", "wh-1"))


def test_success_straight_from_requested_needs_a_reference():
    deposit = given_deposit_in(DepositState.REQUESTED)
    with refused(deposit, InvalidArgument):
        deposit.mark_provider_succeeded("", Cause("system:sandbox", "wh-empty"))
