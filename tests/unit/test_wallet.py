"""Wallet: given earlier commands, when one command, then these new events (or this error, none)."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import product

import pytest

from domain import ids
from domain.cause import Cause
from domain.errors import (
    AccountFrozen,
    AmountOutOfRange,
    CurrencyMismatch,
    DepositLimitExceeded,
    FreezeUnchanged,
    InsufficientFunds,
    InvalidAmount,
    InvalidArgument,
    UnknownLock,
    WithdrawalDailyCapExceeded,
)
from domain.policy import MoneyPolicy
from domain.wallet import Balance, FreezeScope, LimitPeriod, Wallet
from tests.unit.conftest import T0, names, payload, refused

POLICY = MoneyPolicy()
CAPPED = MoneyPolicy(withdrawal_daily_cap=1_000)
SECOND = timedelta(seconds=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
BAD_AMOUNTS = [0, -100, True, 100.0, 10**15 + 1]


def given_wallet(available: int = 0, bonus: int = 0, currency: str = "EUR") -> Wallet:
    wallet = Wallet.open("p1", currency, Cause("player:p1", "given-open"))
    if available:
        wallet.credit_deposit("given-dep", available, Cause("system:sandbox", "given-wh"))
    if bonus:
        wallet.credit_bonus(bonus, "welcome", Cause("system:promo", "given-bonus"))
    wallet.collect_events()
    return wallet


def start(wallet: Wallet, deposit_id: str, amount: int, at: datetime) -> None:
    wallet.start_deposit(deposit_id, amount, "EUR", at, POLICY, Cause("player:p1", deposit_id))


def lock(wallet: Wallet, withdrawal_id: str, amount: int, at: datetime = T0, policy=POLICY) -> None:
    cause = Cause("player:p1", withdrawal_id)
    wallet.lock_for_withdrawal(withdrawal_id, amount, "EUR", at, policy, cause)


def set_limit(wallet: Wallet, period: LimitPeriod, limit: int | None, at: datetime) -> None:
    cause = Cause("player:p1", f"limit-{period}-{limit}-{at.isoformat()}")
    wallet.set_deposit_limit(period, limit, at, cause)


# ---- open ----------------------------------------------------------------------------------


def test_open_records_opened_with_empty_balances():
    wallet = Wallet.open("p1", "EUR", Cause("player:p1", "req-1"))

    events = wallet.collect_events()
    assert names(events) == ["Opened"]
    assert payload(events[0]) == {
        "player_id": "p1",
        "currency": "EUR",
        "actor": "player:p1",
        "request_id": "req-1",
    }
    assert wallet.id == ids.wallet_id("p1")
    assert (wallet.available, wallet.locked, wallet.bonus) == (0, 0, 0)
    assert wallet.freezes == {}
    assert wallet.locks == {}


def test_open_accepts_a_100_character_player_id():
    wallet = Wallet.open("p" * 100, "GBP", Cause("player:p1", "req-1"))
    assert wallet.player_id == "p" * 100
    assert wallet.currency == "GBP"


@pytest.mark.parametrize(
    ("player_id", "currency", "error"),
    [
        ("", "EUR", InvalidArgument),
        ("p" * 101, "EUR", InvalidArgument),
        ("p1", "eur", InvalidAmount),
        ("p1", "EURO", InvalidAmount),
        ("p1", "", InvalidAmount),
    ],
)
def test_open_refuses_a_bad_player_id_or_currency(player_id, currency, error):
    with pytest.raises(error):
        Wallet.open(player_id, currency, Cause("player:p1", "req-1"))


# ---- start_deposit / abandon_deposit ---------------------------------------------------------


def test_start_deposit_reserves_room_under_the_limits_without_moving_money():
    wallet = given_wallet(available=700)

    wallet.start_deposit("dep-1", 5_000, "EUR", T0, POLICY, Cause("player:p1", "req-1"))

    events = wallet.collect_events()
    assert names(events) == ["DepositStarted"]
    assert payload(events[0]) == {
        "deposit_id": "dep-1",
        "amount_minor": 5_000,
        "at": T0,
        "actor": "player:p1",
        "request_id": "req-1",
    }
    assert wallet.available == 700
    assert wallet.deposits_in_window == {"dep-1": [T0, 5_000]}
    assert wallet.deposited_within(DAY, T0) == 5_000


@pytest.mark.parametrize("amount", [POLICY.deposit_min, POLICY.deposit_max])
def test_start_deposit_accepts_the_policy_bounds(amount):
    wallet = given_wallet()

    start(wallet, "dep-1", amount, T0)

    assert names(wallet.collect_events()) == ["DepositStarted"]
    assert wallet.deposited_within(DAY, T0) == amount


@pytest.mark.parametrize(
    ("amount", "currency", "error"),
    [
        *[(amount, "EUR", InvalidAmount) for amount in BAD_AMOUNTS],
        (POLICY.deposit_min - 1, "EUR", AmountOutOfRange),
        (POLICY.deposit_max + 1, "EUR", AmountOutOfRange),
        (5_000, "USD", CurrencyMismatch),
    ],
)
def test_start_deposit_refuses_a_bad_amount_or_currency(amount, currency, error):
    wallet = given_wallet()

    with refused(wallet, error):
        wallet.start_deposit("dep-1", amount, currency, T0, POLICY, Cause("player:p1", "req-1"))


def test_start_deposit_refuses_a_deposit_id_already_started():
    wallet = given_wallet()
    start(wallet, "dep-1", 1_000, T0)
    wallet.collect_events()

    with refused(wallet, InvalidArgument):
        start(wallet, "dep-1", 1_000, T0 + HOUR)


def test_abandon_deposit_takes_it_out_of_the_limit_window():
    wallet = given_wallet()
    start(wallet, "dep-1", 1_000, T0)
    wallet.collect_events()

    wallet.abandon_deposit("dep-1", Cause("system:sandbox", "wh-1"))

    events = wallet.collect_events()
    assert names(events) == ["DepositAbandoned"]
    assert payload(events[0]) == {
        "deposit_id": "dep-1",
        "actor": "system:sandbox",
        "request_id": "wh-1",
    }
    assert wallet.deposits_in_window == {}
    assert wallet.deposited_within(DAY, T0) == 0
    assert wallet.available == 0


def test_given_an_abandoned_deposit_a_new_one_may_use_its_room():
    wallet = given_wallet()
    set_limit(wallet, LimitPeriod.DAY, 1_000, T0)
    start(wallet, "dep-1", 1_000, T0)
    wallet.abandon_deposit("dep-1", Cause("system:sandbox", "wh-1"))
    wallet.collect_events()

    start(wallet, "dep-2", 1_000, T0 + HOUR)

    assert names(wallet.collect_events()) == ["DepositStarted"]
    assert wallet.deposits_in_window == {"dep-2": [T0 + HOUR, 1_000]}


# ---- credit_deposit / reverse_deposit --------------------------------------------------------


def test_credit_deposit_adds_to_available():
    wallet = given_wallet(available=1_000, bonus=300)

    wallet.credit_deposit("dep-1", 2_500, Cause("system:sandbox", "wh-1"))

    events = wallet.collect_events()
    assert names(events) == ["DepositCredited"]
    assert payload(events[0]) == {
        "deposit_id": "dep-1",
        "player_id": "p1",
        "currency": "EUR",
        "amount_minor": 2_500,
        "actor": "system:sandbox",
        "request_id": "wh-1",
    }
    assert (wallet.available, wallet.locked, wallet.bonus) == (3_500, 0, 300)


def test_credit_deposit_reaches_a_wallet_frozen_for_everything():
    wallet = given_wallet()
    wallet.freeze(FreezeScope.ACCOUNT, "fraud review", Cause("operator:alice", "r1"))
    wallet.collect_events()

    wallet.credit_deposit("dep-1", 2_500, Cause("system:sandbox", "wh-1"))

    assert names(wallet.collect_events()) == ["DepositCredited"]
    assert wallet.available == 2_500


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_credit_deposit_refuses_a_bad_amount(amount):
    wallet = given_wallet(available=1_000)

    with refused(wallet, InvalidAmount):
        wallet.credit_deposit("dep-1", amount, Cause("system:sandbox", "wh-1"))


def test_reverse_deposit_takes_back_up_to_the_whole_available_balance():
    wallet = given_wallet(bonus=400)
    start(wallet, "dep-1", 3_000, T0)
    wallet.credit_deposit("dep-1", 3_000, Cause("system:sandbox", "wh-1"))
    wallet.collect_events()

    wallet.reverse_deposit("dep-1", 3_000, Cause("system:sandbox", "wh-2"))

    events = wallet.collect_events()
    assert names(events) == ["DepositReversed"]
    assert payload(events[0]) == {
        "deposit_id": "dep-1",
        "player_id": "p1",
        "currency": "EUR",
        "amount_minor": 3_000,
        "actor": "system:sandbox",
        "request_id": "wh-2",
    }
    assert (wallet.available, wallet.locked, wallet.bonus) == (0, 0, 400)


def test_reverse_deposit_refuses_to_overdraw_available_even_with_bonus_left():
    wallet = given_wallet(available=1_000, bonus=5_000)

    with refused(wallet, InsufficientFunds):
        wallet.reverse_deposit("dep-1", 1_001, Cause("system:sandbox", "wh-1"))


def test_reverse_deposit_cannot_take_locked_money():
    wallet = given_wallet(available=1_000)
    lock(wallet, "wd-1", 600)
    wallet.collect_events()

    with refused(wallet, InsufficientFunds):
        wallet.reverse_deposit("dep-1", 500, Cause("system:sandbox", "wh-1"))


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_reverse_deposit_refuses_a_bad_amount(amount):
    wallet = given_wallet(available=1_000)

    with refused(wallet, InvalidAmount):
        wallet.reverse_deposit("dep-1", amount, Cause("system:sandbox", "wh-1"))


# ---- lock_for_withdrawal -------------------------------------------------------------------


def test_lock_for_withdrawal_moves_available_to_locked():
    wallet = given_wallet(available=10_000, bonus=50)

    wallet.lock_for_withdrawal("wd-1", 4_000, "EUR", T0, POLICY, Cause("player:p1", "req-1"))

    events = wallet.collect_events()
    assert names(events) == ["FundsLocked"]
    assert payload(events[0]) == {
        "withdrawal_id": "wd-1",
        "player_id": "p1",
        "currency": "EUR",
        "amount_minor": 4_000,
        "at": T0,
        "actor": "player:p1",
        "request_id": "req-1",
    }
    assert (wallet.available, wallet.locked, wallet.bonus) == (6_000, 4_000, 50)
    assert wallet.locks == {"wd-1": 4_000}
    assert wallet.withdrawals_in_window == {"wd-1": [T0, 4_000]}


def test_lock_for_withdrawal_may_lock_the_whole_available_balance():
    wallet = given_wallet(available=1_000)

    lock(wallet, "wd-1", 1_000)

    assert names(wallet.collect_events()) == ["FundsLocked"]
    assert (wallet.available, wallet.locked) == (0, 1_000)


@pytest.mark.parametrize(
    ("amount", "currency", "error"),
    [
        *[(amount, "EUR", InvalidAmount) for amount in BAD_AMOUNTS],
        (POLICY.withdrawal_min - 1, "EUR", AmountOutOfRange),
        (POLICY.withdrawal_max + 1, "EUR", AmountOutOfRange),
        (1_000, "USD", CurrencyMismatch),
    ],
)
def test_lock_for_withdrawal_refuses_a_bad_amount_or_currency(amount, currency, error):
    wallet = given_wallet(available=2_000_000)

    with refused(wallet, error):
        wallet.lock_for_withdrawal("wd-1", amount, currency, T0, POLICY, Cause("player:p1", "r1"))


def test_lock_for_withdrawal_refuses_more_than_available_bonus_does_not_count():
    wallet = given_wallet(available=1_000, bonus=10_000)

    with refused(wallet, InsufficientFunds):
        lock(wallet, "wd-1", 1_001)


def test_lock_for_withdrawal_cannot_reuse_money_already_locked():
    wallet = given_wallet(available=1_000)
    lock(wallet, "wd-1", 800)
    wallet.collect_events()

    with refused(wallet, InsufficientFunds):
        lock(wallet, "wd-2", 300)


def test_lock_for_withdrawal_refuses_a_second_lock_for_the_same_withdrawal():
    wallet = given_wallet(available=5_000)
    lock(wallet, "wd-1", 1_000)
    wallet.collect_events()

    with refused(wallet, InvalidArgument):
        lock(wallet, "wd-1", 1_000, T0 + HOUR)


# ---- daily withdrawal cap (rolling 24 hours) ----------------------------------------------


def test_withdrawals_up_to_the_daily_cap_are_accepted():
    wallet = given_wallet(available=5_000)
    lock(wallet, "wd-1", 600, T0, CAPPED)
    wallet.collect_events()

    lock(wallet, "wd-2", 400, T0 + HOUR, CAPPED)

    assert names(wallet.collect_events()) == ["FundsLocked"]
    assert wallet.locked == 1_000


def test_a_single_withdrawal_above_the_daily_cap_is_refused():
    wallet = given_wallet(available=5_000)

    with refused(wallet, WithdrawalDailyCapExceeded):
        lock(wallet, "wd-1", 1_001, T0, CAPPED)


@pytest.mark.parametrize("later", [SECOND, HOUR, DAY - SECOND])
def test_a_withdrawal_over_the_daily_cap_within_24_hours_is_refused(later):
    wallet = given_wallet(available=5_000)
    lock(wallet, "wd-1", 600, T0, CAPPED)
    wallet.collect_events()

    with refused(wallet, WithdrawalDailyCapExceeded):
        lock(wallet, "wd-2", 401, T0 + later, CAPPED)


def test_the_daily_cap_window_rolls_after_24_hours():
    wallet = given_wallet(available=5_000)
    lock(wallet, "wd-1", 600, T0, CAPPED)
    wallet.collect_events()

    lock(wallet, "wd-2", 1_000, T0 + DAY, CAPPED)

    assert names(wallet.collect_events()) == ["FundsLocked"]
    assert wallet.withdrawals_in_window == {"wd-2": [T0 + DAY, 1_000]}


def test_a_released_lock_no_longer_counts_against_the_daily_cap():
    wallet = given_wallet(available=5_000)
    lock(wallet, "wd-1", 1_000, T0, CAPPED)
    wallet.release_lock("wd-1", Cause("operator:alice", "r1"))
    wallet.collect_events()

    lock(wallet, "wd-2", 1_000, T0 + HOUR, CAPPED)

    assert names(wallet.collect_events()) == ["FundsLocked"]


def test_a_paid_out_withdrawal_still_counts_against_the_daily_cap():
    wallet = given_wallet(available=5_000)
    lock(wallet, "wd-1", 1_000, T0, CAPPED)
    wallet.consume_lock("wd-1", Cause("system:sandbox", "wh-1"))
    wallet.collect_events()

    with refused(wallet, WithdrawalDailyCapExceeded):
        lock(wallet, "wd-2", 100, T0 + HOUR, CAPPED)


# ---- release_lock / consume_lock / refund_reversed_payout ----------------------------------


def test_release_lock_returns_the_locked_amount_to_available():
    wallet = given_wallet(available=5_000)
    lock(wallet, "wd-1", 2_000)
    lock(wallet, "wd-2", 500)
    wallet.collect_events()

    wallet.release_lock("wd-1", Cause("operator:alice", "r2"))

    events = wallet.collect_events()
    assert names(events) == ["FundsReleased"]
    assert payload(events[0]) == {
        "withdrawal_id": "wd-1",
        "player_id": "p1",
        "currency": "EUR",
        "amount_minor": 2_000,
        "actor": "operator:alice",
        "request_id": "r2",
    }
    assert (wallet.available, wallet.locked) == (4_500, 500)
    assert wallet.locks == {"wd-2": 500}
    assert wallet.locked == sum(wallet.locks.values())


def test_consume_lock_pays_the_locked_amount_out():
    wallet = given_wallet(available=5_000)
    lock(wallet, "wd-1", 2_000)
    wallet.collect_events()

    wallet.consume_lock("wd-1", Cause("system:sandbox", "wh-1"))

    events = wallet.collect_events()
    assert names(events) == ["WithdrawalPaidOut"]
    assert payload(events[0]) == {
        "withdrawal_id": "wd-1",
        "player_id": "p1",
        "currency": "EUR",
        "amount_minor": 2_000,
        "actor": "system:sandbox",
        "request_id": "wh-1",
    }
    assert (wallet.available, wallet.locked) == (3_000, 0)
    assert wallet.locks == {}


def given_wallet_with_lock_history(history: str) -> Wallet:
    wallet = given_wallet(available=5_000)
    if history != "never locked":
        lock(wallet, "wd-1", 2_000)
    if history == "released":
        wallet.release_lock("wd-1", Cause("operator:alice", "given-release"))
    if history == "paid out":
        wallet.consume_lock("wd-1", Cause("system:sandbox", "given-paid"))
    wallet.collect_events()
    return wallet


@pytest.mark.parametrize("history", ["never locked", "released", "paid out"])
def test_release_lock_refuses_a_withdrawal_without_an_open_lock(history):
    wallet = given_wallet_with_lock_history(history)

    with refused(wallet, UnknownLock):
        wallet.release_lock("wd-1", Cause("operator:alice", "r2"))


@pytest.mark.parametrize("history", ["never locked", "released", "paid out"])
def test_consume_lock_refuses_a_withdrawal_without_an_open_lock(history):
    wallet = given_wallet_with_lock_history(history)

    with refused(wallet, UnknownLock):
        wallet.consume_lock("wd-1", Cause("system:sandbox", "wh-2"))


def test_refund_reversed_payout_credits_available():
    wallet = given_wallet_with_lock_history("paid out")

    wallet.refund_reversed_payout("wd-1", 2_000, Cause("system:sandbox", "wh-3"))

    events = wallet.collect_events()
    assert names(events) == ["PayoutReturned"]
    assert payload(events[0]) == {
        "withdrawal_id": "wd-1",
        "player_id": "p1",
        "currency": "EUR",
        "amount_minor": 2_000,
        "actor": "system:sandbox",
        "request_id": "wh-3",
    }
    assert (wallet.available, wallet.locked) == (5_000, 0)


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_refund_reversed_payout_refuses_a_bad_amount(amount):
    wallet = given_wallet_with_lock_history("paid out")

    with refused(wallet, InvalidAmount):
        wallet.refund_reversed_payout("wd-1", amount, Cause("system:sandbox", "wh-3"))


# ---- credit_bonus / adjust -----------------------------------------------------------------


def test_credit_bonus_adds_to_the_bonus_balance_only():
    wallet = given_wallet(available=1_000, bonus=200)

    wallet.credit_bonus(500, "spring-promo", Cause("system:promo", "req-1"))

    events = wallet.collect_events()
    assert names(events) == ["BonusCredited"]
    assert payload(events[0]) == {
        "player_id": "p1",
        "currency": "EUR",
        "amount_minor": 500,
        "source": "spring-promo",
        "actor": "system:promo",
        "request_id": "req-1",
    }
    assert (wallet.available, wallet.locked, wallet.bonus) == (1_000, 0, 700)


def test_credit_bonus_needs_a_source():
    wallet = given_wallet()

    with refused(wallet, InvalidArgument):
        wallet.credit_bonus(500, "", Cause("system:promo", "req-1"))


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_credit_bonus_refuses_a_bad_amount(amount):
    wallet = given_wallet()

    with refused(wallet, InvalidAmount):
        wallet.credit_bonus(amount, "spring-promo", Cause("system:promo", "req-1"))


@pytest.mark.parametrize(
    ("balance", "delta", "available", "bonus"),
    [
        (Balance.AVAILABLE, 250, 1_250, 500),
        (Balance.AVAILABLE, -1_000, 0, 500),
        (Balance.BONUS, 100, 1_000, 600),
        (Balance.BONUS, -500, 1_000, 0),
    ],
)
def test_an_operator_adjusts_one_balance_by_a_signed_amount(balance, delta, available, bonus):
    wallet = given_wallet(available=1_000, bonus=500)

    wallet.adjust(balance, delta, "  goodwill  ", Cause("operator:alice", "r2"))

    events = wallet.collect_events()
    assert names(events) == ["Adjusted"]
    assert payload(events[0]) == {
        "player_id": "p1",
        "currency": "EUR",
        "balance": balance.value,
        "delta_minor": delta,
        "reason": "goodwill",
        "actor": "operator:alice",
        "request_id": "r2",
    }
    assert (wallet.available, wallet.locked, wallet.bonus) == (available, 0, bonus)


@pytest.mark.parametrize("actor", ["player:p1", "system:sandbox"])
def test_only_an_operator_can_adjust(actor):
    wallet = given_wallet(available=1_000)

    with refused(wallet, InvalidArgument):
        wallet.adjust(Balance.AVAILABLE, 100, "goodwill", Cause(actor, "r2"))


@pytest.mark.parametrize("reason", ["", "   "])
def test_an_adjustment_needs_a_reason(reason):
    wallet = given_wallet(available=1_000)

    with refused(wallet, InvalidArgument):
        wallet.adjust(Balance.AVAILABLE, 100, reason, Cause("operator:alice", "r2"))


@pytest.mark.parametrize("delta", [0, True, 1.5, 10**15 + 1, -(10**15 + 1)])
def test_an_adjustment_must_be_a_nonzero_integer_in_range(delta):
    wallet = given_wallet(available=1_000)

    with refused(wallet, InvalidAmount):
        wallet.adjust(Balance.AVAILABLE, delta, "goodwill", Cause("operator:alice", "r2"))


@pytest.mark.parametrize(("balance", "delta"), [(Balance.AVAILABLE, -1_001), (Balance.BONUS, -501)])
def test_an_adjustment_cannot_make_a_balance_negative(balance, delta):
    wallet = given_wallet(available=1_000, bonus=500)

    with refused(wallet, InsufficientFunds):
        wallet.adjust(balance, delta, "goodwill", Cause("operator:alice", "r2"))


def test_an_adjustment_cannot_take_locked_money():
    wallet = given_wallet(available=1_000)
    lock(wallet, "wd-1", 400)
    wallet.collect_events()

    with refused(wallet, InsufficientFunds):
        wallet.adjust(Balance.AVAILABLE, -601, "goodwill", Cause("operator:alice", "r2"))


# ---- freeze / unfreeze ---------------------------------------------------------------------


def given_frozen(*scopes: FreezeScope) -> Wallet:
    wallet = given_wallet(available=10_000)
    for scope in scopes:
        wallet.freeze(scope, "risk review", Cause("operator:alice", f"given-freeze-{scope}"))
    wallet.collect_events()
    return wallet


@pytest.mark.parametrize("scope", list(FreezeScope))
def test_freeze_records_the_scope_and_reason(scope):
    wallet = given_frozen()

    wallet.freeze(scope, "  chargeback risk ", Cause("operator:alice", "r2"))

    events = wallet.collect_events()
    assert names(events) == ["Frozen"]
    assert payload(events[0]) == {
        "scope": scope.value,
        "reason": "chargeback risk",
        "actor": "operator:alice",
        "request_id": "r2",
    }
    assert wallet.freezes == {scope.value: "chargeback risk"}


@pytest.mark.parametrize(("frozen", "queried"), list(product(FreezeScope, FreezeScope)))
def test_a_freeze_blocks_its_own_scope_and_an_account_freeze_blocks_every_scope(frozen, queried):
    wallet = given_frozen(frozen)

    assert wallet.is_frozen_for(queried) is (frozen is FreezeScope.ACCOUNT or queried is frozen)


@pytest.mark.parametrize("scope", list(FreezeScope))
def test_freezing_an_already_frozen_scope_is_refused(scope):
    wallet = given_frozen(scope)

    with refused(wallet, FreezeUnchanged):
        wallet.freeze(scope, "again", Cause("operator:alice", "r2"))


@pytest.mark.parametrize("reason", ["", "  "])
def test_a_freeze_needs_a_reason(reason):
    wallet = given_frozen()

    with refused(wallet, InvalidArgument):
        wallet.freeze(FreezeScope.DEPOSIT, reason, Cause("operator:alice", "r2"))


@pytest.mark.parametrize("scope", list(FreezeScope))
def test_unfreeze_lifts_only_that_scope(scope):
    others = [s for s in FreezeScope if s is not scope and s is not FreezeScope.ACCOUNT]
    wallet = given_frozen(scope, *others)

    wallet.unfreeze(scope, " cleared ", Cause("operator:bob", "r3"))

    events = wallet.collect_events()
    assert names(events) == ["Unfrozen"]
    assert payload(events[0]) == {
        "scope": scope.value,
        "reason": "cleared",
        "actor": "operator:bob",
        "request_id": "r3",
    }
    assert wallet.freezes == {s.value: "risk review" for s in others}
    assert not wallet.is_frozen_for(scope)


@pytest.mark.parametrize("scope", list(FreezeScope))
def test_unfreezing_a_scope_that_is_not_frozen_is_refused(scope):
    wallet = given_frozen(*[s for s in FreezeScope if s is not scope])

    with refused(wallet, FreezeUnchanged):
        wallet.unfreeze(scope, "cleared", Cause("operator:bob", "r3"))


def test_an_unfreeze_needs_a_reason():
    wallet = given_frozen(FreezeScope.DEPOSIT)

    with refused(wallet, InvalidArgument):
        wallet.unfreeze(FreezeScope.DEPOSIT, " ", Cause("operator:bob", "r3"))


def test_lifting_a_scope_freeze_under_an_account_freeze_still_blocks_that_scope():
    wallet = given_frozen(FreezeScope.ACCOUNT, FreezeScope.DEPOSIT)

    wallet.unfreeze(FreezeScope.DEPOSIT, "cleared", Cause("operator:bob", "r3"))

    assert names(wallet.collect_events()) == ["Unfrozen"]
    assert wallet.is_frozen_for(FreezeScope.DEPOSIT)


@pytest.mark.parametrize(
    ("frozen", "blocked"),
    [
        (FreezeScope.ACCOUNT, True),
        (FreezeScope.DEPOSIT, True),
        (FreezeScope.WITHDRAWAL, False),
        (FreezeScope.GAMEPLAY, False),
    ],
)
def test_start_deposit_is_blocked_by_a_deposit_or_account_freeze(frozen, blocked):
    wallet = given_frozen(frozen)

    if blocked:
        with refused(wallet, AccountFrozen):
            start(wallet, "dep-1", 1_000, T0)
    else:
        start(wallet, "dep-1", 1_000, T0)
        assert names(wallet.collect_events()) == ["DepositStarted"]


@pytest.mark.parametrize(
    ("frozen", "blocked"),
    [
        (FreezeScope.ACCOUNT, True),
        (FreezeScope.WITHDRAWAL, True),
        (FreezeScope.DEPOSIT, False),
        (FreezeScope.GAMEPLAY, False),
    ],
)
def test_lock_for_withdrawal_is_blocked_by_a_withdrawal_or_account_freeze(frozen, blocked):
    wallet = given_frozen(frozen)

    if blocked:
        with refused(wallet, AccountFrozen):
            lock(wallet, "wd-1", 1_000)
    else:
        lock(wallet, "wd-1", 1_000)
        assert names(wallet.collect_events()) == ["FundsLocked"]


def test_given_a_lifted_account_freeze_deposits_and_withdrawals_work_again():
    wallet = given_frozen(FreezeScope.ACCOUNT)
    wallet.unfreeze(FreezeScope.ACCOUNT, "cleared", Cause("operator:bob", "given-unfreeze"))
    wallet.collect_events()

    start(wallet, "dep-1", 1_000, T0)
    lock(wallet, "wd-1", 1_000)

    assert names(wallet.collect_events()) == ["DepositStarted", "FundsLocked"]


# ---- set_deposit_limit ---------------------------------------------------------------------


def given_limit(period: LimitPeriod, limit: int) -> Wallet:
    """A wallet with ``limit`` in force since two days before T0."""
    wallet = given_wallet()
    set_limit(wallet, period, limit, T0 - DAY * 2)
    wallet.collect_events()
    return wallet


def given_limit_change(period: LimitPeriod, limit: int, changed_to: int | None) -> Wallet:
    """``limit`` in force, and a raise (or, with None, a removal) asked for at T0."""
    wallet = given_limit(period, limit)
    set_limit(wallet, period, changed_to, T0)
    wallet.collect_events()
    return wallet


def test_a_first_limit_applies_at_once():
    wallet = given_wallet()

    wallet.set_deposit_limit(LimitPeriod.DAY, 1_000, T0, Cause("player:p1", "req-1"))

    events = wallet.collect_events()
    assert names(events) == ["DepositLimitChanged"]
    assert payload(events[0]) == {
        "period": "day",
        "limit_minor": 1_000,
        "pending_limit_minor": None,
        "pending_from": None,
        "actor": "player:p1",
        "request_id": "req-1",
    }
    assert wallet.deposit_limit(LimitPeriod.DAY, T0) == 1_000
    assert wallet.deposit_limit(LimitPeriod.WEEK, T0) is None
    assert wallet.deposit_limit(LimitPeriod.MONTH, T0) is None


@pytest.mark.parametrize("lower", [999, 1_000, 100])
def test_lowering_a_limit_applies_at_once(lower):
    wallet = given_limit(LimitPeriod.WEEK, 1_000)

    set_limit(wallet, LimitPeriod.WEEK, lower, T0)

    events = wallet.collect_events()
    assert names(events) == ["DepositLimitChanged"]
    assert payload(events[0])["limit_minor"] == lower
    assert payload(events[0])["pending_limit_minor"] is None
    assert payload(events[0])["pending_from"] is None
    assert wallet.deposit_limit(LimitPeriod.WEEK, T0) == lower


def test_raising_a_limit_applies_only_after_24_hours():
    wallet = given_limit(LimitPeriod.DAY, 1_000)

    wallet.set_deposit_limit(LimitPeriod.DAY, 5_000, T0, Cause("player:p1", "req-1"))

    events = wallet.collect_events()
    assert names(events) == ["DepositLimitChanged"]
    assert payload(events[0]) == {
        "period": "day",
        "limit_minor": 1_000,
        "pending_limit_minor": 5_000,
        "pending_from": T0 + timedelta(hours=24),
        "actor": "player:p1",
        "request_id": "req-1",
    }
    assert wallet.deposit_limit(LimitPeriod.DAY, T0) == 1_000
    assert wallet.deposit_limit(LimitPeriod.DAY, T0 + DAY - SECOND) == 1_000
    assert wallet.deposit_limit(LimitPeriod.DAY, T0 + DAY) == 5_000


def test_removing_a_limit_applies_only_after_24_hours():
    wallet = given_limit(LimitPeriod.MONTH, 1_000)

    set_limit(wallet, LimitPeriod.MONTH, None, T0)

    events = wallet.collect_events()
    assert names(events) == ["DepositLimitChanged"]
    assert payload(events[0])["limit_minor"] == 1_000
    assert payload(events[0])["pending_limit_minor"] is None
    assert payload(events[0])["pending_from"] == T0 + DAY
    assert wallet.deposit_limit(LimitPeriod.MONTH, T0 + DAY - SECOND) == 1_000
    assert wallet.deposit_limit(LimitPeriod.MONTH, T0 + DAY) is None


def test_lowering_during_a_pending_raise_cancels_the_raise():
    wallet = given_limit_change(LimitPeriod.DAY, 1_000, 5_000)

    set_limit(wallet, LimitPeriod.DAY, 800, T0 + HOUR)

    assert names(wallet.collect_events()) == ["DepositLimitChanged"]
    assert wallet.deposit_limit(LimitPeriod.DAY, T0 + HOUR) == 800
    assert wallet.deposit_limit(LimitPeriod.DAY, T0 + DAY * 3) == 800


def test_given_a_matured_raise_a_lower_limit_below_it_applies_at_once():
    wallet = given_limit_change(LimitPeriod.DAY, 1_000, 5_000)

    set_limit(wallet, LimitPeriod.DAY, 3_000, T0 + DAY + HOUR)

    events = wallet.collect_events()
    assert payload(events[0])["limit_minor"] == 3_000
    assert payload(events[0])["pending_from"] is None
    assert wallet.deposit_limit(LimitPeriod.DAY, T0 + DAY + HOUR) == 3_000


def test_given_a_matured_raise_a_further_raise_waits_from_the_matured_limit():
    wallet = given_limit_change(LimitPeriod.DAY, 1_000, 5_000)

    set_limit(wallet, LimitPeriod.DAY, 8_000, T0 + DAY + HOUR)

    events = wallet.collect_events()
    assert payload(events[0])["limit_minor"] == 5_000
    assert payload(events[0])["pending_limit_minor"] == 8_000
    assert payload(events[0])["pending_from"] == T0 + DAY * 2 + HOUR
    assert wallet.deposit_limit(LimitPeriod.DAY, T0 + DAY * 2) == 5_000
    assert wallet.deposit_limit(LimitPeriod.DAY, T0 + DAY * 2 + HOUR) == 8_000


@pytest.mark.parametrize("limit", [0, -1, True, 10**15 + 1])
def test_a_limit_must_be_a_positive_integer(limit):
    wallet = given_limit(LimitPeriod.DAY, 1_000)

    with refused(wallet, InvalidAmount):
        set_limit(wallet, LimitPeriod.DAY, limit, T0)


# ---- deposit limits in force (rolling windows) ---------------------------------------------

WINDOWS = [
    (LimitPeriod.DAY, timedelta(days=1)),
    (LimitPeriod.WEEK, timedelta(days=7)),
    (LimitPeriod.MONTH, timedelta(days=30)),
]


@pytest.mark.parametrize(("period", "window"), WINDOWS)
def test_limit_windows_are_rolling_day_week_and_30_days(period, window):
    assert period.window == window


def given_deposited_600_at_t0_under(period: LimitPeriod) -> Wallet:
    wallet = given_limit(period, 1_000)
    start(wallet, "dep-1", 600, T0)
    wallet.collect_events()
    return wallet


@pytest.mark.parametrize(("period", "window"), WINDOWS)
def test_a_deposit_over_the_limit_within_the_window_is_refused(period, window):
    wallet = given_deposited_600_at_t0_under(period)

    with refused(wallet, DepositLimitExceeded):
        start(wallet, "dep-2", 401, T0 + window - SECOND)


@pytest.mark.parametrize(("period", "window"), WINDOWS)
def test_a_deposit_up_to_the_limit_within_the_window_is_accepted(period, window):
    wallet = given_deposited_600_at_t0_under(period)

    start(wallet, "dep-2", 400, T0 + window - SECOND)

    assert names(wallet.collect_events()) == ["DepositStarted"]
    assert wallet.deposited_within(window, T0 + window - SECOND) == 1_000


@pytest.mark.parametrize(("period", "window"), WINDOWS)
def test_a_deposit_leaves_the_window_once_it_is_a_full_window_old(period, window):
    wallet = given_deposited_600_at_t0_under(period)

    start(wallet, "dep-2", 1_000, T0 + window)

    assert names(wallet.collect_events()) == ["DepositStarted"]
    assert wallet.deposited_within(window, T0 + window) == 1_000


def test_a_single_deposit_above_the_limit_is_refused():
    wallet = given_limit(LimitPeriod.DAY, 1_000)

    with refused(wallet, DepositLimitExceeded):
        start(wallet, "dep-1", 1_001, T0)


def test_the_week_limit_binds_when_the_day_limit_does_not():
    wallet = given_limit(LimitPeriod.WEEK, 1_500)
    set_limit(wallet, LimitPeriod.DAY, 1_000, T0 - DAY)
    start(wallet, "dep-1", 900, T0)
    wallet.collect_events()

    with refused(wallet, DepositLimitExceeded):
        start(wallet, "dep-2", 700, T0 + DAY)


def test_a_raised_limit_is_not_usable_before_24_hours():
    wallet = given_limit_change(LimitPeriod.DAY, 1_000, 5_000)

    with refused(wallet, DepositLimitExceeded):
        start(wallet, "dep-1", 2_000, T0 + DAY - SECOND)


def test_a_raised_limit_is_usable_after_24_hours():
    wallet = given_limit_change(LimitPeriod.DAY, 1_000, 5_000)

    start(wallet, "dep-1", 5_000, T0 + DAY)

    assert names(wallet.collect_events()) == ["DepositStarted"]


def test_a_removed_limit_still_binds_for_24_hours():
    wallet = given_limit_change(LimitPeriod.DAY, 1_000, None)

    with refused(wallet, DepositLimitExceeded):
        start(wallet, "dep-1", 2_000, T0 + HOUR)


def test_a_removed_limit_stops_binding_after_24_hours():
    wallet = given_limit_change(LimitPeriod.DAY, 1_000, None)

    start(wallet, "dep-1", 50_000, T0 + DAY)

    assert names(wallet.collect_events()) == ["DepositStarted"]


def test_a_limit_lowered_below_what_was_already_deposited_blocks_further_deposits():
    wallet = given_wallet()
    start(wallet, "dep-1", 800, T0)
    set_limit(wallet, LimitPeriod.DAY, 500, T0 + HOUR)
    wallet.collect_events()

    with refused(wallet, DepositLimitExceeded):
        start(wallet, "dep-2", 100, T0 + HOUR * 2)


def test_a_reversed_deposit_keeps_counting_against_the_deposit_limit():
    wallet = given_wallet()
    set_limit(wallet, LimitPeriod.DAY, 5_000, T0)
    start(wallet, "dep-1", 5_000, T0)
    wallet.credit_deposit("dep-1", 5_000, Cause("system:sandbox", "wh-1"))
    wallet.reverse_deposit("dep-1", 5_000, Cause("system:sandbox", "cb-1"))
    wallet.collect_events()
    with refused(wallet, DepositLimitExceeded):
        start(wallet, "dep-2", 100, T0 + HOUR)
