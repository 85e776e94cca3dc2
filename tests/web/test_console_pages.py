"""The operator console's pages through the real operator app on real Postgres and Redis (the
``admin_api`` fixtures of tests/admin): sign-in with TOTP on a cookie session, the dashboard,
the withdrawal queue (and its htmx fragment), the review of a large withdrawal by two different
operators down to paid — with a reason on every action, CSRF on every form, a fresh TOTP code
to pay, and a viewer refused.

The console's client talks to http://127.0.0.1: its cookies are Secure everywhere else."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from interfaces.admin.console.kit import basis_points
from interfaces.admin.reports import pool_rtp
from tests.admin.conftest import AdminApi, StaffLogin, admin_api, admin_api_factory
from tests.admin.test_finance import funded_player, project, started_deposit, withdraw
from tests.api.support import given_pool
from tests.ledger_checks import assert_ledger_invariants

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
__all__ = ["admin_api", "admin_api_factory"]  # the operator API tests' fixtures, used here

CSRF = re.compile(r'name="csrf" value="(?P<value>[^"]+)"')
HTML = {"Accept": "text/html"}


@dataclass
class Console:
    """One browser on the console: the operator app's client with this browser's cookies."""

    admin: AdminApi
    jar: httpx.Cookies = field(default_factory=httpx.Cookies)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        client: TestClient[Any] = self.admin.client
        client.cookies = self.jar
        try:
            return client.request(method, path, follow_redirects=False, **kwargs)
        finally:
            self.jar = client.cookies

    def page(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, headers=kwargs.pop("headers", HTML), **kwargs)

    def csrf(self, path: str) -> str:
        got = self.page(path)
        assert got.status_code == 200, got.text
        found = CSRF.search(got.text)
        assert found is not None, got.text
        return found["value"]

    def submit(self, path: str, data: dict[str, str], page: str) -> httpx.Response:
        """Post the form of ``page`` as a browser would (with its CSRF token)."""
        fields = {"csrf": self.csrf(page), **data}
        return self.request("POST", path, data=fields, headers=HTML)

    def sign_in(self, op: StaffLogin, code: str | None = None) -> httpx.Response:
        fields = {"email": op.email, "password": op.password, "totp": code or self.admin.totp(op)}
        return self.submit("/login", fields, "/login")


@pytest.fixture
def browser(admin_api: AdminApi) -> Any:
    admin_api.client.base_url = httpx.URL("http://127.0.0.1")

    def make() -> Console:
        return Console(admin_api)

    return make


def state_of(admin: AdminApi, withdrawal_id: str) -> str:
    return admin.system.withdrawals.status(uuid.UUID(withdrawal_id)).state


def test_sign_in_with_totp_dashboard_and_sign_out(admin_api: AdminApi, browser: Any) -> None:
    op = admin_api.operator("finance")
    console: Console = browser()
    assert console.page("/dashboard").headers["location"] == "/login"
    login = console.page("/login")
    assert 'autocomplete="one-time-code"' in login.text
    assert login.headers["content-security-policy"].startswith("default-src 'self'")

    wrong = console.sign_in(op, code="000000")
    assert wrong.status_code == 422
    assert "That authenticator code is wrong or already used." in wrong.text

    done = console.sign_in(op)
    assert (done.status_code, done.headers["location"]) == (303, "/dashboard")
    dashboard = console.page("/dashboard")
    assert dashboard.status_code == 200
    assert "Money today" in dashboard.text
    assert "Read models" in dashboard.text
    for status in admin_api.system.projection_status():
        assert status.name in dashboard.text

    out = console.submit("/logout", {}, "/dashboard")
    assert (out.status_code, out.headers["location"]) == (303, "/login")
    assert admin_api.system.operators.session(op.operator_id, op.session_id) is not None
    assert console.page("/dashboard").headers["location"] == "/login"


def test_pages_in_simplified_chinese(admin_api: AdminApi, browser: Any) -> None:
    console: Console = browser()
    got = console.page("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert got.headers["content-language"] == "zh-Hans"
    assert "运营人员登录" in got.text
    switched = console.submit("/lang", {"lang": "en", "back": "/login"}, "/login")
    assert switched.headers["location"] == "/login"
    again = console.page("/login", headers={"Accept-Language": "zh-CN"})
    assert "Operator sign-in" in again.text


def test_a_form_without_its_csrf_token_is_refused(admin_api: AdminApi, browser: Any) -> None:
    op = admin_api.operator("finance")
    player, method = funded_player(admin_api)
    withdrawal_id = withdraw(admin_api, player, method, 5_000)
    console: Console = browser()
    refused = console.request(
        "POST",
        "/login",
        data={"email": op.email, "password": op.password, "totp": admin_api.totp(op)},
        headers=HTML,
    )
    assert refused.status_code == 403
    assert "This form is out of date" in refused.text
    console.sign_in(op)
    forged = console.request(
        "POST",
        f"/withdrawals/{withdrawal_id}/approve",
        data={"reason": "looks fine", "csrf": "0" * 64},
        headers=HTML,
    )
    assert forged.status_code == 403
    assert state_of(admin_api, withdrawal_id) == "requested"


def test_a_viewer_may_not_see_or_act_on_withdrawals(admin_api: AdminApi, browser: Any) -> None:
    viewer = admin_api.operator("viewer")
    player, method = funded_player(admin_api)
    withdrawal_id = withdraw(admin_api, player, method, 5_000)
    console: Console = browser()
    console.sign_in(viewer)
    dashboard = console.page("/dashboard")
    assert "Money today" not in dashboard.text  # no finance.read
    assert 'href="/withdrawals"' not in dashboard.text
    listing = console.page("/withdrawals")
    assert listing.status_code == 403
    assert "Your roles do not allow this." in listing.text
    acted = console.submit(f"/withdrawals/{withdrawal_id}/approve", {"reason": "x"}, "/dashboard")
    assert acted.status_code == 403
    assert state_of(admin_api, withdrawal_id) == "requested"


def test_queue_filters_as_an_htmx_fragment(admin_api: AdminApi, browser: Any) -> None:
    op = admin_api.operator("finance")
    player, method = funded_player(admin_api)
    withdrawal_id = withdraw(admin_api, player, method, 5_000)
    project(admin_api)
    console: Console = browser()
    console.sign_in(op)
    full = console.page("/withdrawals")
    assert full.text.startswith("<!doctype html>")
    assert f"/withdrawals/{withdrawal_id}" in full.text
    rows = console.page("/withdrawals?state=requested", headers={"HX-Request": "true"})
    assert rows.status_code == 200
    assert "<html" not in rows.text
    assert rows.text.lstrip().startswith("<tr>")
    assert f"/withdrawals/{withdrawal_id}" in rows.text
    paid = console.page("/withdrawals?state=paid", headers={"HX-Request": "true"})
    assert f"/withdrawals/{withdrawal_id}" not in paid.text


def test_two_operators_approve_a_large_withdrawal_then_it_is_paid(
    admin_api: AdminApi, browser: Any
) -> None:
    large = admin_api.system.settings.policy.large_withdrawal_threshold
    maker, checker = admin_api.operator("finance"), admin_api.operator("finance")
    player, method = funded_player(admin_api, large * 2)
    withdrawal_id = withdraw(admin_api, player, method, large)
    project(admin_api)
    detail = f"/withdrawals/{withdrawal_id}"
    first: Console = browser()
    first.sign_in(maker)
    page = first.page(detail)
    assert "2 different operators must approve it" in page.text
    assert 'id="reason-approve"' in page.text
    assert "required" in page.text

    no_reason = first.submit(f"{detail}/approve", {"reason": "  "}, detail)
    assert no_reason.status_code == 422
    assert "Say why" in no_reason.text
    assert state_of(admin_api, withdrawal_id) == "requested"

    assert first.submit(f"{detail}/approve", {"reason": "KYC ok"}, detail).status_code == 303
    assert "1 of 2" in first.page(detail).text
    twice = first.submit(f"{detail}/approve", {"reason": "again"}, detail)
    assert twice.status_code == 422
    assert "a different operator must approve it" in twice.text

    second: Console = browser()
    second.sign_in(checker)
    assert second.submit(f"{detail}/approve", {"reason": "checked"}, detail).status_code == 303
    assert state_of(admin_api, withdrawal_id) == "approved"
    sent = {"provider_ref": "bank-77", "reason": "sent by SEPA"}
    assert second.submit(f"{detail}/submit", sent, detail).status_code == 303

    no_code = second.submit(f"{detail}/paid", {"reason": "bank confirmed"}, detail)
    assert no_code.status_code == 403
    assert "fresh code" in no_code.text
    assert state_of(admin_api, withdrawal_id) == "submitted"
    code = admin_api.totp(checker)
    paid = second.submit(f"{detail}/paid", {"reason": "bank confirmed", "totp": code}, detail)
    assert paid.status_code == 303, paid.text
    assert state_of(admin_api, withdrawal_id) == "paid"

    project(admin_api)
    final = second.page(detail)
    assert "paid" in final.text
    assert "bank confirmed" in final.text
    assert "KYC ok" in final.text
    assert_ledger_invariants(admin_api.system.ledger)


def test_player_search_detail_and_a_freeze_with_its_reason(
    admin_api: AdminApi, browser: Any
) -> None:
    support, viewer = admin_api.operator("support"), admin_api.operator("viewer")
    player, _ = funded_player(admin_api, 12_345)
    project(admin_api)
    email = admin_api.system.read_models.player(player.player_id).email  # type: ignore[union-attr]
    assert email is not None
    console: Console = browser()
    console.sign_in(support)
    rows = console.page(f"/players?q={email[:6]}", headers={"HX-Request": "true"})
    assert f"/players/{player.player_id}" in rows.text
    assert "<html" not in rows.text
    detail = f"/players/{player.player_id}"
    page = console.page(detail)
    assert "123.45 EUR" in page.text
    assert "Nothing is frozen." in page.text

    blank = console.submit(f"{detail}/freeze", {"scope": "withdrawal", "reason": ""}, detail)
    assert blank.status_code == 422
    assert "Say why" in blank.text
    frozen = console.submit(
        f"{detail}/freeze", {"scope": "withdrawal", "reason": "chargeback risk"}, detail
    )
    assert frozen.headers["location"] == f"{detail}?done=freeze"
    project(admin_api)
    after = console.page(detail)
    assert "chargeback risk" in after.text
    assert admin_api.system.read_models.player(player.player_id).frozen == ["withdrawal"]  # type: ignore[union-attr]

    onlooker: Console = browser()
    onlooker.sign_in(viewer)
    seen = onlooker.page(detail)
    assert seen.status_code == 200
    assert 'id="unfreeze-form"' not in seen.text
    refused = onlooker.submit(
        f"{detail}/unfreeze", {"scope": "withdrawal", "reason": "please"}, detail
    )
    assert refused.status_code == 403
    assert onlooker.page("/risk").status_code == 403


def test_suspicious_players_for_risk_staff(admin_api: AdminApi, browser: Any) -> None:
    risk = admin_api.operator("risk")
    player, method = funded_player(admin_api)
    withdraw(admin_api, player, method, 5_000)  # at once after the deposit: a risk signal
    project(admin_api)
    console: Console = browser()
    console.sign_in(risk)
    page = console.page("/risk")
    assert page.status_code == 200
    assert f"/players/{player.player_id}" in page.text
    assert "withdrawal soon after a deposit \u00d7 1" in page.text


def test_a_deposit_is_confirmed_with_its_settlement_and_a_fresh_code(
    admin_api: AdminApi, browser: Any
) -> None:
    op = admin_api.operator("finance")
    player = admin_api.players.register()
    deposit_id, provider_ref = started_deposit(admin_api, player, 7_000)
    project(admin_api)
    console: Console = browser()
    console.sign_in(op)
    listing = console.page("/deposits?state=", headers={"HX-Request": "true"})
    assert f"/deposits/{deposit_id}" in listing.text
    detail = f"/deposits/{deposit_id}"
    fields = {"settlement_ref": provider_ref, "reason": "settled in the bank statement"}
    no_code = console.submit(f"{detail}/confirm", fields, detail)
    assert no_code.status_code == 403
    assert admin_api.system.deposits.status(uuid.UUID(deposit_id)).state != "credited"
    code = admin_api.totp(op)
    done = console.submit(f"{detail}/confirm", {**fields, "totp": code}, detail)
    assert done.headers["location"] == detail
    assert admin_api.system.deposits.status(uuid.UUID(deposit_id)).state == "credited"
    page = console.page(detail)
    assert 'id="reverse-form"' in page.text
    assert_ledger_invariants(admin_api.system.ledger)


def test_finance_report_chart_rtp_audit_and_settings(admin_api: AdminApi, browser: Any) -> None:
    op = admin_api.operator("finance")
    given_pool(admin_api.players)
    player, method = funded_player(admin_api, 40_000)
    drawn = admin_api.players.client.post(
        "/api/v1/pools/wheel/draws", json={"count": 2}, headers=player.money()
    )
    assert drawn.status_code == 201, drawn.text
    withdrawal_id = withdraw(admin_api, player, method, 5_000)
    project(admin_api)
    console: Console = browser()
    console.sign_in(op)

    report = console.page("/finance")
    assert report.status_code == 200
    assert '<svg viewBox="0 0 640 220" role="img"' in report.text
    bars = re.findall(r'<rect class="(gain|loss)"', report.text)
    assert len(bars) == 14  # one per day of the default range, today's last
    assert "400.00 EUR" in report.text  # today's deposits, in the totals and the table
    (pool,) = pool_rtp(admin_api.system)
    rtp_row = report.text.split('id="rtp"')[1]
    assert pool.name in rtp_row
    assert basis_points(pool.declared_rtp_bps) in rtp_row
    empty = console.page("/finance?since=2026-01-02&until=2026-01-01")
    assert empty.status_code == 400

    log = console.page(f"/audit?subject={withdrawal_id}")
    assert "Withdrawal.Requested" in log.text
    assert "Deposit." not in log.text
    assert f"/audit.csv?actor=&amp;subject={withdrawal_id}" in log.text
    rows = console.page(f"/audit.csv?subject={withdrawal_id}")
    assert rows.headers["content-type"].startswith("text/csv")
    assert rows.text.count("Withdrawal.Requested") == 1

    settings = console.page("/config")
    assert settings.status_code == 200
    key = admin_api.system.config.settings()[0].key
    assert f'href="/config/{key}"' in settings.text
    history = console.page(f"/config/{key}")
    assert "Never changed" in history.text


def test_a_prize_weight_change_is_proposed_approved_by_another_and_published(
    admin_api: AdminApi, browser: Any
) -> None:
    given_pool(admin_api.players)
    maker_op, checker_op = admin_api.operator("admin"), admin_api.operator("admin")
    viewer = admin_api.operator("viewer")
    project(admin_api)
    maker: Console = browser()
    maker.sign_in(maker_op)
    listing = maker.page("/pools")
    assert 'href="/pools/wheel"' in listing.text
    editor = maker.page("/pools/wheel")
    assert "Gem" in editor.text
    assert "Odds of the next draw" in editor.text
    revision = re.search(r'name="revision" value="([^"]+)"', editor.text)
    assert revision is not None

    fields = {"edit": "weight", "prize_id": "gem", "weight": "60", "revision": revision[1]}
    no_reason = maker.submit("/pools/wheel/changes", {**fields, "reason": ""}, "/pools/wheel")
    assert no_reason.status_code == 422
    proposed = maker.submit(
        "/pools/wheel/changes", {**fields, "reason": "more gems for the launch"}, "/pools/wheel"
    )
    assert proposed.status_code == 303, proposed.text
    change = proposed.headers["location"]
    review = maker.page(change)
    assert "waiting for approval" in review.text
    assert "Odds after publishing" in review.text
    assert 'id="approve-form"' in review.text  # an admin may approve, just never their own
    own = maker.submit(
        f"{change}/approve", {"reason": "fine", "totp": admin_api.totp(maker_op)}, change
    )
    assert own.status_code == 422
    assert "another operator must" in own.text

    onlooker: Console = browser()
    onlooker.sign_in(viewer)
    assert onlooker.page(change).status_code == 200
    refused = onlooker.submit("/pools/wheel/changes", {**fields, "reason": "x"}, "/pools/wheel")
    assert refused.status_code == 403

    checker: Console = browser()
    checker.sign_in(checker_op)
    for action in ("approve", "publish"):
        code = admin_api.totp(checker_op)
        done = checker.submit(f"{change}/{action}", {"reason": "checked", "totp": code}, change)
        assert done.status_code == 303, done.text
    assert "published" in checker.page(change).text
    gem = next(p for p in admin_api.system.pools.summary("wheel").prizes if p["prize_id"] == "gem")
    assert gem["weight"] == 60
    # A form shown before the publish carries the old revision: refused, nothing drafted.
    late = {**fields, "weight": "45", "reason": "from an old tab"}
    stale = maker.submit("/pools/wheel/changes", late, "/pools/wheel")
    assert stale.status_code == 422
    assert "The pool changed since you opened this page" in stale.text
