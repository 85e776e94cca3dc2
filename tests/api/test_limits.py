"""Request budgets (per player, per IP, per sign-in address), body size and media type: every
refusal is problem+json with its code, never a 500, and changes nothing."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from tests.api.conftest import Api
from tests.api.support import assert_problem, assert_unchanged, snapshot


def fresh_window(needed_s: float = 3.0) -> None:
    """Budgets are fixed one-minute windows: don't start a count of ``needed_s`` just before one
    ends."""
    left = 60 - time.time() % 60
    if left < needed_s:
        time.sleep(left + 0.05)


def assert_budget_headers(response: httpx.Response, limit: int, remaining: int) -> None:
    assert response.headers["ratelimit-limit"] == str(limit)
    assert response.headers["ratelimit-remaining"] == str(remaining)
    assert 0 < int(response.headers["ratelimit-reset"]) <= 60


def test_a_player_over_budget_gets_429_with_retry_after(api_factory: Callable[..., Api]) -> None:
    api = api_factory(rate_player_per_minute=3)
    alice, bob = api.register(), api.register()
    fresh_window()

    answers = [api.client.get("/api/v1/wallet", headers=alice.auth) for _ in range(3)]
    over = api.client.get("/api/v1/wallet", headers=alice.auth)

    for used, answer in enumerate(answers, start=1):
        assert answer.status_code == 200, answer.text
        assert_budget_headers(answer, 3, 3 - used)
    body = assert_problem(over, 429, "rate_limited")
    assert_budget_headers(over, 3, 0)
    assert 0 < int(over.headers["retry-after"]) <= 60
    assert body["retry_after_s"] == int(over.headers["retry-after"])
    # Another player has a budget of their own.
    assert api.client.get("/api/v1/wallet", headers=bob.auth).status_code == 200


def test_a_player_over_budget_moves_no_money(api_factory: Callable[..., Api]) -> None:
    api = api_factory(rate_player_per_minute=2)
    player = api.register()
    fresh_window()
    assert api.client.get("/api/v1/wallet", headers=player.auth).status_code == 200
    assert api.client.get("/api/v1/wallet", headers=player.auth).status_code == 200
    before = snapshot(api, player)

    over = api.client.post("/api/v1/deposits", json={"amount_minor": 500}, headers=player.money())

    assert_problem(over, 429, "rate_limited")
    assert_unchanged(api, before, player)
    assert before.head == snapshot(api).head


def test_a_client_ip_over_budget_gets_429_on_every_route(api_factory: Callable[..., Api]) -> None:
    api = api_factory(rate_ip_per_minute=3)
    fresh_window()

    answers = [api.client.get("/api/v1/pools") for _ in range(3)]
    over = api.client.get("/api/v1/pools")
    login = api.client.post(
        "/api/v1/auth/login", json={"email": "a@example.com", "password": "x" * 12}
    )

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert_budget_headers(answers[-1], 3, 0)
    assert_problem(over, 429, "rate_limited")
    assert int(over.headers["retry-after"]) > 0
    assert_problem(login, 429, "rate_limited")
    # Probes and the schema are not budgeted (a load balancer must always reach them).
    assert api.client.get("/health/live").status_code == 200
    assert api.client.get("/schema/openapi.json").status_code == 200


def test_over_the_ip_budget_comes_before_any_other_refusal(
    api_factory: Callable[..., Api],
) -> None:
    """Authentication, the body's media type and the Idempotency-Key are checked with the
    budgets in one call, but an IP over its budget is still a 429 whatever else is wrong."""
    api = api_factory(rate_ip_per_minute=3)
    player = api.register()  # its sign-up and sign-in spent two of the three
    fresh_window()
    assert api.client.get("/api/v1/wallet", headers=player.auth).status_code == 200

    refusals = [
        api.client.get("/api/v1/wallet", headers={"Authorization": "Bearer nonsense"}),
        api.client.post("/api/v1/deposits", content=b"x", headers=player.money()),
        api.client.post("/api/v1/deposits", json={"amount_minor": 500}, headers=player.auth),
        api.client.post("/api/v1/deposits", json={"amount_minor": 500}, headers=player.money()),
    ]

    for refused in refusals:
        assert_problem(refused, 429, "rate_limited")


def test_under_budget_each_refusal_keeps_its_own_code(api: Api) -> None:
    player = api.register()
    fresh_window()

    bad_token = api.client.get("/api/v1/wallet", headers={"Authorization": "Bearer nonsense"})
    not_json = api.client.post(
        "/api/v1/deposits", content=b"x", headers={**player.money(), "Content-Type": "text/plain"}
    )
    no_key = api.client.post("/api/v1/deposits", json={"amount_minor": 500}, headers=player.auth)

    assert_problem(bad_token, 401, "token_invalid")
    assert_problem(not_json, 415, "unsupported_media_type")
    assert_problem(no_key, 400, "idempotency_key_required")
    assert_budget_headers(no_key, 600, int(no_key.headers["ratelimit-remaining"]))


def test_sign_in_attempts_per_address_are_limited(api: Api) -> None:
    # The registration's login counts too, so the window must not turn between it and the
    # last attempt: ten password checks can take seconds on a loaded machine.
    fresh_window(needed_s=20)
    player = api.register()
    for _ in range(9):  # the registration's login spent one of the ten
        assert api.client.post(
            "/api/v1/auth/login",
            json={"email": player.email, "password": "wrong password, long enough"},
        ).status_code in {401, 403}

    over = api.client.post(
        "/api/v1/auth/login", json={"email": player.email.upper(), "password": "x" * 12}
    )

    assert_problem(over, 429, "rate_limited")
    assert int(over.headers["retry-after"]) > 0


# ---- bodies ----------------------------------------------------------------------------------


def test_a_body_over_the_limit_is_413(api: Api) -> None:
    player = api.register()
    before = snapshot(api, player)
    big = b'{"amount_minor": 500, "pad": "' + b"x" * (64 * 1024) + b'"}'

    for path in (
        "/api/v1/auth/register",
        "/api/v1/deposits",
        "/api/v1/webhooks/payments/sandbox",
    ):
        refused = api.client.post(
            path, content=big, headers={**player.money(), "Content-Type": "application/json"}
        )
        assert refused.status_code == 413, path
        assert_problem(refused, 413, "body_too_large")

    assert_unchanged(api, before, player)


def test_the_body_limit_is_a_setting(api_factory: Callable[..., Api]) -> None:
    api = api_factory(max_body_bytes=2_000)
    player = api.register()
    body = {
        "kind": "bank_account",
        "details": {"iban": "DE89370400440532013000", "holder_name": "Ann"},
    }

    small = api.client.post(
        "/api/v1/payout-methods", json={**body, "label": "a"}, headers=player.auth
    )
    big = api.client.post(
        "/api/v1/payout-methods", json={**body, "label": "a" * 2_000}, headers=player.auth
    )

    assert small.status_code == 201, small.text
    assert_problem(big, 413, "body_too_large")


def test_a_body_that_is_not_json_is_415(api: Api) -> None:
    player = api.register()
    before = snapshot(api, player)
    for content, content_type in (
        (b'{"amount_minor": 500}', "text/plain"),
        (b"amount_minor=500", "application/x-www-form-urlencoded"),
        (b"<deposit amount_minor='500'/>", "application/xml"),
        (b'{"amount_minor": 500}', None),
    ):
        headers = player.money()
        if content_type is not None:
            headers["Content-Type"] = content_type
        refused = api.client.post("/api/v1/deposits", content=content, headers=headers)
        assert refused.status_code == 415, content_type
        assert_problem(refused, 415, "unsupported_media_type")

    assert before.head == snapshot(api).head
    assert_unchanged(api, before, player)


def test_a_body_that_does_not_decode_is_400(api: Api) -> None:
    player = api.register()
    before = snapshot(api, player)
    for name, content in (
        ("truncated", b'{"amount_minor": '),
        ("nested too deep", b"[" * 10_000 + b"]" * 10_000),
        ("not UTF-8", b'{"amount_minor": 500, "currency": "\xff"}'),
    ):
        refused = api.client.post(
            "/api/v1/deposits",
            content=content,
            headers={**player.money(), "Content-Type": "application/json; charset=utf-8"},
        )
        assert refused.status_code == 400, name
        assert_problem(refused, 400, "bad_request")

    assert_unchanged(api, before, player)


def test_json_with_a_structured_suffix_is_json(api: Api) -> None:
    player = api.register()
    made = api.client.post(
        "/api/v1/deposits",
        content=b'{"amount_minor": 500}',
        headers={**player.money(), "Content-Type": "application/vnd.api+json"},
    )
    assert made.status_code == 201, made.text


def test_an_unknown_route_or_method_is_problem_json(api: Api) -> None:
    player = api.register()
    assert_problem(api.client.get("/api/v1/nothing-here", headers=player.auth), 404, "not_found")
    wrong = api.client.put("/api/v1/wallet", json={}, headers=player.auth)
    assert_problem(wrong, 405, "method_not_allowed")
