"""Postings: each money event moves money between accounts and sums to zero; others move none."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest

from domain.cause import Cause
from domain.deposit import Deposit
from domain.policy import MoneyPolicy
from domain.postings import Posting, account_of, postings_for
from domain.receipt import Receipt
from domain.wallet import Balance, FreezeScope, LimitPeriod, Wallet
from domain.withdrawal import Withdrawal
from tests.unit.conftest import T0, names

POLICY = MoneyPolicy(currency="GBP")
SYSTEM = Cause("system:sandbox", "wh-1")
OPERATOR = Cause("operator:alice", "r2")


def given_wallet() -> Wallet:
    """A GBP wallet with 10_000 available, 1_000 bonus and 2_000 locked for withdrawal wd-1."""
    wallet = Wallet.open("p1", "GBP", Cause("player:p1", "given-open"))
    wallet.credit_deposit("given-dep", 13_000, Cause("system:sandbox", "given-wh"))
    wallet.credit_bonus(1_000, "welcome", Cause("system:promo", "given-bonus"))
    wallet.lock_for_withdrawal("wd-1", 2_000, "GBP", T0, POLICY, Cause("player:p1", "given-wd"))
    wallet.collect_events()
    return wallet


def the_event(command: Callable[[Wallet], None]) -> Any:
    """The one event a command records on a given wallet."""
    wallet = given_wallet()
    command(wallet)
    events = wallet.collect_events()
    assert len(events) == 1
    return events[0]


AVAILABLE = account_of("p1", "available")
LOCKED = account_of("p1", "locked")
BONUS = account_of("p1", "bonus")

MONEY_EVENTS: list[tuple[str, Callable[[Wallet], None], list[tuple[str, int]]]] = [
    (
        "DepositCredited",
        lambda w: w.credit_deposit("dep-1", 700, SYSTEM),
        [("external:deposits", -700), (AVAILABLE, 700)],
    ),
    (
        "DepositReversed",
        lambda w: w.reverse_deposit("dep-1", 700, SYSTEM),
        [(AVAILABLE, -700), ("external:deposits", 700)],
    ),
    (
        "FundsLocked",
        lambda w: w.lock_for_withdrawal("wd-2", 700, "GBP", T0, POLICY, SYSTEM),
        [(AVAILABLE, -700), (LOCKED, 700)],
    ),
    (
        "FundsReleased",
        lambda w: w.release_lock("wd-1", OPERATOR),
        [(LOCKED, -2_000), (AVAILABLE, 2_000)],
    ),
    (
        "WithdrawalPaidOut",
        lambda w: w.consume_lock("wd-1", SYSTEM),
        [(LOCKED, -2_000), ("external:withdrawals", 2_000)],
    ),
    (
        "PayoutReturned",
        lambda w: w.refund_reversed_payout("wd-0", 700, SYSTEM),
        [("external:withdrawals", -700), (AVAILABLE, 700)],
    ),
    (
        "BonusCredited",
        lambda w: w.credit_bonus(700, "promo", SYSTEM),
        [("house:marketing", -700), (BONUS, 700)],
    ),
    (
        "Adjusted",
        lambda w: w.adjust(Balance.AVAILABLE, 700, "goodwill", OPERATOR),
        [("house:adjustments", -700), (AVAILABLE, 700)],
    ),
    (
        "Adjusted",
        lambda w: w.adjust(Balance.AVAILABLE, -700, "correction", OPERATOR),
        [("house:adjustments", 700), (AVAILABLE, -700)],
    ),
    (
        "Adjusted",
        lambda w: w.adjust(Balance.BONUS, -700, "correction", OPERATOR),
        [("house:adjustments", 700), (BONUS, -700)],
    ),
]


@pytest.mark.parametrize(
    ("event_name", "command", "expected"),
    MONEY_EVENTS,
    ids=[f"{name}-{i}" for i, (name, _, _) in enumerate(MONEY_EVENTS)],
)
def test_a_money_event_moves_money_between_the_right_accounts(event_name, command, expected):
    event = the_event(command)

    postings = postings_for(event)

    assert names([event]) == [event_name]
    assert postings == [Posting(account, amount, "GBP") for account, amount in expected]
    assert sum(p.amount_minor for p in postings) == 0


@pytest.mark.parametrize(
    "command",
    [
        lambda w: w.start_deposit("dep-1", 700, "GBP", T0, POLICY, SYSTEM),
        lambda w: w.abandon_deposit("dep-1", SYSTEM),
        lambda w: w.freeze(FreezeScope.ACCOUNT, "risk", OPERATOR),
        lambda w: w.set_deposit_limit(LimitPeriod.DAY, 5_000, T0, SYSTEM),
    ],
    ids=["DepositStarted", "DepositAbandoned", "Frozen", "DepositLimitChanged"],
)
def test_a_wallet_event_that_moves_no_money_has_no_postings(command):
    assert postings_for(the_event(command)) == []


def test_opening_and_unfreezing_a_wallet_have_no_postings():
    wallet = Wallet.open("p1", "GBP", Cause("player:p1", "req-1"))
    wallet.freeze(FreezeScope.DEPOSIT, "risk", OPERATOR)
    wallet.unfreeze(FreezeScope.DEPOSIT, "cleared", Cause("operator:bob", "r3"))
    events = wallet.collect_events()

    assert names(events) == ["Opened", "Frozen", "Unfrozen"]
    assert [postings_for(e) for e in events] == [[], [], []]


def test_deposit_withdrawal_and_receipt_streams_have_no_postings():
    """Their events share short names with wallet events (Credited, Reversed...) but move nothing:
    the money moves in the wallet's events only."""
    deposit = Deposit.request("p1", 700, "GBP", "sandbox", Cause("player:p1", "req-1"))
    deposit.mark_provider_succeeded("psp-1", SYSTEM)
    deposit.mark_credited(SYSTEM)
    deposit.reverse("charge-back", SYSTEM)
    withdrawal = Withdrawal.request("p1", 700, "GBP", "iban", 1, Cause("player:p1", "req-2"))
    withdrawal.approve(OPERATOR)
    withdrawal.submit("psp-2", OPERATOR)
    withdrawal.mark_paid(SYSTEM)
    withdrawal.reverse("returned", SYSTEM)
    receipt = Receipt.accepted("deposit", "fp", {"ok": True}, Cause("player:p1", "req-3"))
    events = [*deposit.collect_events(), *withdrawal.collect_events(), *receipt.collect_events()]

    assert len(events) == 10
    assert [postings_for(e) for e in events] == [[]] * 10


def test_an_object_that_is_no_event_has_no_postings():
    assert postings_for(object()) == []


def test_a_money_event_with_a_non_integer_amount_is_refused():
    class DepositCredited:
        player_id = "p1"
        currency = "GBP"
        amount_minor = 7.0

    DepositCredited.__qualname__ = "Wallet.DepositCredited"

    with pytest.raises(TypeError):
        postings_for(DepositCredited())


def test_player_accounts_summed_from_postings_equal_the_wallet_balances():
    """Replaying a whole history through the postings gives the balances the wallet holds."""
    wallet = Wallet.open("p1", "GBP", Cause("player:p1", "req-1"))
    wallet.credit_deposit("dep-1", 10_000, Cause("system:sandbox", "wh-1"))
    wallet.credit_bonus(500, "promo", Cause("system:promo", "b-1"))
    wallet.lock_for_withdrawal("wd-1", 3_000, "GBP", T0, POLICY, Cause("player:p1", "req-2"))
    wallet.lock_for_withdrawal("wd-2", 1_000, "GBP", T0, POLICY, Cause("player:p1", "req-3"))
    wallet.release_lock("wd-2", Cause("operator:alice", "r4"))
    wallet.consume_lock("wd-1", Cause("system:sandbox", "wh-5"))
    wallet.refund_reversed_payout("wd-1", 3_000, Cause("system:sandbox", "wh-6"))
    wallet.reverse_deposit("dep-1", 2_000, Cause("system:sandbox", "wh-7"))
    wallet.adjust(Balance.BONUS, -200, "correction", Cause("operator:alice", "r8"))
    totals: dict[str, int] = defaultdict(int)

    for event in wallet.collect_events():
        for posting in postings_for(event):
            totals[posting.account] += posting.amount_minor

    assert (wallet.available, wallet.locked, wallet.bonus) == (8_000, 0, 300)
    assert (totals[AVAILABLE], totals[LOCKED], totals[BONUS]) == (8_000, 0, 300)
    assert sum(totals.values()) == 0
