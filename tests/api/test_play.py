"""Pools, draws and fairness over HTTP: the disclosed odds are the engine's, a draw is charged
once per Idempotency-Key, refusals charge nothing, and every proof verifies once the seed is out."""

from __future__ import annotations

import time
from typing import Any

import pytest

from domain.cause import Cause
from domain.fairness import commitment_of, verify_draw
from tests.api.conftest import Api, Player
from tests.api.support import OP, assert_problem, assert_unchanged, given_pool, snapshot


def draw(api: Api, player: Player, body: Any, key: str | None = None, pool: str = "wheel") -> Any:
    return api.client.post(f"/api/v1/pools/{pool}/draws", json=body, headers=player.money(key))


def money_of(api: Api, player: Player) -> tuple[int, int, int]:
    b = api.system.wallets.balances(player.player_id)
    return b.available, b.locked, b.bonus


def test_pools_list_and_the_disclosed_odds_are_the_engines(api: Api) -> None:
    given_pool(api, "wheel", cost=100)
    given_pool(api, "crate", cost=250)
    player = api.register()
    api.project()

    listed = api.client.get("/api/v1/pools")
    assert listed.status_code == 200, listed.text
    assert {(p["pool_key"], p["draw_cost"], p["status"]) for p in listed.json()} == {
        ("wheel", 100, "open"),
        ("crate", 250, "open"),
    }

    got = api.client.get("/api/v1/pools/wheel", headers=player.auth)
    assert got.status_code == 200, got.text
    pool = got.json()
    engine = api.system.pools.odds("wheel", player.player_id)
    assert sum(row["numerator"] for row in pool["odds"]) == pool["odds"][0]["denominator"]
    assert abs(sum(row["probability"] for row in pool["odds"]) - 1) < 1e-12
    assert [(r["arm"], r["weight"], r["numerator"], r["denominator"]) for r in pool["odds"]] == [
        (r.arm, r.weight, r.numerator, r.denominator) for r in engine.rows
    ]
    assert {"gem", "coin"} <= {r["arm"] for r in pool["odds"]}
    assert pool["commitment"] == engine.commitment
    assert pool["expected_payout_per_draw"] == pytest.approx(engine.expected_payout_per_draw)


def test_an_unknown_pool_is_404_and_a_malformed_key_400(api: Api) -> None:
    given_pool(api)
    player = api.register()
    api.deposit(player, 1_000)
    before = snapshot(api, player)

    assert_problem(api.client.get("/api/v1/pools/nope", headers=player.auth), 404, "not_found")
    assert_problem(api.client.get("/api/v1/fairness/nope/epochs"), 404, "not_found")
    assert_problem(draw(api, player, {"count": 1}, pool="nope"), 404, "not_found")
    bad = api.client.get("/api/v1/pools/NOT_A_KEY", headers=player.auth)
    assert_problem(bad, 400, "validation_failed")
    assert_unchanged(api, before, player)


def test_a_malformed_draw_is_400_and_records_nothing(api: Api) -> None:
    given_pool(api)
    player = api.register()
    api.deposit(player, 1_000)
    before = snapshot(api, player)

    for body in ({"count": 0}, {"count": 101}, {"count": "x"}, {"count": 1, "extra": 1}, [1], "1"):
        refused = draw(api, player, body)
        assert refused.status_code == 400, body
        assert_problem(refused, 400, "validation_failed")

    assert before.head == snapshot(api).head  # not even a receipt
    assert_unchanged(api, before, player)


def test_insufficient_funds_is_422_and_charges_nothing(api: Api) -> None:
    given_pool(api, cost=100)
    player = api.register()
    api.deposit(player, 250)
    api.project()
    postings = api.client.get("/api/v1/wallet/history", headers=player.auth).json()

    refused = draw(api, player, {"count": 3})

    body = assert_problem(refused, 422, "insufficient_funds")
    assert body["detail"].startswith("draw refused: insufficient_funds")
    # The refusal is kept (a retry gets it again), but no money moved: no new posting.
    assert money_of(api, player) == (250, 0, 0)
    api.project()
    assert api.client.get("/api/v1/wallet/history", headers=player.auth).json() == postings
    assert_problem(
        draw(api, player, {"count": 3}, key=refused.request.headers["idempotency-key"]),
        422,
        "insufficient_funds",
    )


def test_a_paused_pool_refuses_draws_with_pool_paused(api: Api) -> None:
    given_pool(api)
    player = api.register()
    api.deposit(player, 1_000)
    api.system.pools.pause("wheel", "maintenance", Cause(OP, "pause"))

    assert_problem(draw(api, player, {"count": 1}), 422, "pool_paused")
    assert money_of(api, player) == (1_000, 0, 0)

    api.system.pools.resume("wheel", "done", Cause(OP, "resume"))
    assert draw(api, player, {"count": 1}).status_code == 201


def test_the_same_key_replays_the_draw_and_another_count_is_refused(api: Api) -> None:
    given_pool(api, cost=100)
    player = api.register()
    api.deposit(player, 1_000)

    first = draw(api, player, {"count": 2}, key="spin-1")
    again = draw(api, player, {"count": 2}, key="spin-1")

    assert first.status_code == 201, first.text
    assert again.status_code == 201
    assert again.json() == first.json()
    after = api.system.wallets.balances(player.player_id)
    won = sum(r["reward"] for r in first.json()["results"] if r["kind"] == "cash")
    assert after.available == 1_000 - 200 + won  # charged once
    before = snapshot(api, player)

    reused = draw(api, player, {"count": 3}, key="spin-1")

    assert_problem(reused, 422, "idempotency_key_reused")
    assert_unchanged(api, before, player)


def test_a_draw_is_admitted_in_one_throttle_call_and_released_before_its_answer(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The draw route takes its caller and Idempotency-Key from the admission: the IP and player
    budgets and the in-flight lock in one ``admit``, and the lock released once."""
    given_pool(api, cost=100)
    player = api.register()
    api.deposit(player, 1_000)
    # The session's check trusted: made after the session watcher read past the login's events
    # (a check older than an event of its account is made again).
    sessions = api.client.app.state.authenticator.sessions
    head = api.system.ledger.recorder.max_notification_id() or 0
    deadline = time.monotonic() + 5
    while (sessions._position or 0) < head and time.monotonic() < deadline:
        time.sleep(0.02)
    assert api.client.get("/api/v1/wallet", headers=player.auth).status_code == 200
    throttle = api.client.app.state.limits.throttle
    calls: list[tuple[str, Any]] = []

    def recorded(name: str) -> Any:
        real = getattr(throttle, name)

        async def call(*args: Any) -> Any:
            calls.append((name, args))
            return await real(*args)

        return call

    for name in ("admit", "spend", "acquire", "release"):
        monkeypatch.setattr(throttle, name, recorded(name))

    drawn = draw(api, player, {"count": 1}, key="one-trip")

    assert drawn.status_code == 201, drawn.text
    assert [name for name, _ in calls] == ["admit", "release"]
    budgets, lock = calls[0][1]
    assert [key for key, _ in budgets] == ["ip:testclient", f"player:{player.player_id}"]
    assert lock[0] == f"{player.player_id}:one-trip"
    assert calls[1][1][0] == lock[0]


def test_a_draw_is_readable_by_its_player_only(api: Api) -> None:
    given_pool(api)
    alice, bob = api.register(), api.register()
    api.deposit(alice, 1_000)
    made = draw(api, alice, {"count": 1}).json()

    own = api.client.get(f"/api/v1/draws/{made['draw_id']}", headers=alice.auth)
    other = api.client.get(f"/api/v1/draws/{made['draw_id']}", headers=bob.auth)
    nothing = api.client.get("/api/v1/draws/00000000-0000-0000-0000-000000000000", headers=bob.auth)
    garbage = api.client.get("/api/v1/draws/not-a-uuid", headers=bob.auth)

    assert own.status_code == 200
    assert own.json() == made
    for refused in (other, nothing, garbage):
        assert_problem(refused, 404, "not_found")
    assert other.json()["detail"].replace(made["draw_id"], "?") == nothing.json()["detail"].replace(
        "00000000-0000-0000-0000-000000000000", "?"
    )


def test_draws_list_newest_first_in_keyset_pages(api: Api) -> None:
    given_pool(api)
    player = api.register()
    api.deposit(player, 1_000)
    ids = [draw(api, player, {"count": 1}).json()["draw_id"] for _ in range(3)]
    api.project()

    first = api.client.get("/api/v1/draws?limit=2", headers=player.auth).json()
    rest = api.client.get(
        f"/api/v1/draws?limit=2&cursor={first['next_cursor']}", headers=player.auth
    ).json()

    assert [r["draw_id"] for r in first["rows"] + rest["rows"]] == ids[::-1]
    assert rest["next_cursor"] is None
    bad = api.client.get("/api/v1/draws?cursor=abc", headers=player.auth)
    assert_problem(bad, 400, "invalid_cursor")


def test_fairness_epochs_reveal_seeds_that_verify_every_draw(api: Api) -> None:
    given_pool(api)
    player = api.register()
    api.deposit(player, 1_000)
    made = draw(api, player, {"count": 3}).json()

    epochs = api.client.get("/api/v1/fairness/wheel/epochs").json()
    assert [(e["epoch"], e["revealed_seed"]) for e in epochs] == [(1, None)]
    api.system.pools.rotate_epoch("wheel", Cause(OP, "rotate"))
    epochs = api.client.get("/api/v1/fairness/wheel/epochs").json()

    assert [e["epoch"] for e in epochs] == [1, 2]
    seed = epochs[0]["revealed_seed"]
    assert commitment_of(seed) == epochs[0]["commitment"]
    assert epochs[1]["revealed_seed"] is None
    assert epochs[1]["commitment"] != epochs[0]["commitment"]
    for result in made["results"]:
        assert verify_draw(result, seed) == result["arm"]


def stats_of(api: Api, pool: str) -> dict[str, Any] | None:
    got = api.client.get("/api/v1/stats")
    assert got.status_code == 200, got.text
    rows = [row for row in got.json()["pools"] if row["pool_key"] == pool]
    return rows[0] if rows else None


def test_public_stats_leave_out_draws_newer_than_the_delay(api_factory: Any) -> None:
    api = api_factory(stats_delay_s=60)
    given_pool(api)
    player = api.register()
    api.deposit(player, 1_000)
    made = draw(api, player, {"count": 2}).json()
    api.project()

    assert stats_of(api, "wheel") is None

    api.clock.advance(seconds=61)
    later = stats_of(api, "wheel")

    assert later is not None
    assert later["requests"] == 1
    assert later["draws"] == 2
    assert later["cost_total"] == made["cost_total"]
