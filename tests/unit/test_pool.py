"""PrizePool: given earlier commands, when one command, then these new events (or this error, none).

Also the validation of the pool's value objects, Prize and PoolControls.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from domain import ids
from domain.cause import Cause
from domain.errors import IllegalTransition, InsufficientFunds, InvalidAmount, InvalidArgument
from domain.fairness import commitment_of
from domain.pool import PoolStatus, PrizePool, UnknownPrize, WindowKey
from domain.prizes import BPS, PoolControls, Prize, PrizeKind, bucket_of, window_sum
from tests.unit.conftest import T0, names, payload, refused

OP = Cause("operator:alice", "req-1")
SEED = "s" * 64
NEXT_SEED = "n" * 64
HOUR = 3_600
DAY = 86_400


def prize(prize_id: str = "gold", **overrides: Any) -> Prize:
    values: dict[str, Any] = {
        "prize_id": prize_id,
        "name": prize_id.title(),
        "kind": "cash",
        "reward": 500,
        "weight": 10,
    }
    values.update(overrides)
    return Prize(**values)


def given_pool(
    *prizes: Prize,
    fund: int = 0,
    controls: PoolControls | None = None,
    draw_cost: int = 100,
) -> PrizePool:
    given = Cause("operator:alice", "given")
    pool = PrizePool.create(
        "wheel", "Wheel", "EUR", draw_cost, controls or PoolControls(), SEED, given
    )
    for p in prizes:
        pool.add_prize(p, given)
    if fund:
        pool.fund_from_marketing(fund, given)
    pool.collect_events()
    return pool


# ---- create --------------------------------------------------------------------------------


def test_create_records_created_with_the_commitment_not_just_the_seed():
    controls = PoolControls(rtp_target_bps=9_000, cost_min=50, cost_max=500)

    pool = PrizePool.create("wheel", "  Lucky wheel ", "EUR", 100, controls, SEED, OP)

    events = pool.collect_events()
    assert names(events) == ["Created"]
    assert payload(events[0]) == {
        "pool_key": "wheel",
        "name": "Lucky wheel",
        "currency": "EUR",
        "draw_cost": 100,
        "controls": controls.to_record(),
        "commitment": commitment_of(SEED),
        "server_seed": SEED,
        "actor": "operator:alice",
        "request_id": "req-1",
    }
    assert pool.id == ids.pool_id("wheel")
    assert pool.status == PoolStatus.OPEN.value
    assert (pool.fund, pool.prizes, pool.stock, pool.windows) == (0, {}, {}, {})
    assert pool.epoch == 1
    assert pool.commitment == commitment_of(SEED)
    assert pool.controls == controls


@pytest.mark.parametrize(
    ("pool_key", "name", "currency", "cost", "controls", "seed", "error"),
    [
        ("Wheel", "W", "EUR", 100, PoolControls(), SEED, InvalidArgument),
        ("miss", "W", "EUR", 100, PoolControls(), SEED, InvalidArgument),
        ("", "W", "EUR", 100, PoolControls(), SEED, InvalidArgument),
        ("wheel", "  ", "EUR", 100, PoolControls(), SEED, InvalidArgument),
        ("wheel", "w" * 201, "EUR", 100, PoolControls(), SEED, InvalidArgument),
        ("wheel", "W", "eur", 100, PoolControls(), SEED, InvalidAmount),
        ("wheel", "W", "EUR", 0, PoolControls(), SEED, InvalidAmount),
        ("wheel", "W", "EUR", True, PoolControls(), SEED, InvalidAmount),
        ("wheel", "W", "EUR", 49, PoolControls(cost_min=50), SEED, InvalidArgument),
        ("wheel", "W", "EUR", 501, PoolControls(cost_max=500), SEED, InvalidArgument),
        ("wheel", "W", "EUR", 100, PoolControls(), "s" * 31, InvalidArgument),
    ],
)
def test_create_refuses_bad_input(pool_key, name, currency, cost, controls, seed, error):
    with pytest.raises(error):
        PrizePool.create(pool_key, name, currency, cost, controls, seed, OP)


def test_create_accepts_a_cost_on_the_bounds_and_a_32_character_seed():
    controls = PoolControls(cost_min=50, cost_max=500)
    for cost in (50, 500):
        pool = PrizePool.create("wheel", "W", "EUR", cost, controls, "x" * 32, OP)
        assert pool.draw_cost == cost


# ---- add_prize -----------------------------------------------------------------------------


def test_add_prize_records_the_prize_and_its_stock():
    pool = given_pool()

    pool.add_prize(prize("gold", stock=3), OP)

    events = pool.collect_events()
    assert names(events) == ["PrizeAdded"]
    assert payload(events[0]) == {
        "prize": prize("gold", stock=3).to_record(),
        "actor": "operator:alice",
        "request_id": "req-1",
    }
    assert pool.stock == {"gold": 3}
    assert pool.prize_table() == [prize("gold", stock=3)]


def test_add_prize_with_unlimited_stock_and_prize_table_is_ordered_by_id():
    pool = given_pool()

    pool.add_prize(prize("zinc"), OP)
    pool.add_prize(prize("amber", kind="bonus"), OP)

    assert names(pool.collect_events()) == ["PrizeAdded", "PrizeAdded"]
    assert pool.stock == {"zinc": None, "amber": None}
    assert [p.prize_id for p in pool.prize_table()] == ["amber", "zinc"]


def test_add_prize_refuses_a_duplicate_id():
    pool = given_pool(prize("gold"))
    with refused(pool, InvalidArgument):
        pool.add_prize(prize("gold", reward=1), OP)


def test_add_prize_refuses_on_a_closed_pool():
    pool = given_pool()
    pool.close("done", OP)
    pool.collect_events()
    with refused(pool, IllegalTransition):
        pool.add_prize(prize("gold"), OP)


# ---- change_prize --------------------------------------------------------------------------


def test_change_prize_edits_the_prize_but_never_the_stock():
    pool = given_pool(prize("gold", stock=5))
    pool.restock("gold", 2, OP)
    pool.record_draws(["d1"], ["gold"], 1, T0, OP)
    pool.collect_events()
    assert pool.stock == {"gold": 6}

    pool.change_prize(prize("gold", name="Golden", reward=700, weight=3, stock=99), OP)

    events = pool.collect_events()
    assert names(events) == ["PrizeChanged"]
    recorded = payload(events[0])["prize"]
    assert recorded["stock"] == 5  # the declared stock, not the 99 sent with the change
    assert (recorded["name"], recorded["reward"], recorded["weight"]) == ("Golden", 700, 3)
    assert pool.stock == {"gold": 6}
    assert pool.prize_table()[0].reward == 700


def test_change_prize_refuses_an_unknown_prize():
    pool = given_pool(prize("gold"))
    with refused(pool, UnknownPrize):
        pool.change_prize(prize("silver"), OP)


def test_change_prize_refuses_on_a_closed_pool():
    pool = given_pool(prize("gold"))
    pool.close("done", OP)
    pool.collect_events()
    with refused(pool, IllegalTransition):
        pool.change_prize(prize("gold", reward=1), OP)


# ---- restock -------------------------------------------------------------------------------


def test_restock_adds_to_the_current_stock():
    pool = given_pool(prize("gold", stock=1))
    pool.record_draws(["d1"], ["gold"], 1, T0, OP)
    pool.collect_events()
    assert pool.stock == {"gold": 0}

    pool.restock("gold", 4, OP)

    events = pool.collect_events()
    assert names(events) == ["Restocked"]
    assert payload(events[0]) == {
        "prize_id": "gold",
        "added": 4,
        "actor": "operator:alice",
        "request_id": "req-1",
    }
    assert pool.stock == {"gold": 4}


def test_restock_refuses_an_unlimited_prize():
    pool = given_pool(prize("gold"))
    with refused(pool, InvalidArgument):
        pool.restock("gold", 1, OP)


def test_restock_refuses_an_unknown_prize():
    pool = given_pool(prize("gold", stock=1))
    with refused(pool, UnknownPrize):
        pool.restock("silver", 1, OP)


@pytest.mark.parametrize("added", [0, -1, True, 1.0])
def test_restock_refuses_a_non_positive_amount(added):
    pool = given_pool(prize("gold", stock=1))
    with refused(pool, InvalidAmount):
        pool.restock("gold", added, OP)


def test_restock_refuses_on_a_closed_pool():
    pool = given_pool(prize("gold", stock=1))
    pool.close("done", OP)
    pool.collect_events()
    with refused(pool, IllegalTransition):
        pool.restock("gold", 1, OP)


# ---- retire_prize --------------------------------------------------------------------------


def test_retire_prize_removes_it_from_the_table_and_the_stock():
    pool = given_pool(prize("gold", stock=2), prize("silver"))

    pool.retire_prize("gold", OP)

    events = pool.collect_events()
    assert names(events) == ["PrizeRetired"]
    assert payload(events[0]) == {
        "prize_id": "gold",
        "actor": "operator:alice",
        "request_id": "req-1",
    }
    assert list(pool.prizes) == ["silver"]
    assert pool.stock == {"silver": None}


def test_retire_prize_refuses_an_unknown_prize():
    pool = given_pool(prize("gold"))
    with refused(pool, UnknownPrize):
        pool.retire_prize("silver", OP)


def test_retire_prize_refuses_on_a_closed_pool():
    pool = given_pool(prize("gold"))
    pool.close("done", OP)
    pool.collect_events()
    with refused(pool, IllegalTransition):
        pool.retire_prize("gold", OP)


# ---- set_controls / set_draw_cost ----------------------------------------------------------


def test_set_controls_records_the_whole_control_record():
    pool = given_pool()
    controls = PoolControls(min_reserve=1_000, max_payout_per_hour=5_000, pity_streak=3)

    pool.set_controls(controls, OP)

    events = pool.collect_events()
    assert names(events) == ["ControlsChanged"]
    assert payload(events[0]) == {
        "controls": controls.to_record(),
        "actor": "operator:alice",
        "request_id": "req-1",
    }
    assert pool.controls == controls


@pytest.mark.parametrize("controls", [PoolControls(cost_min=101), PoolControls(cost_max=99)])
def test_set_controls_refuses_a_cost_range_without_the_current_cost(controls):
    pool = given_pool(draw_cost=100)
    with refused(pool, InvalidArgument):
        pool.set_controls(controls, OP)


def test_set_controls_refuses_on_a_closed_pool():
    pool = given_pool()
    pool.close("done", OP)
    pool.collect_events()
    with refused(pool, IllegalTransition):
        pool.set_controls(PoolControls(), OP)


@pytest.mark.parametrize("cost", [50, 120, 200])
def test_set_draw_cost_within_the_clamp(cost):
    pool = given_pool(controls=PoolControls(cost_min=50, cost_max=200))

    pool.set_draw_cost(cost, OP)

    events = pool.collect_events()
    assert names(events) == ["DrawCostChanged"]
    assert payload(events[0]) == {
        "draw_cost": cost,
        "actor": "operator:alice",
        "request_id": "req-1",
    }
    assert pool.draw_cost == cost


@pytest.mark.parametrize(
    ("cost", "error"),
    [(49, InvalidArgument), (201, InvalidArgument), (0, InvalidAmount), (-5, InvalidAmount)],
)
def test_set_draw_cost_refuses_a_cost_outside_the_clamp(cost, error):
    pool = given_pool(controls=PoolControls(cost_min=50, cost_max=200))
    with refused(pool, error):
        pool.set_draw_cost(cost, OP)


def test_set_draw_cost_refuses_on_a_closed_pool():
    pool = given_pool()
    pool.close("done", OP)
    pool.collect_events()
    with refused(pool, IllegalTransition):
        pool.set_draw_cost(150, OP)


# ---- fund_from_marketing / defund ----------------------------------------------------------


def test_fund_from_marketing_adds_to_the_fund():
    pool = given_pool(fund=300)

    pool.fund_from_marketing(700, OP)

    events = pool.collect_events()
    assert names(events) == ["Funded"]
    assert payload(events[0]) == {
        "pool_key": "wheel",
        "currency": "EUR",
        "amount_minor": 700,
        "actor": "operator:alice",
        "request_id": "req-1",
    }
    assert pool.fund == 1_000


@pytest.mark.parametrize("amount", [0, -1, True, 10**15 + 1])
def test_fund_from_marketing_refuses_a_bad_amount(amount):
    pool = given_pool()
    with refused(pool, InvalidAmount):
        pool.fund_from_marketing(amount, OP)


def test_fund_from_marketing_refuses_on_a_closed_pool():
    pool = given_pool()
    pool.close("done", OP)
    pool.collect_events()
    with refused(pool, IllegalTransition):
        pool.fund_from_marketing(100, OP)


@pytest.mark.parametrize("amount", [1, 999, 1_000])
def test_defund_returns_part_of_the_fund(amount):
    pool = given_pool(fund=1_000)

    pool.defund(amount, OP)

    events = pool.collect_events()
    assert names(events) == ["Defunded"]
    assert payload(events[0]) == {
        "pool_key": "wheel",
        "currency": "EUR",
        "amount_minor": amount,
        "actor": "operator:alice",
        "request_id": "req-1",
    }
    assert pool.fund == 1_000 - amount


def test_defund_refuses_more_than_the_fund():
    pool = given_pool(fund=1_000)
    with refused(pool, InsufficientFunds):
        pool.defund(1_001, OP)


@pytest.mark.parametrize("amount", [0, -1, True])
def test_defund_refuses_a_bad_amount(amount):
    pool = given_pool(fund=1_000)
    with refused(pool, InvalidAmount):
        pool.defund(amount, OP)


# ---- pause / resume / close ----------------------------------------------------------------


def test_pause_then_resume():
    pool = given_pool()

    pool.pause("  maintenance ", OP)

    events = pool.collect_events()
    assert names(events) == ["Paused"]
    assert payload(events[0]) == {
        "reason": "maintenance",
        "actor": "operator:alice",
        "request_id": "req-1",
    }
    assert pool.status == PoolStatus.PAUSED.value

    pool.resume("done", OP)

    events = pool.collect_events()
    assert names(events) == ["Resumed"]
    assert payload(events[0])["reason"] == "done"
    assert pool.status == PoolStatus.OPEN.value


def test_close_returns_the_whole_fund_to_marketing():
    pool = given_pool(fund=2_500)

    pool.close("season over", OP)

    events = pool.collect_events()
    assert names(events) == ["Closed"]
    assert payload(events[0]) == {
        "pool_key": "wheel",
        "currency": "EUR",
        "amount_minor": 2_500,
        "reason": "season over",
        "actor": "operator:alice",
        "request_id": "req-1",
    }
    assert pool.status == PoolStatus.CLOSED.value
    assert pool.fund == 0


def test_close_a_paused_pool():
    pool = given_pool()
    pool.pause("hold", OP)
    pool.collect_events()

    pool.close("done", OP)

    assert names(pool.collect_events()) == ["Closed"]
    assert pool.status == PoolStatus.CLOSED.value


def _in_status(status: PoolStatus) -> PrizePool:
    pool = given_pool()
    if status is not PoolStatus.OPEN:
        pool.pause("hold", OP)
    if status is PoolStatus.CLOSED:
        pool.close("done", OP)
    pool.collect_events()
    assert pool.status == status.value
    return pool


@pytest.mark.parametrize(
    ("status", "command"),
    [
        (PoolStatus.PAUSED, "pause"),
        (PoolStatus.CLOSED, "pause"),
        (PoolStatus.OPEN, "resume"),
        (PoolStatus.CLOSED, "resume"),
        (PoolStatus.CLOSED, "close"),
    ],
)
def test_illegal_lifecycle_transitions_are_refused(status, command):
    pool = _in_status(status)
    with refused(pool, IllegalTransition):
        getattr(pool, command)("why", OP)


@pytest.mark.parametrize("command", ["pause", "close"])
def test_lifecycle_commands_need_a_reason(command):
    pool = given_pool()
    with refused(pool, InvalidArgument):
        getattr(pool, command)("   ", OP)


def test_resume_needs_a_reason():
    pool = _in_status(PoolStatus.PAUSED)
    with refused(pool, InvalidArgument):
        pool.resume("", OP)


# ---- rotate_epoch --------------------------------------------------------------------------


def test_rotate_epoch_reveals_the_old_seed_and_commits_to_the_new():
    pool = given_pool()

    pool.rotate_epoch(NEXT_SEED, OP)

    events = pool.collect_events()
    assert names(events) == ["EpochRotated"]
    assert payload(events[0]) == {
        "revealed_epoch": 1,
        "revealed_seed": SEED,
        "epoch": 2,
        "commitment": commitment_of(NEXT_SEED),
        "server_seed": NEXT_SEED,
        "actor": "operator:alice",
        "request_id": "req-1",
    }
    assert commitment_of(SEED) != commitment_of(NEXT_SEED)
    assert (pool.epoch, pool.commitment, pool.server_seed) == (
        2,
        commitment_of(NEXT_SEED),
        NEXT_SEED,
    )

    pool.rotate_epoch("m" * 64, OP)

    event = payload(pool.collect_events()[0])
    assert (event["revealed_epoch"], event["revealed_seed"], event["epoch"]) == (2, NEXT_SEED, 3)
    assert event["commitment"] == commitment_of("m" * 64)
    assert pool.epochs() == [
        (1, commitment_of(SEED), SEED),
        (2, commitment_of(NEXT_SEED), NEXT_SEED),
        (3, commitment_of("m" * 64), None),
    ]


def test_a_new_pool_has_one_unrevealed_epoch():
    assert given_pool().epochs() == [(1, commitment_of(SEED), None)]


@pytest.mark.parametrize("seed", [SEED, "n" * 31, ""])
def test_rotate_epoch_refuses_a_short_or_repeated_seed(seed):
    pool = given_pool()
    with refused(pool, InvalidArgument):
        pool.rotate_epoch(seed, OP)


# ---- record_draws --------------------------------------------------------------------------


def test_record_draws_takes_stock_fund_and_windows():
    controls = PoolControls(big_prize_min=1_000)
    pool = given_pool(
        prize("big", reward=1_000, stock=3, budget=10_000),
        prize("small", reward=50),
        fund=5_000,
        controls=controls,
    )

    pool.record_draws(["d1", "d2"], ["big", "small", "small"], 7, T0, OP)

    events = pool.collect_events()
    assert names(events) == ["DrawsSettled"]
    assert payload(events[0]) == {
        "draw_ids": ["d1", "d2"],
        "wins": ["big", "small", "small"],
        "draws": 7,
        "at": T0,
        "actor": "operator:alice",
        "request_id": "req-1",
    }
    assert pool.fund == 5_000 - 1_100
    assert pool.stock == {"big": 2, "small": None}
    working = pool.working()
    assert working.window(WindowKey.PAYOUT_HOUR.value, T0, HOUR) == 1_100
    assert working.window(WindowKey.BIG_HOUR.value, T0, HOUR) == 1
    assert working.window(WindowKey.BIG_DAY.value, T0, DAY) == 1
    assert working.budget_used(prize("big", reward=1_000, budget=10_000), T0) == 1_000
    assert pool.windows[WindowKey.PAYOUT_HOUR.value] == {bucket_of(T0, HOUR): 1_100}


def test_record_draws_windows_roll_off():
    pool = given_pool(prize("small", reward=50), fund=5_000)
    pool.record_draws(["d1"], ["small"], 1, T0, OP)
    later = T0 + timedelta(hours=2)

    pool.record_draws(["d2"], ["small", "small"], 2, later, OP)

    assert names(pool.collect_events()) == ["DrawsSettled", "DrawsSettled"]
    # The first win left the hourly window, and its bucket was dropped with it.
    assert pool.working().window(WindowKey.PAYOUT_HOUR.value, later, HOUR) == 100
    assert pool.windows[WindowKey.PAYOUT_HOUR.value] == {bucket_of(later, HOUR): 100}
    assert window_sum(pool.windows[WindowKey.PAYOUT_HOUR.value], T0, HOUR) == 100
    assert pool.fund == 5_000 - 150


def test_record_draws_with_no_wins_still_records_the_batch():
    pool = given_pool(prize("small", reward=50), fund=5_000)

    pool.record_draws(["d1"], [], 0, T0, OP)

    assert names(pool.collect_events()) == ["DrawsSettled"]
    assert pool.fund == 5_000
    assert pool.windows == {}


@pytest.mark.parametrize(("draw_ids", "draws"), [([], 1), (["d1"], -1)])
def test_record_draws_refuses_an_empty_batch(draw_ids, draws):
    pool = given_pool(prize("small", reward=50), fund=5_000)
    with refused(pool, InvalidArgument):
        pool.record_draws(draw_ids, [], draws, T0, OP)


def test_working_is_a_copy():
    pool = given_pool(prize("gold", stock=2), fund=1_000)

    pool.record_draws(["d1"], ["gold"], 1, T0, OP)
    pool.collect_events()

    working = pool.working()
    working.fund -= 500
    working.stock["gold"] = 0
    working.windows[WindowKey.PAYOUT_HOUR.value][bucket_of(T0, HOUR)] += 500

    assert (pool.fund, pool.stock) == (500, {"gold": 1})
    assert pool.windows == {WindowKey.PAYOUT_HOUR.value: {bucket_of(T0, HOUR): 500}}


# ---- Prize ---------------------------------------------------------------------------------


def test_prize_round_trips_through_its_record():
    p = prize("gold", kind=PrizeKind.BONUS.value, stock=0, budget=10, pool_threshold=5)
    assert Prize.from_record(p.to_record()) == p
    assert Prize.from_record({**p.to_record(), "ignored": 1}) == p


@pytest.mark.parametrize(
    "overrides",
    [
        {"prize_id": "Gold"},
        {"prize_id": "miss"},
        {"prize_id": "-gold"},
        {"prize_id": "g" * 64},
        {"name": " "},
        {"name": "n" * 201},
        {"kind": "points"},
        {"kind": "CASH"},
        {"reward": 0},
        {"reward": -1},
        {"reward": 10**15 + 1},
        {"reward": 1.5},
        {"reward": True},
        {"weight": 0},
        {"weight": -3},
        {"weight": 10**12 + 1},
        {"stock": -1},
        {"stock": 10**9 + 1},
        {"budget": 0},
        {"budget_window_s": 59},
        {"budget_window_s": 366 * DAY + 1},
        {"pool_threshold": -1},
        {"player_threshold": -1},
    ],
)
def test_prize_refuses_bad_values(overrides):
    values = {"prize_id": "gold", "name": "Gold", "kind": "cash", "reward": 500, "weight": 10}
    with pytest.raises(InvalidArgument):
        Prize(**{**values, **overrides})


def test_prize_accepts_the_bounds():
    p = prize("g" * 63, reward=1, weight=10**12, stock=0, budget_window_s=60)
    assert (p.reward, p.weight, p.stock) == (1, 10**12, 0)


# ---- PoolControls --------------------------------------------------------------------------


def test_controls_defaults_cap_nothing():
    controls = PoolControls()
    assert controls.max_single_payout_bps == BPS
    assert controls.max_payout_per_hour is None
    assert controls.min_reserve == 0
    assert controls.miss_weight == 0
    assert controls.is_big(10**15) is False


def test_controls_round_trip_and_is_big():
    controls = PoolControls(big_prize_min=1_000, big_prize_cap_day=2, pity_streak=5)
    assert PoolControls.from_record(controls.to_record()) == controls
    assert "extra" not in controls.to_record()
    assert controls.is_big(1_000) is True
    assert controls.is_big(999) is False


def test_controls_refuse_unknown_controls_from_a_record():
    with pytest.raises(InvalidArgument, match="unknown controls"):
        PoolControls.from_record({**PoolControls().to_record(), "jackpot_boost": 3})
    with pytest.raises(InvalidArgument):
        PoolControls(extra={"x": 1})


@pytest.mark.parametrize(
    "overrides",
    [
        {"rtp_target_bps": 0},
        {"rtp_target_bps": BPS + 1},
        {"miss_weight": -1},
        {"cost_min": 0},
        {"cost_min": 100, "cost_max": 99},
        {"min_reserve": -1},
        {"max_single_payout_bps": 0},
        {"max_single_payout_bps": BPS + 1},
        {"max_payout_per_hour": 0},
        {"big_prize_min": 0},
        {"big_prize_cap_hour": -1},
        {"big_prize_cap_day": -1},
        {"player_win_cooldown_s": -1},
        {"player_daily_draw_limit": 0},
        {"player_draw_cooldown_s": DAY + 1},
        {"pity_streak": 0},
        {"pity_boost_bps": BPS + 1},
        {"pity_max_boost_bps": -1},
        {"max_multi_draw": 0},
        {"max_multi_draw": 101},
        {"rtp_target_bps": 9_500.0},
        {"min_reserve": False},
    ],
)
def test_controls_refuse_bad_values(overrides):
    with pytest.raises(InvalidArgument):
        PoolControls(**overrides)


def test_rotate_epoch_refuses_a_seed_revealed_in_an_earlier_epoch():
    pool = given_pool()
    pool.rotate_epoch(NEXT_SEED, OP)
    pool.collect_events()
    with refused(pool, InvalidArgument):
        pool.rotate_epoch(SEED, Cause("operator:alice", "req-again"))


def test_a_retired_then_re_added_prize_starts_with_an_empty_budget():
    budgeted = prize(budget=500, budget_window_s=DAY)
    pool = given_pool(budgeted, fund=10_000)
    pool.record_draws(["d1"], ["gold"], 1, T0, OP)
    pool.retire_prize("gold", OP)
    pool.add_prize(budgeted, OP)
    pool.collect_events()
    assert pool.working().budget_used(budgeted, T0) == 0


# ---- rename --------------------------------------------------------------------------------


def test_rename_records_the_new_name_without_its_blanks():
    pool = given_pool()

    pool.rename("  Golden wheel ", OP)

    events = pool.collect_events()
    assert names(events) == ["Renamed"]
    assert payload(events[0]) == {
        "name": "Golden wheel",
        "actor": "operator:alice",
        "request_id": "req-1",
    }
    assert pool.name == "Golden wheel"
    assert pool.pool_key == "wheel"


@pytest.mark.parametrize("name", ["", "   ", "x" * 201, "Wheel", " Wheel "])
def test_rename_refuses_a_blank_long_or_unchanged_name(name):
    pool = given_pool()

    with refused(pool, InvalidArgument):
        pool.rename(name, OP)


def test_rename_refuses_on_a_closed_pool():
    pool = given_pool()
    pool.close("done", OP)
    pool.collect_events()

    with refused(pool, IllegalTransition):
        pool.rename("Another", OP)
