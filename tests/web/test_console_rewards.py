"""The console's reward centre pages through the real operator app on real Postgres and Redis:
missions listed and changed only through change requests (a reason on every proposal, the
approval and publish by another operator on the change request pages, edits against the
version shown), the marketing budget with its grants and refusals, and the roles that may not
see or change them."""

from __future__ import annotations

import re
from typing import Any

import pytest

from application.errors import NotFound
from application.missions import mission_terms
from domain.cause import Cause
from tests.admin.conftest import AdminApi, StaffLogin, admin_api, admin_api_factory
from tests.admin.test_rewards import CHECK_IN, settle
from tests.web.test_console_pages import HTML, Console, browser

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
__all__ = ["admin_api", "admin_api_factory", "browser"]  # fixtures, used here

OP = "operator:admin"
FORM = {key: str(value) for key, value in CHECK_IN.items()}


def publish(admin: AdminApi, checker: tuple[Console, StaffLogin], change: str) -> None:
    """Another operator approves and publishes the request on its page (fresh codes)."""
    console, op = checker
    for action in ("approve", "publish"):
        code = admin.totp(op)
        done = console.submit(f"{change}/{action}", {"reason": "checked", "totp": code}, change)
        assert done.status_code == 303, done.text


def signed_in(admin: AdminApi, browser: Any, role: str) -> tuple[Console, StaffLogin]:
    op = admin.operator(role)
    console: Console = browser()
    assert console.sign_in(op).status_code == 303
    return console, op


def test_a_mission_is_proposed_published_by_another_then_changed(
    admin_api: AdminApi, browser: Any
) -> None:
    maker, _ = signed_in(admin_api, browser, "admin")
    checker = signed_in(admin_api, browser, "admin")
    empty = maker.page("/missions")
    assert empty.status_code == 200, empty.text
    assert "No missions yet." in empty.text
    assert 'href="/missions" aria-current="page"' in empty.text
    create = {**FORM, "change": "create", "mission_key": "check-in"}

    no_reason = maker.submit("/missions/changes", {**create, "reason": ""}, "/missions")
    assert no_reason.status_code == 422
    assert "Say why" in no_reason.text
    bad = {**create, "target": "two", "reason": "launch"}
    not_a_number = maker.submit("/missions/changes", bad, "/missions")
    assert not_a_number.status_code == 422
    assert "Enter a whole number." in not_a_number.text
    invalid = {**create, "cadence": "one_time", "reason": "launch"}
    assert maker.submit("/missions/changes", invalid, "/missions").status_code == 422
    proposed = maker.submit("/missions/changes", {**create, "reason": "launch"}, "/missions")
    assert proposed.status_code == 303, proposed.text
    change = proposed.headers["location"]
    review = maker.page(change)
    assert "mission.create" in review.text
    assert 'href="/missions"' in review.text
    with pytest.raises(NotFound):
        admin_api.system.missions.get("check-in")  # nothing until another operator publishes

    publish(admin_api, checker, change)
    assert admin_api.system.missions.get("check-in").reward_minor == 25
    settle(admin_api)
    listing = maker.page("/missions")
    assert "Daily check-in" in listing.text
    assert 'href="/missions?edit=check-in"' in listing.text

    # New terms are drafted against the version the form showed.
    editor = maker.page("/missions?edit=check-in").text
    revision = re.search(r'name="revision" value="([^"]+)"', editor)
    assert revision is not None
    assert 'name="mission_key" required maxlength="64"' in editor
    assert 'pattern="[a-z0-9][a-z0-9_\\-]*" value="check-in"' in editor
    edit = {**create, "change": "change", "reward_minor": "40", "reason": "more"}
    blind = maker.submit("/missions/changes", edit, "/missions")
    assert blind.status_code == 422  # no revision: the form never showed this mission
    assert "Choose the mission in the list first" in blind.text
    changed = maker.submit("/missions/changes", {**edit, "revision": revision[1]}, "/missions")
    assert changed.status_code == 303, changed.text
    publish(admin_api, checker, changed.headers["location"])
    assert admin_api.system.missions.get("check-in").reward_minor == 40
    stale = maker.submit(
        "/missions/changes",
        {"change": "retire", "mission_key": "check-in", "revision": revision[1], "reason": "x"},
        "/missions",
    )
    assert stale.status_code == 422
    assert admin_api.system.missions.get("check-in").retired is False


def test_the_budget_page_shows_usage_grants_and_refusals(admin_api: AdminApi, browser: Any) -> None:
    terms = mission_terms({**CHECK_IN, "reward_minor": 60})
    admin_api.system.missions.create("check-in", terms, Cause(OP, "mission-check-in"))
    admin_api.system.rewards.fund_budget(100, Cause(OP, "fund-100"))
    for player in [admin_api.players.register() for _ in range(2)]:
        checked = admin_api.players.client.post("/api/v1/rewards/check-in", headers=player.money())
        assert checked.status_code == 201, checked.text
    settle(admin_api)
    finance, _ = signed_in(admin_api, browser, "finance")

    page = finance.page("/rewards")

    assert page.status_code == 200, page.text
    assert re.search(r'id="spent">0\.60 EUR<', page.text)
    assert re.search(r'id="remaining" class="good">0\.40 EUR<', page.text)
    assert re.search(r'id="refusal-count">1<', page.text)
    assert page.text.count('<th scope="col">When</th>') == 2  # the grants' and refusals'
    grants = page.text.split('id="grants"')[1].split("</table>")[0]
    assert grants.count("<tr><td>") == 1
    refusals = page.text.split('id="refusals"')[1].split("</table>")[0]
    assert "the budget ran out" in refusals
    assert "0.60 EUR" in refusals
    assert finance.page("/missions").status_code == 200  # finance reads missions too
    assert 'id="mission-form"' not in finance.page("/missions").text  # but may not change them


def test_a_viewer_may_not_see_the_budget_or_propose_missions(
    admin_api: AdminApi, browser: Any
) -> None:
    viewer, _ = signed_in(admin_api, browser, "viewer")
    assert 'href="/rewards"' not in viewer.page("/dashboard").text
    budget = viewer.page("/rewards")
    assert budget.status_code == 403
    assert "Your roles do not allow this." in budget.text
    assert viewer.page("/missions").status_code == 200
    fields = {**FORM, "change": "create", "mission_key": "check-in", "reason": "x"}
    refused = viewer.submit("/missions/changes", fields, "/missions")
    assert refused.status_code == 403
    assert admin_api.system.read_models.change_requests(None, None, None, 10).rows == []
    forged = viewer.request("POST", "/missions/changes", data=fields, headers=HTML)
    assert forged.status_code == 403  # no CSRF token either
