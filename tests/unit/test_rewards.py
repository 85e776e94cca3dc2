"""Reward budget, grants, check-ins and the wallet's reward credit: given earlier commands, when
one command, then these new events and postings (or this error, nothing recorded)."""

from __future__ import annotations

import pytest

from domain import ids
from domain.account import PlayerAccount
from domain.cause import Cause
from domain.errors import AccountFrozen, InvalidAmount, InvalidArgument
from domain.missions import RewardKind
from domain.postings import Posting, account_of, postings_for
from domain.rewards import (
    MARKETING,
    BudgetExhausted,
    DailyCheckIn,
    RewardBudget,
    RewardGrant,
    referral_code,
)
from domain.wallet import Balance, FreezeScope, Wallet
from tests.unit.conftest import T0, names, payload, refused

OP = Cause("operator:alice", "r1")
SYSTEM = Cause("system:rewards", "grant:g1")
SIGNUP = Cause("system:signup", "s1")


def given_budget(funded: int = 0, spent: int = 0) -> RewardBudget:
    budget = RewardBudget.open("EUR", Cause("system:rewards", "given-open"))
    if funded:
        budget.fund(funded, Cause("operator:alice", "given-fund"))
    if spent:
        budget.spend("g0", "p1", "five-a-day", spent, Cause("system:rewards", "given-spend"))
    budget.collect_events()
    return budget


def given_wallet() -> Wallet:
    wallet = Wallet.open("p1", "EUR", Cause("player:p1", "given-open"))
    wallet.collect_events()
    return wallet


# ---- the budget ----------------------------------------------------------------------------


def test_open_names_the_marketing_account():
    budget = RewardBudget.open("EUR", SYSTEM)

    assert names(budget.collect_events()) == ["Opened"]
    assert budget.id == ids.reward_budget_id(MARKETING)
    assert (budget.account, budget.funded, budget.spent, budget.remaining) == (MARKETING, 0, 0, 0)


def test_an_operator_funds_the_budget():
    budget = given_budget()

    budget.fund(10_000, OP)

    events = budget.collect_events()
    assert names(events) == ["Funded"]
    assert payload(events[0]) == {
        "amount_minor": 10_000,
        "currency": "EUR",
        "actor": "operator:alice",
        "request_id": "r1",
    }
    assert budget.remaining == 10_000


def test_only_an_operator_funds_or_defunds_and_only_positive_amounts():
    budget = given_budget(funded=1_000)

    with refused(budget, InvalidArgument):
        budget.fund(100, Cause("player:p1", "x"))
    with refused(budget, InvalidArgument):
        budget.defund(100, SYSTEM)
    with refused(budget, InvalidAmount):
        budget.fund(0, OP)


def test_defund_takes_back_only_what_is_unspent():
    budget = given_budget(funded=1_000, spent=600)

    with refused(budget, BudgetExhausted):
        budget.defund(401, OP)
    budget.defund(400, OP)

    assert names(budget.collect_events()) == ["Defunded"]
    assert (budget.funded, budget.spent, budget.remaining) == (600, 600, 0)


def test_spend_records_the_grant_and_lowers_what_remains():
    budget = given_budget(funded=1_000)

    budget.spend("g1", "p1", "five-a-day", 300, SYSTEM)

    events = budget.collect_events()
    assert names(events) == ["Spent"]
    assert payload(events[0]) == {
        "grant_id": "g1",
        "player_id": "p1",
        "source": "five-a-day",
        "amount_minor": 300,
        "currency": "EUR",
        "actor": "system:rewards",
        "request_id": "grant:g1",
    }
    assert (budget.remaining, budget.grants) == (700, 1)


def test_a_grant_that_would_overdraw_the_budget_is_refused():
    budget = given_budget(funded=1_000, spent=800)

    with refused(budget, BudgetExhausted) as refusal:
        budget.spend("g1", "p1", "five-a-day", 201, SYSTEM)

    assert refusal.value.code == "budget_exhausted"
    budget.spend("g1", "p1", "five-a-day", 200, SYSTEM)
    assert budget.remaining == 0


def test_a_refused_grant_is_recorded_for_operators_and_moves_nothing():
    budget = given_budget(funded=100)

    budget.note_refused_grant("g1", "p1", "signup", "once", 500, "budget_exhausted", SYSTEM)

    events = budget.collect_events()
    assert names(events) == ["GrantRefused"]
    assert payload(events[0])["reason"] == "budget_exhausted"
    assert postings_for(events[0]) == []
    assert (budget.remaining, budget.refusals) == (100, 1)


def test_budget_events_post_nothing_the_wallet_moves_the_money():
    budget = given_budget()
    budget.fund(1_000, OP)
    budget.spend("g1", "p1", "x", 10, SYSTEM)

    assert all(postings_for(e) == [] for e in budget.collect_events())


# ---- grants and the wallet's credit --------------------------------------------------------


def test_a_grant_is_one_stream_per_player_source_and_period():
    grant = RewardGrant.make(
        "p1", "five-a-day", "2026-01-01", RewardKind.CASH, 50, "EUR", T0, SYSTEM
    )

    events = grant.collect_events()
    assert names(events) == ["Granted"]
    assert grant.id == ids.grant_id("p1", "five-a-day", "2026-01-01")
    assert grant.id != ids.grant_id("p1", "five-a-day", "2026-01-02")
    assert payload(events[0])["reward_kind"] == "cash"


def test_a_grant_needs_its_parts_and_a_positive_amount():
    with pytest.raises(InvalidArgument):
        RewardGrant.make("p1", "", "once", RewardKind.BONUS, 50, "EUR", T0, SYSTEM)
    with pytest.raises(InvalidAmount):
        RewardGrant.make("p1", "signup", "once", RewardKind.BONUS, 0, "EUR", T0, SYSTEM)


def test_a_bonus_reward_credits_bonus_from_marketing():
    wallet = given_wallet()

    wallet.credit_reward(Balance.BONUS, 70, "grant:g1", SYSTEM)

    events = wallet.collect_events()
    assert names(events) == ["BonusCredited"]
    assert postings_for(events[0]) == [
        Posting(MARKETING, -70, "EUR"),
        Posting(account_of("p1", "bonus"), 70, "EUR"),
    ]
    assert (wallet.bonus, wallet.available) == (70, 0)


def test_a_cash_reward_credits_available_from_marketing():
    wallet = given_wallet()

    wallet.credit_reward(Balance.AVAILABLE, 70, "grant:g1", SYSTEM)

    events = wallet.collect_events()
    assert names(events) == ["CashRewardCredited"]
    assert payload(events[0]) == {
        "player_id": "p1",
        "currency": "EUR",
        "amount_minor": 70,
        "source": "grant:g1",
        "actor": "system:rewards",
        "request_id": "grant:g1",
    }
    postings = postings_for(events[0])
    assert postings == [
        Posting(MARKETING, -70, "EUR"),
        Posting(account_of("p1", "available"), 70, "EUR"),
    ]
    assert sum(p.amount_minor for p in postings) == 0
    assert wallet.available == 70


@pytest.mark.parametrize("scope", [FreezeScope.GAMEPLAY, FreezeScope.ACCOUNT])
def test_a_wallet_frozen_for_play_receives_no_reward(scope):
    wallet = given_wallet()
    wallet.freeze(scope, "review", OP)
    wallet.collect_events()

    with refused(wallet, AccountFrozen):
        wallet.credit_reward(Balance.AVAILABLE, 70, "grant:g1", SYSTEM)
    with refused(wallet, AccountFrozen):
        wallet.credit_reward(Balance.BONUS, 70, "grant:g1", SYSTEM)


def test_a_reward_needs_a_positive_amount_and_a_source():
    wallet = given_wallet()

    with refused(wallet, InvalidAmount):
        wallet.credit_reward(Balance.AVAILABLE, 0, "grant:g1", SYSTEM)
    with refused(wallet, InvalidArgument):
        wallet.credit_reward(Balance.AVAILABLE, 5, "", SYSTEM)


# ---- check-ins and referral codes ----------------------------------------------------------


def test_a_check_in_is_one_stream_per_player_and_utc_day():
    check_in = DailyCheckIn.record("p1", T0, Cause("player:p1", "c1"))

    events = check_in.collect_events()
    assert names(events) == ["Recorded"]
    assert payload(events[0])["day"] == "2026-01-01"
    assert check_in.id == ids.check_in_id("p1", "2026-01-01")


def test_a_referral_code_is_short_stable_and_per_player():
    assert referral_code("p1") == referral_code("p1")
    assert referral_code("p1") != referral_code("p2")
    assert len(referral_code("p1")) == 8
    assert "p1" not in referral_code("p1")


# ---- the offers a registration records -----------------------------------------------------


def test_registration_records_the_referrer_and_the_offers_in_force():
    account = PlayerAccount.register(
        "bob@example.org", "p2", "hash", T0, SIGNUP, "10.0.0.2", "ab12cd34", 15, 35
    )

    (registered,) = account.collect_events()
    assert {k: payload(registered)[k] for k in ("referrer", "signup_bonus", "referral_bonus")} == {
        "referrer": "ab12cd34",
        "signup_bonus": 15,
        "referral_bonus": 35,
    }
    assert account.referrer == "ab12cd34"


def test_without_a_referrer_no_referral_bonus_is_recorded():
    account = PlayerAccount.register("bob@example.org", "p2", "hash", T0, SIGNUP, "", None, 15, 35)

    (registered,) = account.collect_events()
    offers = {k: payload(registered)[k] for k in ("referrer", "signup_bonus", "referral_bonus")}
    assert offers == {"referrer": None, "signup_bonus": 15, "referral_bonus": 0}


@pytest.mark.parametrize(
    ("referrer", "bonus"), [("", 0), ("a b", 0), ("x" * 101, 0), ("ok", -1), ("ok", True)]
)
def test_a_malformed_referrer_or_bonus_is_refused(referrer, bonus):
    with pytest.raises(InvalidArgument):
        PlayerAccount.register("bob@example.org", "p2", "hash", T0, SIGNUP, "", referrer, bonus)
