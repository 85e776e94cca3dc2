"""The player's reward centre page through the real app on real Postgres and Redis: missions
with progress and state, a claim that pays once however often its form is sent, the daily
check-in, the budget's refusal and "nothing to claim" as inline messages, CSRF on every form."""

from __future__ import annotations

import re
import secrets
from typing import Any

import pytest

from domain.missions import MissionKind
from interfaces.i18n import Translations
from interfaces.player.rewards import SHOWN
from tests.api import test_rewards as api_rewards
from tests.ledger_checks import assert_ledger_invariants
from tests.web.conftest import Web
from tests.web.test_catalogues import PLAYER

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

HTMX = {"HX-Request": "true"}
CLAIM_FORM = re.compile(
    r'action="/rewards/(?P<source>[^"/]+)/claim".*?name="csrf" value="(?P<csrf>[^"]+)"'
    r'.*?name="key" value="(?P<key>[^"]+)"',
    re.DOTALL,
)
CHECK_IN_FORM = re.compile(
    r'action="/rewards/check-in".*?name="csrf" value="(?P<csrf>[^"]+)"'
    r'.*?name="key" value="(?P<key>[^"]+)"',
    re.DOTALL,
)


def given_mission(web: Web, key: str, kind: str, **terms: Any) -> None:
    """A mission the player claims, paid in cash (unless ``terms`` say otherwise)."""
    api_rewards.given_mission(
        web.api, key, kind, **{"award": "claim", "reward_kind": "cash", **terms}
    )


def claimable(web: Web, budget: int) -> str:
    """A player whose first deposit made the ``first-deposit`` mission claimable."""
    given_mission(web, "first-deposit", "first_deposit")
    api_rewards.fund(web.api, budget)
    player_id = web.register()
    web.top_up("10")
    api_rewards.settle(web.api)
    return player_id


def claim_fields(web: Web, source: str) -> dict[str, str]:
    page = web.page("/rewards")
    assert page.status_code == 200, page.text
    for form in CLAIM_FORM.finditer(page.text):
        if form["source"] == source:
            return {"csrf": form["csrf"], "key": form["key"]}
    raise AssertionError(f"no claim form for {source}: {page.text}")


def check_in_fields(web: Web) -> dict[str, str]:
    found = CHECK_IN_FORM.search(web.page("/rewards").text)
    assert found is not None
    return {"csrf": found["csrf"], "key": found["key"]}


def test_the_page_shows_missions_and_a_claim_pays_once(web: Web) -> None:
    given_mission(web, "two-draws", "draws_today", target=2, cadence="daily", award="auto")
    player_id = claimable(web, 1_000)

    page = web.page("/rewards")
    assert page.status_code == 200, page.text
    assert page.text.startswith("<!doctype html>")
    assert 'href="/rewards" aria-current="page"' in page.text
    assert "first deposit" in page.text
    assert "Draw 2 times in a day" in page.text
    assert "0 / 2" in page.text
    assert "ready to claim" in page.text
    assert len(CLAIM_FORM.findall(page.text)) == 1  # the auto mission has no claim button
    fields = claim_fields(web, "first-deposit")

    first = web.client.post("/rewards/first-deposit/claim", data=fields, headers=HTMX)
    again = web.client.post("/rewards/first-deposit/claim", data=fields, headers=HTMX)

    for answer in (first, again):
        assert answer.status_code == 200, answer.text
        assert answer.text.lstrip().startswith('<section id="rewards-panel"')
        assert "<html" not in answer.text
        assert "Paid: 0.25 EUR (cash)." in answer.text
    assert web.system.wallets.balances(player_id).available == 1_000 + 25  # paid once
    assert web.system.rewards.budget().remaining == 1_000 - 25
    web.project()
    after = web.page("/rewards").text
    assert "paid" in after
    assert CLAIM_FORM.search(after) is None
    late = web.client.post(
        "/rewards/first-deposit/claim", data={**fields, "key": secrets.token_hex(16)}
    )
    assert late.status_code == 422
    assert late.text.startswith("<!doctype html>")  # a plain form post gets the whole page
    assert "There is nothing to claim for this mission yet." in late.text
    assert web.system.wallets.balances(player_id).available == 1_000 + 25
    assert_ledger_invariants(web.system.ledger)


def test_the_daily_check_in_counts_once_a_day(web: Web) -> None:
    given_mission(web, "check-in", "daily_check_in", award="auto", reward_kind="bonus")
    api_rewards.fund(web.api, 1_000)
    player_id = web.register()
    fields = check_in_fields(web)

    done = web.client.post("/rewards/check-in", data=fields, headers=HTMX)
    assert done.status_code == 200, done.text
    assert "Checked in for 2026-01-01." in done.text
    twice = web.client.post(
        "/rewards/check-in", data={**fields, "key": secrets.token_hex(16)}, headers=HTMX
    )
    assert twice.status_code == 422
    assert '<p class="error" role="alert">' in twice.text
    assert "You have already checked in today." in twice.text

    api_rewards.settle(web.api)
    page = web.page("/rewards", headers={"Accept-Language": "zh-CN"})
    assert "今日签到" in page.text
    assert "已发放" in page.text  # the auto mission paid
    assert web.system.wallets.balances(player_id).bonus == 25


def test_an_exhausted_budget_is_an_inline_refusal_and_pays_nothing(web: Web) -> None:
    player_id = claimable(web, 10)

    refused = web.client.post(
        "/rewards/first-deposit/claim", data=claim_fields(web, "first-deposit"), headers=HTMX
    )

    assert refused.status_code == 422
    assert "The reward budget cannot pay this right now." in refused.text
    assert web.system.wallets.balances(player_id).available == 1_000
    assert web.system.rewards.budget().remaining == 10


def test_a_claim_without_its_csrf_token_is_refused(web: Web) -> None:
    player_id = claimable(web, 1_000)
    key = claim_fields(web, "first-deposit")["key"]

    for data in ({"key": key}, {"key": key, "csrf": "x.y"}):
        refused = web.client.post("/rewards/first-deposit/claim", data=data)
        assert refused.status_code == 403
        assert "This form has expired" in refused.text
    checked = web.client.post("/rewards/check-in", data={"key": key})
    assert checked.status_code == 403
    assert web.system.wallets.balances(player_id).available == 1_000
    assert web.system.rewards.budget().remaining == 1_000


def test_every_mission_kind_and_reward_state_has_a_message() -> None:
    translations = Translations(PLAYER / "locales")
    for locale in translations.locales:
        for kind in MissionKind:
            assert translations.has(f"mission.kind.{kind.value}")
        for state in ("open", *SHOWN):
            assert translations.message(locale, f"reward.state.{state}") != f"reward.state.{state}"
