"""The player web pages through the real app on real Postgres and Redis: pages render, htmx
gets fragments, every form needs its CSRF token, refusals show the catalogue's message, the
locale switches, and money forms run once however often they are sent."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from domain.cause import Cause
from domain.policy import MoneyPolicy
from tests.web.conftest import OP, Web, given_pool

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

HTMX = {"HX-Request": "true"}
IBAN = "DE89370400440532013000"


def test_the_main_pages_render_for_a_signed_in_player(web: Web) -> None:
    given_pool(web.system)
    web.register()
    web.top_up("50")
    web.project()

    pages = {
        "/wallet": "50.00 EUR",
        "/deposit": 'name="key"',
        "/pools": "The wheel",
        "/pools/wheel": "Prizes and exact odds",
        "/draws": "You have not drawn yet.",
        "/withdrawals": "Add a payout method first.",
        "/settings": "Deposit limits",
    }
    for path, expected in pages.items():
        got = web.page(path)
        assert got.status_code == 200, (path, got.text)
        assert expected in got.text, path
        assert got.text.startswith("<!doctype html>"), path
        assert got.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in got.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in got.headers["content-security-policy"]
    # The JSON API gets no page CSP (nothing to render there).
    assert "content-security-policy" not in web.client.get("/api/v1/pools").headers


def test_the_pool_page_shows_the_exact_odds_the_engine_uses(web: Web) -> None:
    given_pool(web.system)
    player_id = web.register()

    page = web.page("/pools/wheel").text

    odds = web.system.pools.odds("wheel", player_id)
    for row in odds.rows:
        assert f"{row.numerator}/{row.denominator}" in page
    assert odds.commitment in page


def test_signed_out_pages_send_you_to_sign_in(web: Web) -> None:
    plain = web.page("/wallet")
    assert plain.status_code == 303
    assert plain.headers["location"] == "/login"

    htmx = web.page("/wallet/history", headers=HTMX)
    assert htmx.headers["hx-redirect"] == "/login"


def test_the_session_cookie_is_httponly_lax_and_secure_off_localhost(web: Web) -> None:
    done = web.submit(
        "/register", {"email": "cookie@example.com", "password": "correct horse battery staple"}
    )
    cookie = done.headers["set-cookie"]
    assert "pl_session=" in cookie
    assert "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    assert "Secure" not in cookie  # plain http on 127.0.0.1 (a browser would drop it)

    web.client.cookies.clear()
    public = web.client.get("/login", headers={"Host": "play.example.com"})
    assert "Secure" in public.headers["set-cookie"]


def test_a_form_without_its_csrf_token_is_refused(web: Web) -> None:
    web.register()
    key = web.hidden("/deposit")["key"]

    missing = web.client.post("/deposit", data={"amount": "5", "key": key})
    forged = web.client.post("/deposit", data={"amount": "5", "key": key, "csrf": "x.y"})

    for refused in (missing, forged):
        assert refused.status_code == 403
        assert "This form has expired" in refused.text
    assert web.system.read_models.deposits(None, None, None, 10).rows == []
    # A token is bound to the session it was shown in: another session's is no use.
    stale = web.hidden("/deposit")
    web.submit("/logout", {}, page="/wallet")
    web.register()
    replayed = web.client.post("/deposit", data={**stale, "amount": "5"})
    assert replayed.status_code == 403
    # The API's Bearer routes stay exempt: no CSRF token needed there.
    api = web.client.post(
        "/api/v1/auth/register",
        json={"email": "api@example.com", "password": "correct horse battery staple"},
    )
    assert api.status_code == 201, api.text


def test_history_loads_more_as_an_htmx_fragment(web: Web) -> None:
    player_id = web.register()
    for n in range(25):
        web.system.wallets.credit_bonus(player_id, 1 + n, "promo", Cause(OP, f"bonus-{n}"))
    web.project()

    first = web.page("/wallet").text
    cursor = re.search(r'hx-get="/wallet/history\?cursor=([^"]+)"', first)
    assert cursor is not None
    more = web.page(f"/wallet/history?cursor={cursor[1]}", headers=HTMX)

    assert more.status_code == 200
    assert "<html" not in more.text
    assert more.text.count("<tr>") == 5  # 25 postings, 20 on the first page
    assert "hx-get" not in more.text  # the last page offers no more
    assert "0.05 EUR" in more.text  # the oldest credit
    plain = web.page(f"/wallet/history?cursor={cursor[1]}")
    assert plain.text.startswith("<!doctype html>")


def test_a_draw_returns_the_panel_and_a_double_submit_draws_once(web: Web) -> None:
    given_pool(web.system)
    player_id = web.register()
    web.top_up("10")
    fields = web.hidden("/pools/wheel")

    first = web.client.post("/pools/wheel/draw", data={**fields, "count": "5"}, headers=HTMX)
    again = web.client.post("/pools/wheel/draw", data={**fields, "count": "5"}, headers=HTMX)

    assert first.status_code == 200, first.text
    assert first.text.lstrip().startswith('<section id="draw-panel"')
    assert "<html" not in first.text
    assert first.text.count('<li class="result') == 5
    draw_ids = [re.findall(r'href="/draws/([0-9a-f-]+)"', r.text) for r in (first, again)]
    assert draw_ids[0] == draw_ids[1]
    assert len(draw_ids[0]) == 1
    new_key = re.search(r'name="key" value="([^"]+)"', first.text)
    assert new_key is not None
    assert new_key[1] != fields["key"]  # the next draw is a new request
    balances = web.system.wallets.balances(player_id)
    assert balances.available + balances.bonus >= 1_000 - 5 * 100  # charged once: 5 draws at 1.00
    assert balances.available <= 1_000 - 5 * 100 + 5 * 150


def test_insufficient_funds_is_an_inline_error(web: Web) -> None:
    given_pool(web.system)
    web.register()

    refused = web.submit("/pools/wheel/draw", {"count": "1"}, page="/pools/wheel", headers=HTMX)

    assert refused.status_code == 422
    assert '<p class="error" role="alert">' in refused.text
    assert "You do not have enough money available for this." in refused.text
    assert refused.text.lstrip().startswith('<section id="draw-panel"')


def test_other_refusals_show_their_catalogue_message(web: Web) -> None:
    web.register()
    web.top_up("10")

    too_much = web.submit("/deposit", {"amount": "abc"})
    assert too_much.status_code == 422
    assert "Enter a positive amount." in too_much.text

    bad_iban = web.submit(
        "/payout-methods",
        {"kind": "bank_account", "iban": "DE00", "holder_name": "Alice"},
        page="/withdrawals",
    )
    assert bad_iban.status_code == 422
    assert "Check the payout details: they are not valid." in bad_iban.text

    wrong = web.submit("/login", {"email": "nobody@example.com", "password": "x" * 12})
    assert wrong.status_code == 422
    assert "Wrong e-mail address or password." in wrong.text


def test_the_locale_switch_renders_chinese(web: Web) -> None:
    assert "登录" in web.page("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).text
    assert "Sign in" in web.page("/login", headers={"Accept-Language": "zh-TW, en;q=0.5"}).text
    web.register()

    switched = web.submit("/lang", {"lang": "zh-Hans", "back": "/wallet"}, page="/wallet")
    assert switched.status_code == 303
    assert switched.headers["location"] == "/wallet"
    page = web.page("/wallet")

    assert '<html lang="zh-Hans">' in page.text
    assert "我的钱包" in page.text
    assert page.headers["content-language"] == "zh-Hans"
    refused = web.submit("/deposit", {"amount": "-1"})
    assert "请输入一个正数金额。" in refused.text
    home = web.submit("/lang", {"lang": "en", "back": "//evil.example.com/"}, page="/wallet")
    assert home.headers["location"] == "/"  # never an open redirect
    sneaky = web.submit("/lang", {"lang": "en", "back": "/\\evil.example.com/"}, page="/wallet")
    assert sneaky.headers["location"] == "/"


def test_verify_shows_the_servers_verdict_once_the_seed_is_revealed(web: Web) -> None:
    given_pool(web.system)
    web.register()
    web.top_up("5")
    drawn = web.submit("/pools/wheel/draw", {"count": "2"}, page="/pools/wheel", headers=HTMX)
    draw_id = re.search(r'href="/draws/([0-9a-f-]+)"', drawn.text)
    assert draw_id is not None

    before = web.page(f"/draws/{draw_id[1]}").text
    assert before.count('data-server-verdict="pending"') == 2
    assert "data-recompute" not in before

    web.system.pools.rotate_epoch("wheel", Cause(OP, "rotate"))
    after = web.page(f"/draws/{draw_id[1]}").text
    assert after.count('data-server-verdict="verified"') == 2
    assert after.count("data-seed=") == 2
    assert "data-recompute" in after
    web.project()
    assert draw_id[1] in web.page("/draws").text


def test_someone_elses_draw_is_not_found(web: Web) -> None:
    given_pool(web.system)
    web.register()
    web.top_up("5")
    drawn = web.submit("/pools/wheel/draw", {"count": "1"}, page="/pools/wheel", headers=HTMX)
    draw_id = re.search(r'href="/draws/([0-9a-f-]+)"', drawn.text)
    assert draw_id is not None
    web.submit("/logout", {}, page="/wallet")
    web.register()

    other = web.page(f"/draws/{draw_id[1]}")

    assert other.status_code == 404
    assert "Not found." in other.text


def test_withdraw_with_a_payout_method_then_cancel(web: Web) -> None:
    web.register()
    web.top_up("20")
    added = web.submit(
        "/payout-methods",
        {"kind": "bank_account", "iban": IBAN, "holder_name": "Alice", "label": "Main"},
        page="/withdrawals",
    )
    assert added.status_code == 303, added.text
    page = web.page("/withdrawals").text
    method = re.search(r'<option value="([^"]+)"', page)
    assert method is not None

    requested = web.submit("/withdrawals", {"method": method[1], "amount": "7.5"})
    assert requested.status_code == 303, requested.text
    web.project()  # the timeline comes from the audit read model
    detail = web.page(requested.headers["location"]).text
    assert "7.50 EUR" in detail
    assert "Requested" in detail
    fragment = web.page(requested.headers["location"], headers=HTMX).text
    assert fragment.startswith('<div id="withdrawal-detail"')
    assert "load delay" not in fragment  # the timeline has caught up: refresh on notices only

    cancelled = web.submit(
        f"{requested.headers['location']}/cancel", {}, page=requested.headers["location"]
    )
    assert cancelled.status_code == 303, cancelled.text
    web.project()
    after = web.page(requested.headers["location"]).text
    assert "cancelled" in after
    assert "Cancelled" in after  # the timeline's last step


def test_a_large_withdrawal_asks_for_the_totp_code(web_factory: Callable[..., Web]) -> None:
    web = web_factory(policy=MoneyPolicy(large_withdrawal_threshold=500))
    web.register()
    web.top_up("20")
    web.submit(
        "/payout-methods",
        {"kind": "crypto_address", "network": "ethereum", "address": "0x" + "ab" * 20},
        page="/withdrawals",
    )
    method = re.search(r'<option value="([^"]+)"', web.page("/withdrawals").text)
    assert method is not None

    refused = web.submit("/withdrawals", {"method": method[1], "amount": "10"})

    assert refused.status_code == 422
    assert "large withdrawals need one" in refused.text


def test_settings_change_the_client_seed_and_a_deposit_limit(web: Web) -> None:
    web.register()

    seed = web.submit("/settings/client-seed", {"client_seed": "my-lucky-seed"}, page="/settings")
    limit = web.submit("/settings/limit", {"period": "day", "limit": "30"}, page="/settings")
    bad = web.submit("/settings/client-seed", {"client_seed": "has space"}, page="/settings")

    assert seed.status_code == 303
    assert limit.status_code == 303
    page = web.page("/settings").text
    assert 'value="my-lucky-seed"' in page
    assert "30.00 EUR" in page
    assert bad.status_code == 422
    assert "Please check the form" in bad.text
    over = web.submit("/deposit", {"amount": "31"})
    assert "This top-up would go over your deposit limit." in over.text


def test_sign_out_ends_the_session(web: Web) -> None:
    web.register()
    cookie = web.client.cookies.get("pl_session")
    assert cookie

    out = web.submit("/logout", {}, page="/wallet")

    assert out.status_code == 303
    web.client.cookies.set("pl_session", cookie)  # a stolen copy of the old cookie
    assert web.page("/wallet").headers["location"] == "/login"
