"""Live updates over Server-Sent Events, through a real HTTP server.

Litestar's test client collects a whole response before returning it, and an event stream never
ends, so the app is served by uvicorn on a free local port (in a thread of this process, over a
System on the test's own Postgres schema) and everything goes over HTTP with httpx. Every wait
is bounded.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

import httpx
import pytest
import uvicorn

from infrastructure.bootstrap import bootstrap
from infrastructure.settings import Settings
from interfaces.player.app import create_app
from tests.api.conftest import Api, Player, fast
from tests.api.support import given_pool
from tests.conftest import SteppingClock

READ_TIMEOUT_S = 5.0


@contextmanager
def served(settings: Settings, clock: SteppingClock) -> Iterator[Api]:
    """The player app on http://127.0.0.1:<free port>, run by uvicorn (lifespan included: its
    shutdown closes the System) in a thread of this process, and an Api talking to it over
    HTTP. One event loop serves everything, as in production."""
    system = bootstrap(settings, clock=clock)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        create_app(system, run_workers=False),
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        with httpx.Client(base_url=base_url, timeout=READ_TIMEOUT_S) as client:
            yield Api(cast(Any, client), system, clock)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        assert not thread.is_alive(), "uvicorn did not stop"


@contextmanager
def live_feed(api: Api) -> Iterator[None]:
    feed = api.system.live_feed()
    feed.start()
    try:
        yield
    finally:
        feed.stop()


Event = tuple[str, dict[str, Any]]


class Stream:
    """One player's open event stream, read event by event."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.iter_lines()

    def next_event(self) -> Event:
        """The next event (comments and keep-alives skipped); a read waits READ_TIMEOUT_S."""
        name, data = "message", ""
        for line in self._lines:
            if line == "":
                if data:
                    return name, json.loads(data)
                name = "message"
                continue
            field, _, value = line.partition(":")
            if field == "event":
                name = value.strip()
            elif field == "data":
                data += value.strip()
        raise AssertionError("the stream ended")

    def until(
        self, wanted: Callable[[str, dict[str, Any]], bool]
    ) -> list[tuple[str, dict[str, Any]]]:
        """Events up to and including the first one ``wanted`` accepts (within 15 s)."""
        seen: list[Event] = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            event = self.next_event()
            seen.append(event)
            if wanted(*event):
                return seen
        raise AssertionError(f"no such event in 15 s; saw {seen}")


@contextmanager
def events_of(api: Api, player: Player) -> Iterator[Stream]:
    timeout = httpx.Timeout(READ_TIMEOUT_S, connect=READ_TIMEOUT_S)
    with (
        httpx.Client(base_url=api.client.base_url, timeout=timeout) as client,
        client.stream("GET", "/api/v1/events", headers=player.auth) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = Stream(response)
        # "ready" comes once the subscription is in place: nothing after it is missed.
        assert stream.next_event() == ("ready", {})
        yield stream


@pytest.mark.parametrize("redis", [False, True], ids=["in-memory-bus", "redis-bus"])
def test_a_credited_deposit_and_a_draw_are_pushed_to_their_player_only(
    pg_settings: Settings, redis_prefix: tuple[str, str], clock: SteppingClock, redis: bool
) -> None:
    overrides = {} if redis else {"redis_url": None}  # None: the in-memory bus and throttle
    settings = fast(pg_settings, redis_prefix, **overrides)
    with served(settings, clock) as api:
        given_pool(api)
        alice, bob = api.register(), api.register()
        with live_feed(api), events_of(api, alice) as stream:
            alice_hears_her_own_money_only(api, alice, bob, stream)


def alice_hears_her_own_money_only(api: Api, alice: Player, bob: Player, stream: Stream) -> None:
    api.deposit(bob, 1_111)  # someone else's: never on Alice's stream
    api.deposit(alice, 2_500)

    seen = stream.until(lambda name, data: name == "balance" and data["available"] > 0)

    balance = seen[-1][1]
    assert (balance["available"], balance["locked"], balance["currency"]) == (2_500, 0, "EUR")
    assert all(data.get("amount") != 1_111 for _, data in seen)
    assert all(data.get("available") != 1_111 for _, data in seen)

    drawn = api.client.post(
        "/api/v1/pools/wheel/draws", json={"count": 2}, headers=alice.money()
    ).json()
    seen = stream.until(lambda name, data: name == "draw")

    pushed = seen[-1][1]
    assert pushed["draw_id"] == drawn["draw_id"]
    assert pushed["available_after"] == drawn["available_after"]
    assert [r["outcome"] for r in pushed["results"]] == [r["outcome"] for r in drawn["results"]]


def test_the_event_stream_needs_a_token(api: Api) -> None:
    refused = api.client.get("/api/v1/events")
    assert refused.status_code == 401
    assert refused.json()["code"] == "unauthenticated"
