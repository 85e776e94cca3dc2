"""Drill 3: Redis becomes unreachable for the API, then comes back. Money-moving requests stay
exactly-once without it (the durable record is the receipt in Postgres): the same draw sent twice
at once with one Idempotency-Key is one draw with one answer. Rate limiting degrades to each
process's own counters (docs/api.md). A live-update stream opened before the outage delivers
again once Redis is back."""

from __future__ import annotations

import json
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from infrastructure.bootstrap import System
from infrastructure.live import RedisLiveBus
from infrastructure.settings import Settings
from infrastructure.throttle import WINDOW_S
from ops.bench.ledger_audit import audit
from tests.drills.conftest import open_pool
from tests.drills.deployment import Answer, Sent, assert_503s_only, players, stack
from tests.ledger_checks import assert_ledger_invariants

pytestmark = [pytest.mark.drills, pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

POOL = "redis-down"
PLAYER_LIMIT = 40  # a minute, per player
RESUME_TIMEOUT_S = 30.0


class Stream:
    """A player's live-update stream, read in a thread: (event, data) pairs in a queue."""

    def __init__(self, base_url: str, token: str) -> None:
        self.events: queue.Queue[tuple[str, str]] = queue.Queue()
        self.ended = threading.Event()
        self._stop = threading.Event()
        self._args = (f"{base_url}/api/v1/events", {"Authorization": f"Bearer {token}"})
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        url, headers = self._args
        event = ""
        try:
            timeout = httpx.Timeout(5, read=60)
            with httpx.stream("GET", url, headers=headers, timeout=timeout) as response:
                for line in response.iter_lines():
                    if self._stop.is_set():
                        return
                    if line.startswith("event:"):
                        event = line.partition(":")[2].strip()
                    elif line.startswith("data:"):
                        self.events.put((event, line.partition(":")[2].strip()))
        except httpx.HTTPError:
            pass
        finally:
            self.ended.set()

    def next(self, event: str, timeout_s: float) -> str | None:
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                kind, data = self.events.get(timeout=left)
            except queue.Empty:
                return None
            if kind == event:
                return data
        return None

    def close(self) -> None:
        self._stop.set()


def _same_key_twice(sent: Sent) -> tuple[Answer, Answer]:
    """One draw request sent twice at the same moment with one Idempotency-Key."""
    key = f"twice-{sent.client.player_id[:8]}-{time.monotonic_ns()}"
    path = f"/api/v1/pools/{POOL}/draws"
    body: dict[str, object] = {"count": 1}
    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(lambda _: sent.client.call("POST", path, body, key), range(2))
    sent.answers[key] = ("draw", path, body, first)
    return first, second


def test_redis_outage_keeps_money_exactly_once_and_live_updates_resume(
    pg_settings: Settings, drill_system: System, redis_prefix: tuple[str, str]
) -> None:
    redis_url, prefix = redis_prefix
    open_pool(drill_system, POOL)
    app_prefix = f"{prefix}redis:"
    with stack(pg_settings, drill_system, redis_url, app_prefix) as drill:
        api = drill.api(PRIZELEDGER_RATE_PLAYER_PER_MIN=str(PLAYER_LIMIT))
        *sents, hammer = players(api.base_url, 5, "redis")
        for sent in sents:
            assert sent.deposit(100_000).status == 201
        stream = Stream(api.base_url, sents[0].client.token)
        try:
            assert stream.next("ready", 10) is not None
            drill.redis.cut()
            pairs = [_same_key_twice(sent) for sent in sents for _ in range(3)]
            fresh = [sent.draw(POOL) for sent in sents]
            windows_before = _window()
            limited = _spend_until_limited(hammer)
            windows_spanned = _window() - windows_before + 1
            drill.redis.restore()
            delivered, waited = _publish_until_delivered(
                redis_url, app_prefix, sents[0].client.player_id, stream
            )
        finally:
            stream.close()

        # Exactly once without Redis: both sends of a key got the same draw, stored once.
        for first, second in pairs:
            assert first.status == second.status == 201, (first, second)
            assert first.body == second.body
        assert all(a.status == 201 for a in fresh)
        assert_503s_only([*sents, hammer])
        answered = [
            (a.body["draw_id"], s.client.player_id) for s in sents for a in s.answered("draw")
        ]
        assert len(answered) == len(pairs) + len(fresh)
        report = audit(drill_system, answered)
        assert report["ok"], report
        assert report["settled_not_answered"] == 0, report
        assert_ledger_invariants(drill_system.ledger)

        # The per-player limit still held inside this one process (its own counters). The
        # windows are fixed minutes (docs/api.md): spending that crosses a minute's end may
        # have up to a full budget in each window it touched.
        assert limited is not None, "no 429 while Redis was down"
        assert limited <= PLAYER_LIMIT * windows_spanned, (limited, windows_spanned)

        # Live updates: the stream opened before the outage delivers again.
        assert delivered, f"no live update within {RESUME_TIMEOUT_S} s of Redis coming back"
        print(
            "redis outage drill:",
            json.dumps(
                {
                    "same_key_pairs": len(pairs),
                    "draws_answered": len(answered),
                    "requests_before_429_without_redis": limited,
                    "live_update_after_restore_s": round(waited, 2),
                }
            ),
        )


def _window() -> int:
    """The rate limiter's current fixed one-minute window (infrastructure.throttle.WINDOW_S)."""
    return int(time.time() // WINDOW_S)


def _spend_until_limited(sent: Sent) -> int | None:
    """GET /wallet until a 429: how many were served before it (None: never limited)."""
    headers = {"Authorization": f"Bearer {sent.client.token}"}
    with httpx.Client(base_url=sent.client.base_url, timeout=10) as http:
        for served in range(PLAYER_LIMIT * 3):
            response = http.get("/api/v1/wallet", headers=headers)
            if response.status_code == 429:
                assert response.headers["content-type"].startswith("application/problem+json")
                assert int(response.headers["retry-after"]) > 0
                return served
            assert response.status_code == 200, response.text
    return None


def _publish_until_delivered(
    redis_url: str, prefix: str, player_id: str, stream: Stream
) -> tuple[bool, float]:
    """Publish on the player's channel (as the projector's live feed does) until the stream
    shows it: (delivered, seconds after Redis came back)."""
    bus = RedisLiveBus(redis_url, prefix)
    start = time.monotonic()
    try:
        n = 0
        while time.monotonic() - start < RESUME_TIMEOUT_S:
            n += 1
            bus.publish(player_id, {"type": "drill", "n": n})
            if stream.next("drill", 0.5) is not None:
                return True, time.monotonic() - start
            if stream.ended.is_set():
                return False, time.monotonic() - start
    finally:
        bus.close()
    return False, time.monotonic() - start
