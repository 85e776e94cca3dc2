"""Withdrawal state machine and maker-checker approvals."""

from __future__ import annotations

from collections.abc import Callable
from itertools import product

import pytest

from domain import ids
from domain.cause import Cause
from domain.errors import ApproverNotDistinct, IllegalTransition, InvalidAmount, InvalidArgument
from domain.withdrawal import Withdrawal, WithdrawalState
from tests.unit.conftest import names, payload, refused

S = WithdrawalState
PLAYER = "player:p1"
ALICE = "operator:alice"
BOB = "operator:bob"


def given_requested(approvals_required: int = 1) -> Withdrawal:
    withdrawal = Withdrawal.request(
        "p1", 5_000, "EUR", "iban:DE00", approvals_required, Cause(PLAYER, "req-1")
    )
    withdrawal.collect_events()
    return withdrawal


def _approve(w: Withdrawal) -> None:
    w.approve(Cause(ALICE, "given-1"))


def _submit(w: Withdrawal) -> None:
    w.submit("psp-1", Cause(ALICE, "given-2"))


def _pay(w: Withdrawal) -> None:
    w.mark_paid(Cause("system:sandbox", "given-3"))


# How each state is reached from a one-approval request.
_PATHS: dict[WithdrawalState, list[Callable[[Withdrawal], None]]] = {
    S.REQUESTED: [],
    S.APPROVED: [_approve],
    S.SUBMITTED: [_approve, _submit],
    S.PROCESSING: [_approve, _submit, lambda w: w.mark_processing(Cause("system:x", "given-4"))],
    S.PAID: [_approve, _submit, _pay],
    S.REJECTED: [lambda w: w.reject("kyc missing", Cause(ALICE, "given-5"))],
    S.CANCELLED: [lambda w: w.cancel(Cause(PLAYER, "given-6"))],
    S.FAILED: [_approve, _submit, lambda w: w.fail("bank down", Cause("system:x", "given-7"))],
    S.REVERSED: [_approve, _submit, _pay, lambda w: w.reverse("returned", Cause(BOB, "given-8"))],
}


def given_withdrawal_in(state: WithdrawalState) -> Withdrawal:
    withdrawal = given_requested()
    for step in _PATHS[state]:
        step(withdrawal)
    withdrawal.collect_events()
    assert withdrawal.state == state.value
    return withdrawal


# The command that moves a withdrawal into each target state, with a cause allowed to give it
# (Bob approves, since Alice gave the approval on the way to "approved").
COMMANDS: dict[WithdrawalState, Callable[[Withdrawal], None]] = {
    S.APPROVED: lambda w: w.approve(Cause(BOB, "r9")),
    S.REJECTED: lambda w: w.reject("risk", Cause(BOB, "r9")),
    S.CANCELLED: lambda w: w.cancel(Cause(PLAYER, "r9")),
    S.SUBMITTED: lambda w: w.submit("psp-9", Cause(BOB, "r9")),
    S.PROCESSING: lambda w: w.mark_processing(Cause(BOB, "r9")),
    S.PAID: lambda w: w.mark_paid(Cause(BOB, "r9")),
    S.FAILED: lambda w: w.fail("bank down", Cause(BOB, "r9")),
    S.REVERSED: lambda w: w.reverse("returned", Cause(BOB, "r9")),
}
EVENT_OF = {
    S.APPROVED: "ApprovalGiven",
    S.REJECTED: "Rejected",
    S.CANCELLED: "Cancelled",
    S.SUBMITTED: "Submitted",
    S.PROCESSING: "Processing",
    S.PAID: "Paid",
    S.FAILED: "Failed",
    S.REVERSED: "Reversed",
}
LEGAL = {
    (S.REQUESTED, S.APPROVED),
    (S.REQUESTED, S.REJECTED),
    (S.REQUESTED, S.CANCELLED),
    (S.APPROVED, S.SUBMITTED),
    (S.APPROVED, S.REJECTED),
    (S.SUBMITTED, S.PROCESSING),
    (S.SUBMITTED, S.PAID),
    (S.SUBMITTED, S.FAILED),
    (S.PROCESSING, S.PAID),
    (S.PROCESSING, S.FAILED),
    (S.PAID, S.REVERSED),
}
ILLEGAL = sorted(set(product(WithdrawalState, COMMANDS)) - LEGAL)


def _id(pair: tuple[WithdrawalState, WithdrawalState]) -> str:
    return f"{pair[0].value}->{pair[1].value}"


def test_the_transition_table_covers_every_state_and_command():
    assert len(LEGAL) + len(ILLEGAL) == len(WithdrawalState) * len(COMMANDS) == 72
    assert len(ILLEGAL) == 61


# ---- request -------------------------------------------------------------------------------


@pytest.mark.parametrize("approvals", [1, 2])
def test_request_records_requested(approvals):
    withdrawal = Withdrawal.request("p1", 5_000, "EUR", "iban:DE00", approvals, Cause(PLAYER, "q"))

    events = withdrawal.collect_events()
    assert names(events) == ["Requested"]
    assert payload(events[0]) == {
        "player_id": "p1",
        "amount_minor": 5_000,
        "currency": "EUR",
        "destination": "iban:DE00",
        "approvals_required": approvals,
        "actor": PLAYER,
        "request_id": "q",
    }
    assert withdrawal.id == ids.withdrawal_id("p1", "q")
    assert withdrawal.state == "requested"
    assert withdrawal.approvers == []
    assert withdrawal.holds_funds


@pytest.mark.parametrize(
    ("amount", "currency", "destination", "approvals", "error"),
    [
        (0, "EUR", "iban:DE00", 1, InvalidAmount),
        (-5, "EUR", "iban:DE00", 1, InvalidAmount),
        (True, "EUR", "iban:DE00", 1, InvalidAmount),
        (10**15 + 1, "EUR", "iban:DE00", 1, InvalidAmount),
        (5_000, "Eur", "iban:DE00", 1, InvalidAmount),
        (5_000, "EUR", "", 1, InvalidArgument),
        (5_000, "EUR", "iban:DE00", 0, InvalidArgument),
        (5_000, "EUR", "iban:DE00", 3, InvalidArgument),
    ],
)
def test_request_refuses_bad_values(amount, currency, destination, approvals, error):
    with pytest.raises(error):
        Withdrawal.request("p1", amount, currency, destination, approvals, Cause(PLAYER, "q"))


# ---- every transition ----------------------------------------------------------------------


@pytest.mark.parametrize("pair", sorted(LEGAL), ids=_id)
def test_every_legal_transition_records_one_event(pair):
    start, target = pair
    withdrawal = given_withdrawal_in(start)

    COMMANDS[target](withdrawal)

    events = withdrawal.collect_events()
    assert names(events) == [EVENT_OF[target]]
    assert payload(events[0])["request_id"] == "r9"
    assert withdrawal.state == target.value


@pytest.mark.parametrize("pair", ILLEGAL, ids=_id)
def test_every_illegal_transition_is_refused(pair):
    start, target = pair
    withdrawal = given_withdrawal_in(start)

    with refused(withdrawal, IllegalTransition):
        COMMANDS[target](withdrawal)
    assert withdrawal.state == start.value


@pytest.mark.parametrize(
    ("state", "holds"),
    [
        (S.REQUESTED, True),
        (S.APPROVED, True),
        (S.SUBMITTED, True),
        (S.PROCESSING, True),
        (S.PAID, False),
        (S.REJECTED, False),
        (S.CANCELLED, False),
        (S.FAILED, False),
        (S.REVERSED, False),
    ],
)
def test_only_open_withdrawals_hold_funds(state, holds):
    assert given_withdrawal_in(state).holds_funds is holds


# ---- approvals -----------------------------------------------------------------------------


def test_one_approval_approves_a_withdrawal_needing_one():
    withdrawal = given_requested(approvals_required=1)

    withdrawal.approve(Cause(ALICE, "r2"))

    events = withdrawal.collect_events()
    assert names(events) == ["ApprovalGiven"]
    assert payload(events[0]) == {"actor": ALICE, "request_id": "r2"}
    assert withdrawal.approvers == [ALICE]
    assert withdrawal.state == "approved"


def test_the_first_of_two_approvals_leaves_the_withdrawal_requested():
    withdrawal = given_requested(approvals_required=2)

    withdrawal.approve(Cause(ALICE, "r2"))

    assert names(withdrawal.collect_events()) == ["ApprovalGiven"]
    assert withdrawal.approvers == [ALICE]
    assert withdrawal.state == "requested"


def test_a_second_different_operator_approves_a_withdrawal_needing_two():
    withdrawal = given_requested(approvals_required=2)
    withdrawal.approve(Cause(ALICE, "r2"))
    withdrawal.collect_events()

    withdrawal.approve(Cause(BOB, "r3"))

    events = withdrawal.collect_events()
    assert names(events) == ["ApprovalGiven"]
    assert payload(events[0]) == {"actor": BOB, "request_id": "r3"}
    assert withdrawal.approvers == [ALICE, BOB]
    assert withdrawal.state == "approved"


def test_the_same_operator_cannot_approve_twice():
    withdrawal = given_requested(approvals_required=2)
    withdrawal.approve(Cause(ALICE, "r2"))
    withdrawal.collect_events()

    with refused(withdrawal, ApproverNotDistinct):
        withdrawal.approve(Cause(ALICE, "r3"))
    assert withdrawal.approvers == [ALICE]
    assert withdrawal.state == "requested"


@pytest.mark.parametrize("actor", [PLAYER, "player:p2", "system:sandbox"])
def test_only_an_operator_can_approve(actor):
    withdrawal = given_requested()

    with refused(withdrawal, InvalidArgument):
        withdrawal.approve(Cause(actor, "r2"))


def test_a_third_approval_after_two_is_an_illegal_transition():
    withdrawal = given_requested(approvals_required=2)
    withdrawal.approve(Cause(ALICE, "r2"))
    withdrawal.approve(Cause(BOB, "r3"))
    withdrawal.collect_events()

    with refused(withdrawal, IllegalTransition):
        withdrawal.approve(Cause("operator:carol", "r4"))


# ---- cancel --------------------------------------------------------------------------------


def test_the_requesting_player_cancels():
    withdrawal = given_requested()

    withdrawal.cancel(Cause(PLAYER, "req-2"))

    events = withdrawal.collect_events()
    assert names(events) == ["Cancelled"]
    assert payload(events[0]) == {"actor": PLAYER, "request_id": "req-2"}
    assert withdrawal.state == "cancelled"


@pytest.mark.parametrize("actor", ["player:p2", "player:p11", ALICE, "system:sandbox"])
def test_only_the_requesting_player_can_cancel(actor):
    withdrawal = given_requested()

    with refused(withdrawal, InvalidArgument):
        withdrawal.cancel(Cause(actor, "req-2"))


def test_no_cancel_after_the_first_of_two_approvals():
    withdrawal = given_requested(approvals_required=2)
    withdrawal.approve(Cause(ALICE, "r2"))
    withdrawal.collect_events()

    with refused(withdrawal, IllegalTransition):
        withdrawal.cancel(Cause(PLAYER, "req-2"))


def test_no_cancel_once_approved():
    withdrawal = given_withdrawal_in(S.APPROVED)

    with refused(withdrawal, IllegalTransition):
        withdrawal.cancel(Cause(PLAYER, "req-2"))


# ---- reject / submit / fail / reverse details ---------------------------------------------


def test_reject_after_the_first_of_two_approvals_is_allowed():
    withdrawal = given_requested(approvals_required=2)
    withdrawal.approve(Cause(ALICE, "r2"))
    withdrawal.collect_events()

    withdrawal.reject("  looks like fraud ", Cause(BOB, "r3"))

    events = withdrawal.collect_events()
    assert names(events) == ["Rejected"]
    assert payload(events[0]) == {"reason": "looks like fraud", "actor": BOB, "request_id": "r3"}
    assert withdrawal.state == "rejected"
    assert withdrawal.reason == "looks like fraud"


def test_submit_stores_the_provider_reference():
    withdrawal = given_withdrawal_in(S.APPROVED)

    withdrawal.submit("psp-42", Cause("system:payouts", "job-1"))

    events = withdrawal.collect_events()
    assert payload(events[0]) == {
        "provider_ref": "psp-42",
        "actor": "system:payouts",
        "request_id": "job-1",
    }
    assert withdrawal.provider_ref == "psp-42"


def test_submit_needs_a_provider_reference():
    withdrawal = given_withdrawal_in(S.APPROVED)

    with refused(withdrawal, InvalidArgument):
        withdrawal.submit("", Cause("system:payouts", "job-1"))


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (S.REQUESTED, S.REJECTED),
        (S.APPROVED, S.REJECTED),
        (S.SUBMITTED, S.FAILED),
        (S.PROCESSING, S.FAILED),
        (S.PAID, S.REVERSED),
    ],
    ids=lambda s: s.value,
)
@pytest.mark.parametrize("reason", ["", "   "])
def test_reject_fail_and_reverse_need_a_reason(start, target, reason):
    withdrawal = given_withdrawal_in(start)
    act = {
        S.REJECTED: withdrawal.reject,
        S.FAILED: withdrawal.fail,
        S.REVERSED: withdrawal.reverse,
    }[target]

    with refused(withdrawal, InvalidArgument):
        act(reason, Cause(BOB, "r9"))


@pytest.mark.parametrize(
    ("start", "act", "event"),
    [
        (S.SUBMITTED, "fail", "Failed"),
        (S.PROCESSING, "fail", "Failed"),
        (S.PAID, "reverse", "Reversed"),
    ],
)
def test_fail_and_reverse_record_the_stripped_reason(start, act, event):
    withdrawal = given_withdrawal_in(start)

    getattr(withdrawal, act)(" bank returned it ", Cause("system:sandbox", "wh-1"))

    events = withdrawal.collect_events()
    assert names(events) == [event]
    assert payload(events[0]) == {
        "reason": "bank returned it",
        "actor": "system:sandbox",
        "request_id": "wh-1",
    }
    assert withdrawal.reason == "bank returned it"


@pytest.mark.parametrize(
    ("start", "act"),
    [
        (S.REQUESTED, lambda w, c: w.reject("mine", c)),
        (S.APPROVED, lambda w, c: w.reject("mine", c)),
        (S.APPROVED, lambda w, c: w.submit("psp-9", c)),
        (S.SUBMITTED, lambda w, c: w.mark_processing(c)),
        (S.SUBMITTED, lambda w, c: w.mark_paid(c)),
        (S.SUBMITTED, lambda w, c: w.fail("mine", c)),
        (S.PAID, lambda w, c: w.reverse("mine", c)),
    ],
)
def test_a_player_cannot_drive_review_or_payout_steps(start, act):
    withdrawal = given_withdrawal_in(start)
    with refused(withdrawal, InvalidArgument):
        act(withdrawal, Cause(PLAYER, "player-tries"))
