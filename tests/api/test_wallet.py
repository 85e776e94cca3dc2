"""The wallet over HTTP: balances with ETag, the posting history's keyset pages, deposit limits
and the client seed."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api, Player
from tests.api.support import assert_problem, assert_unchanged, given_pool, snapshot


def test_the_wallet_answers_304_while_its_etag_is_current(api: Api) -> None:
    player = api.register()
    first = api.client.get("/api/v1/wallet", headers=player.auth)
    assert first.status_code == 200, first.text
    etag = first.headers["etag"]
    assert etag == f'W/"{first.json()["version"]}"'
    assert first.json()["available"] == 0

    same = api.client.get("/api/v1/wallet", headers={**player.auth, "If-None-Match": etag})
    assert same.status_code == 304
    assert same.content == b""
    assert same.headers["etag"] == etag

    api.deposit(player, 2_500)
    api.project()
    changed = api.client.get("/api/v1/wallet", headers={**player.auth, "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.json()["available"] == 2_500
    assert changed.headers["etag"] != etag
    assert changed.json()["player_id"] == player.player_id


def history(api: Api, player: Player, query: str) -> dict[str, Any]:
    got = api.client.get(f"/api/v1/wallet/history?{query}", headers=player.auth)
    assert got.status_code == 200, got.text
    page: dict[str, Any] = got.json()
    return page


def test_history_pages_continue_without_overlap_or_gaps(api: Api) -> None:
    given_pool(api)
    player = api.register()
    for amount in (1_000, 2_000, 3_000):
        api.deposit(player, amount)
    drawn = api.client.post("/api/v1/pools/wheel/draws", json={"count": 2}, headers=player.money())
    assert drawn.status_code == 201, drawn.text
    api.project()
    everything = history(api, player, "limit=200")
    assert everything["next_cursor"] is None
    assert len(everything["rows"]) >= 5  # three credits, two draws' debits at least

    paged: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = "limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = history(api, player, query)
        assert 1 <= len(page["rows"]) <= 2
        paged.extend(page["rows"])
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert paged == everything["rows"]
    keys = [(row["position"], row["line"]) for row in paged]
    assert keys == sorted(set(keys), reverse=True)  # newest first, each posting once
    credits = [row["amount_minor"] for row in paged if row["kind"] == "DepositCredited"]
    assert sorted(credits) == [1_000, 2_000, 3_000]


def test_a_malformed_history_cursor_is_400_invalid_cursor(api: Api) -> None:
    player = api.register()
    for cursor in ("garbage", "12", "1.x", "1.2.3", "1.-"):
        refused = api.client.get(
            "/api/v1/wallet/history", params={"cursor": cursor}, headers=player.auth
        )
        assert refused.status_code == 400, cursor
        assert_problem(refused, 400, "invalid_cursor")


def test_a_history_limit_out_of_range_is_400(api: Api) -> None:
    player = api.register()
    for limit in ("0", "201", "-1", "x"):
        refused = api.client.get(f"/api/v1/wallet/history?limit={limit}", headers=player.auth)
        body = assert_problem(refused, 400, "validation_failed")
        assert body["errors"][0]["field"] == "limit"


def set_limit(api: Api, player: Player, limit: int | None, period: str = "day") -> Any:
    return api.client.put(
        "/api/v1/wallet/limits", json={"period": period, "limit_minor": limit}, headers=player.auth
    )


def start_deposit(api: Api, player: Player, amount: int) -> Any:
    return api.client.post(
        "/api/v1/deposits", json={"amount_minor": amount}, headers=player.money()
    )


def test_a_lower_deposit_limit_applies_at_once_and_a_higher_one_a_day_later(api: Api) -> None:
    player = api.register()
    assert set_limit(api, player, 5_000).status_code == 200
    assert set_limit(api, player, 1_000).status_code == 200  # lowering: at once
    assert start_deposit(api, player, 600).status_code == 201

    before = snapshot(api, player)
    over = start_deposit(api, player, 500)
    assert_problem(over, 422, "deposit_limit_exceeded")
    assert_unchanged(api, before, player)

    assert set_limit(api, player, 10_000).status_code == 200  # raising: in 24 hours
    assert_problem(start_deposit(api, player, 500), 422, "deposit_limit_exceeded")
    api.clock.advance(hours=24, seconds=1)
    assert start_deposit(api, player, 5_000).status_code == 201


def test_a_deposit_limit_must_be_well_formed(api: Api) -> None:
    player = api.register()
    before = snapshot(api, player)
    for body in (
        {"period": "year", "limit_minor": 1_000},
        {"period": "day", "limit_minor": -1},
        {"period": "day", "limit_minor": 1.5},
        {"period": "day"},
        {"period": "day", "limit_minor": 100, "extra": 1},
    ):
        refused = api.client.put("/api/v1/wallet/limits", json=body, headers=player.auth)
        assert_problem(refused, 400, "validation_failed")
    assert_unchanged(api, before, player)


def test_the_client_seed_goes_into_the_next_draws_proof(api: Api) -> None:
    given_pool(api)
    player = api.register()
    api.deposit(player, 1_000)

    seeded = api.client.put(
        "/api/v1/wallet/client-seed", json={"client_seed": "lucky-seed-42"}, headers=player.auth
    )
    assert seeded.status_code == 200, seeded.text
    drawn = api.client.post("/api/v1/pools/wheel/draws", json={"count": 2}, headers=player.money())

    assert drawn.status_code == 201, drawn.text
    proofs = drawn.json()["results"]
    assert [p["client_seed"] for p in proofs] == ["lucky-seed-42", "lucky-seed-42"]
    assert proofs[1]["nonce"] == proofs[0]["nonce"] + 1


def test_a_client_seed_must_be_printable_without_colons(api: Api) -> None:
    player = api.register()
    before = snapshot(api, player)
    for seed, code in (
        ("", "validation_failed"),
        ("has space", "validation_failed"),
        ("x" * 65, "validation_failed"),
        ("a:b", "invalid_argument"),  # ':' separates the HMAC message's parts
    ):
        refused = api.client.put(
            "/api/v1/wallet/client-seed", json={"client_seed": seed}, headers=player.auth
        )
        assert_problem(refused, 400, code)
    assert_unchanged(api, before, player)
