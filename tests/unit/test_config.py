"""RuntimeConfig: given earlier changes, when a setting changes, then SettingChanged (or
config_invalid and nothing recorded); and the Config use cases over the embedded system."""

from __future__ import annotations

import uuid

import pytest

from application.config import Config, policy_source
from domain.cause import Cause
from domain.config import SETTINGS, ConfigInvalid, ConfigValues, RuntimeConfig, check_setting
from domain.policy import MoneyPolicy
from infrastructure.bootstrap import System
from tests.unit.conftest import names, payload, refused

DEFAULTS = ConfigValues.of(MoneyPolicy(), rate_ip=1_200, rate_player=600)
MAKER = Cause("operator:alice", "req-1", "tighten limits")


def given_config(**changes: bool | int) -> RuntimeConfig:
    config = RuntimeConfig.open(Cause("operator:alice", "given-open"))
    for n, (key, value) in enumerate(changes.items()):
        config.change(key, value, DEFAULTS, f"given-{n}", Cause("operator:bob", f"given-{n}"))
    config.collect_events()
    return config


# ---- check_setting -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("draws_enabled", 1),
        ("draws_enabled", "false"),
        ("maintenance_mode", None),
        ("deposit_min", True),
        ("deposit_min", 0),
        ("deposit_min", -5),
        ("deposit_min", 10.0),
        ("deposit_max", 10**15 + 1),
        ("rate_ip_per_minute", 0),
        ("rate_player_per_minute", 1_000_001),
        ("no_such_setting", True),
    ],
)
def test_check_setting_refuses_a_wrong_type_range_or_key(key, value):
    with pytest.raises(ConfigInvalid) as excinfo:
        check_setting(key, value)
    assert excinfo.value.code == "config_invalid"


def test_check_setting_accepts_each_types_values():
    assert check_setting("draws_enabled", False) is False
    assert check_setting("deposit_max", 10**15) == 10**15
    assert check_setting("rate_ip_per_minute", 1) == 1


def test_every_setting_has_a_default():
    assert set(DEFAULTS.as_dict()) == set(SETTINGS)


def test_defaults_come_from_the_deployments_policy_and_rates():
    policy = MoneyPolicy(deposit_min=500, withdrawal_daily_cap=9_000)
    values = ConfigValues.of(policy, rate_ip=7, rate_player=3)
    assert values.deposit_min == 500
    assert values.withdrawal_daily_cap == 9_000
    assert (values.rate_ip_per_minute, values.rate_player_per_minute) == (7, 3)
    assert values.draws_enabled is True
    assert values.maintenance_mode is False


# ---- change ------------------------------------------------------------------------------


def test_change_records_the_value_and_the_one_it_replaced():
    config = given_config()

    config.change("deposit_max", 50_000, DEFAULTS, "change-1", MAKER)

    events = config.collect_events()
    assert names(events) == ["SettingChanged"]
    assert payload(events[0]) == {
        "key": "deposit_max",
        "value": 50_000,
        "previous": 1_000_000,
        "change_id": "change-1",
        "reason": "tighten limits",
        "actor": "operator:alice",
        "request_id": "req-1",
    }
    assert config.values(DEFAULTS).deposit_max == 50_000
    assert config.version_of("deposit_max") == 1
    assert config.version_of("deposit_min") == 0


def test_a_second_change_replaces_the_first_and_counts_the_keys_version():
    config = given_config(draws_enabled=False)

    config.change("draws_enabled", True, DEFAULTS, "change-2", MAKER)

    events = config.collect_events()
    assert payload(events[0])["previous"] is False
    assert config.values(DEFAULTS).draws_enabled is True
    assert config.version_of("draws_enabled") == 2


def test_an_unchanged_setting_keeps_its_default_even_when_the_default_moves():
    config = given_config(deposit_max=50_000)
    moved = ConfigValues.of(MoneyPolicy(deposit_min=200), 1_200, 600)

    assert config.values(moved).deposit_min == 200
    assert config.values(moved).deposit_max == 50_000


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("deposit_min", 2_000_000),  # above deposit_max (1,000,000)
        ("deposit_max", 50),  # below deposit_min (100)
        ("withdrawal_min", 1_000_001),  # above withdrawal_max
        ("withdrawal_daily_cap", 99),  # below withdrawal_min
        ("draws_enabled", "no"),
        ("unknown", 1),
    ],
)
def test_change_refuses_a_value_that_breaks_a_rule_and_records_nothing(key, value):
    config = given_config()

    with refused(config, ConfigInvalid):
        config.change(key, value, DEFAULTS, "change-1", MAKER)


def test_change_checks_the_rules_against_the_other_settings_current_values():
    config = given_config(deposit_max=500)

    with refused(config, ConfigInvalid) as excinfo:
        config.change("deposit_min", 600, DEFAULTS, "change-1", MAKER)
    assert "deposit_min" in excinfo.value.message

    config.change("deposit_min", 500, DEFAULTS, "change-2", MAKER)
    assert config.values(DEFAULTS).deposit_min == 500


def test_change_to_the_current_value_is_refused():
    config = given_config(maintenance_mode=True)

    with refused(config, ConfigInvalid):
        config.change("maintenance_mode", True, DEFAULTS, "change-1", MAKER)


def test_money_policy_of_the_values_carries_every_limit():
    values = DEFAULTS.overlaid({"withdrawal_max": 5_000, "large_withdrawal_threshold": 2_000})
    policy = values.money_policy("GBP")
    assert policy == MoneyPolicy(
        currency="GBP",
        withdrawal_max=5_000,
        large_withdrawal_threshold=2_000,
    )


# ---- the Config use cases ----------------------------------------------------------------


def publish(system: System, key: str, value: bool | int) -> None:
    """A config.set change request through maker-checker (the only way values change)."""
    cause = Cause("operator:maker", f"draft-{key}-{value}", "because")
    revision = system.config.setting(key).revision
    change = system.changes.draft("config.set", key, {"value": value}, revision, cause)
    change_id = uuid.UUID(change.change_id)
    system.changes.submit(change_id, Cause("operator:maker", f"submit-{key}-{value}", "please"))
    checker = Cause("operator:checker", f"approve-{key}-{value}", "fine")
    system.changes.approve(change_id, checker)
    system.changes.publish(change_id, Cause("operator:checker", f"pub-{key}-{value}", "go"))


def test_settings_start_at_the_defaults_with_version_zero(embedded: System):
    views = {v.key: v for v in embedded.config.settings()}
    assert set(views) == set(SETTINGS)
    assert views["deposit_max"].value == embedded.settings.policy.deposit_max
    assert views["deposit_max"].default == embedded.settings.policy.deposit_max
    assert views["deposit_max"].version == 0
    assert views["deposit_max"].revision == "v0"
    assert views["rate_ip_per_minute"].value == embedded.settings.rate_ip_per_minute


def test_a_published_change_is_the_current_value_and_in_the_keys_history(embedded: System):
    publish(embedded, "deposit_max", 40_000)
    publish(embedded, "deposit_max", 30_000)
    publish(embedded, "draws_enabled", False)

    setting = embedded.config.setting("deposit_max")
    assert (setting.value, setting.version, setting.default) == (30_000, 2, 1_000_000)
    assert embedded.config.values().draws_enabled is False
    history = embedded.config.history("deposit_max")
    assert [(h.value, h.previous, h.version) for h in history] == [
        (30_000, 40_000, 2),
        (40_000, 1_000_000, 1),
    ]
    assert history[0].actor == "operator:checker"
    assert history[0].reason == "go"
    assert embedded.config.history("deposit_min") == []


def test_the_money_policy_in_force_follows_published_changes(embedded: System):
    publish(embedded, "withdrawal_max", 9_000)
    assert embedded.config.money_policy().withdrawal_max == 9_000
    assert embedded.config.money_policy().currency == embedded.settings.policy.currency


def test_cached_values_are_reused_until_they_are_older_than_max_age(embedded: System):
    now = [100.0]
    config = Config(embedded.commands, embedded.config.defaults, "EUR", 2.0, lambda: now[0])
    first = config.cached()
    publish(embedded, "login_enabled", False)  # published by another Config: no forget() here

    now[0] += 1.9
    assert config.cached() is first
    now[0] += 0.2
    assert config.cached().login_enabled is False


def test_a_publish_through_the_systems_changes_refreshes_its_cache_at_once(embedded: System):
    assert embedded.config.cached().deposits_enabled is True
    publish(embedded, "deposits_enabled", False)
    assert embedded.config.cached().deposits_enabled is False


def test_unknown_keys_are_not_found(embedded: System):
    from application.errors import NotFound

    with pytest.raises(NotFound):
        embedded.config.setting("nope")
    with pytest.raises(NotFound):
        embedded.config.history("nope")


def test_policy_source_wraps_fixed_limits_and_passes_a_source_through():
    fixed = MoneyPolicy(deposit_min=300)
    assert policy_source(fixed)() is fixed
    source = lambda: fixed  # noqa: E731
    assert policy_source(source) is source


def test_deposits_and_withdrawals_apply_the_limits_in_force(embedded: System):
    from domain.errors import AmountOutOfRange

    embedded.wallets.open("p1", Cause("player:p1", "open"))
    embedded.deposits.request("p1", 6_000, "EUR", "sandbox", Cause("player:p1", "dep-1"))
    publish(embedded, "deposit_max", 5_000)
    publish(embedded, "large_withdrawal_threshold", 150)

    with pytest.raises(AmountOutOfRange):
        embedded.deposits.request("p1", 6_000, "EUR", "sandbox", Cause("player:p1", "dep-2"))
    deposit = embedded.deposits.request("p1", 5_000, "EUR", "sandbox", Cause("player:p1", "d3"))
    embedded.deposits.confirm(
        uuid.UUID(deposit.deposit_id), "ref-3", Cause("system:sandbox", "wh-3")
    )
    withdrawal = embedded.withdrawals.request(
        "p1", 200, "EUR", "bank:x", Cause("player:p1", "wd-1")
    )
    assert withdrawal.approvals_required == 2  # 200 is large under the published threshold
