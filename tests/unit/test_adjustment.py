"""Adjustment (maker-checker): given a request, when approve/reject, then these events on the
adjustment and the wallet (or this error and nothing recorded on either)."""

from __future__ import annotations

import pytest

from domain.adjustment import Adjustment, adjustment_id
from domain.cause import Cause
from domain.errors import (
    IllegalTransition,
    InsufficientFunds,
    InvalidAmount,
    InvalidArgument,
    SelfApprovalRefused,
)
from domain.wallet import Balance, Wallet
from tests.unit.conftest import T0, names, payload, refused, state_of

MAKER = Cause("operator:alice", "adj-1", "duplicate credit")
CHECKER = Cause("operator:bob", "ok-1", "checked the provider statement")


def given_wallet(available: int = 0) -> Wallet:
    wallet = Wallet.open("p1", "EUR", Cause("player:p1", "open"))
    if available:
        wallet.credit_deposit("d1", available, Cause("system:psp", "wh"))
    wallet.collect_events()
    return wallet


def given_request(delta: int = -300, balance: Balance = Balance.AVAILABLE) -> Adjustment:
    adjustment = Adjustment.request("p1", balance, delta, " duplicate credit ", T0, MAKER)
    adjustment.collect_events()
    return adjustment


def test_request_records_the_proposal_and_moves_nothing() -> None:
    adjustment = Adjustment.request("p1", Balance.BONUS, 500, " goodwill ", T0, MAKER)

    events = adjustment.collect_events()
    assert names(events) == ["Requested"]
    assert payload(events[0]) == {
        "player_id": "p1",
        "balance": "bonus",
        "delta_minor": 500,
        "reason": "goodwill",
        "at": T0,
        "actor": "operator:alice",
        "request_id": "adj-1",
    }
    assert adjustment.id == adjustment_id("operator:alice", "adj-1")
    assert (adjustment.state, adjustment.requested_by) == ("requested", "operator:alice")


@pytest.mark.parametrize("delta", [0, True, 10**15 + 1, -(10**15) - 1])
def test_request_refuses_a_zero_or_absurd_amount(delta: int) -> None:
    with pytest.raises(InvalidAmount):
        Adjustment.request("p1", Balance.AVAILABLE, delta, "why", T0, MAKER)


def test_request_needs_a_reason_and_an_operator() -> None:
    with pytest.raises(InvalidArgument):
        Adjustment.request("p1", Balance.AVAILABLE, 100, "  ", T0, MAKER)
    with pytest.raises(InvalidArgument):
        Adjustment.request("p1", Balance.AVAILABLE, 100, "why", T0, Cause("player:p1", "x"))


def test_approval_by_another_operator_adjusts_the_wallet() -> None:
    adjustment, wallet = given_request(-300), given_wallet(1_000)

    adjustment.approve(wallet, " checked ", T0, CHECKER)

    assert names(adjustment.collect_events()) == ["Approved"]
    wallet_events = wallet.collect_events()
    assert names(wallet_events) == ["Adjusted"]
    assert payload(wallet_events[0]) == {
        "player_id": "p1",
        "currency": "EUR",
        "balance": "available",
        "delta_minor": -300,
        "reason": "duplicate credit",
        "actor": "operator:bob",
        "request_id": "ok-1",
    }
    assert wallet.available == 700
    assert (adjustment.state, adjustment.decided_by) == ("posted", "operator:bob")


def test_the_maker_cannot_approve_their_own_request() -> None:
    adjustment, wallet = given_request(), given_wallet(1_000)
    before = state_of(wallet)

    with refused(adjustment, SelfApprovalRefused):
        adjustment.approve(wallet, "looks fine", T0, Cause("operator:alice", "ok-2"))

    assert wallet.collect_events() == []
    assert state_of(wallet) == before


def test_an_approval_the_balance_cannot_absorb_is_refused_on_both() -> None:
    adjustment, wallet = given_request(-5_000), given_wallet(1_000)

    with refused(adjustment, InsufficientFunds):
        adjustment.approve(wallet, "ok", T0, CHECKER)

    assert wallet.collect_events() == []
    assert wallet.available == 1_000


def test_approval_needs_a_reason_before_anything_moves() -> None:
    adjustment, wallet = given_request(), given_wallet(1_000)

    with refused(adjustment, InvalidArgument):
        adjustment.approve(wallet, " ", T0, CHECKER)

    assert wallet.collect_events() == []


def test_a_decided_adjustment_cannot_be_decided_again() -> None:
    adjustment, wallet = given_request(), given_wallet(1_000)
    adjustment.approve(wallet, "ok", T0, CHECKER)
    adjustment.collect_events()
    wallet.collect_events()

    with refused(adjustment, IllegalTransition):
        adjustment.approve(wallet, "again", T0, Cause("operator:carol", "ok-3"))
    with refused(adjustment, IllegalTransition):
        adjustment.reject("too late", T0, MAKER)
    assert wallet.collect_events() == []


def test_the_maker_may_reject_their_own_request() -> None:
    adjustment = given_request()

    adjustment.reject(" typo in the amount ", T0, Cause("operator:alice", "rj-1"))

    events = adjustment.collect_events()
    assert names(events) == ["Rejected"]
    assert payload(events[0])["reason"] == "typo in the amount"
    assert (adjustment.state, adjustment.decided_by) == ("rejected", "operator:alice")


def test_a_player_cannot_approve_or_reject() -> None:
    adjustment, wallet = given_request(), given_wallet(1_000)
    with refused(adjustment, InvalidArgument):
        adjustment.approve(wallet, "me", T0, Cause("player:p1", "x"))
    with refused(adjustment, InvalidArgument):
        adjustment.reject("me", T0, Cause("player:p1", "y"))


def test_approval_against_another_players_wallet_is_refused() -> None:
    adjustment = given_request()
    other = Wallet.open("p2", "EUR", Cause("player:p2", "open"))
    other.collect_events()

    with refused(adjustment, InvalidArgument):
        adjustment.approve(other, "ok", T0, CHECKER)
    assert other.collect_events() == []
