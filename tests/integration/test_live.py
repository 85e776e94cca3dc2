"""Live updates: the in-memory and Redis buses deliver to the right player only and survive
outages without raising; the LiveFeed turns recorded events into per-player messages, on the
embedded system and on the real Postgres (one publishing feed per deployment)."""

from __future__ import annotations

import asyncio
import secrets
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import redis

from domain.cause import Cause
from domain.prizes import PoolControls, Prize
from infrastructure.bootstrap import System, bootstrap
from infrastructure.live import HEARTBEAT, InMemoryLiveBus, LiveBus, LiveFeed, RedisLiveBus
from infrastructure.settings import Settings
from tests.conftest import SteppingClock

Message = dict[str, Any]


def op(tag: str) -> Cause:
    return Cause("operator:ops", tag)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def read_until(
    sub: AsyncIterator[Message], done: Callable[[Message], bool], timeout: float = 10.0
) -> list[Message]:
    """Messages up to and including the first that satisfies ``done``."""
    got: list[Message] = []

    async def read() -> None:
        async for message in sub:
            got.append(message)
            if done(message):
                return
        raise AssertionError(f"the subscription ended after {got}")

    await asyncio.wait_for(read(), timeout)
    return got


def all_of(*wanted: Callable[[Message], bool]) -> Callable[[Message], bool]:
    """True once every one of ``wanted`` has matched some message (in any order)."""
    pending = list(wanted)

    def done(message: Message) -> bool:
        pending[:] = [w for w in pending if not w(message)]
        return not pending

    return done


def balance_of(available: int) -> Callable[[Message], bool]:
    return lambda m: m["type"] == "balance" and m["available"] == available


def is_marker(message: Message) -> bool:
    return message.get("type") == "marker"


# ---- the buses -----------------------------------------------------------------------------------


@pytest.fixture
def redis_bus(redis_prefix: tuple[str, str]) -> Iterator[RedisLiveBus]:
    url, prefix = redis_prefix
    name = f"live-test-{secrets.token_hex(4)}"
    bus = RedisLiveBus(url, f"{prefix}{secrets.token_hex(4)}:", client_name=name)
    yield bus
    bus.close()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def bus(request: pytest.FixtureRequest) -> Iterator[LiveBus]:
    if request.param == "memory":
        memory = InMemoryLiveBus()
        yield memory
        memory.close()
    else:
        yield request.getfixturevalue("redis_bus")


def test_a_bus_delivers_to_the_subscribed_player_only(bus: LiveBus) -> None:
    async def scenario() -> tuple[list[Message], list[Message], list[Message]]:
        async with (
            bus.subscription("p1") as p1,
            bus.subscription("p1") as p1_again,
            bus.subscription("p2") as p2,
        ):
            # From another thread, as the feed publishes.
            await asyncio.to_thread(bus.publish, "p1", {"type": "balance", "available": 5})
            await asyncio.to_thread(bus.publish, "p2", {"type": "marker"})
            await asyncio.to_thread(bus.publish, "p1", {"type": "marker"})
            return (
                await read_until(p1, is_marker),
                await read_until(p1_again, is_marker),
                await read_until(p2, is_marker),
            )

    first, second, other = asyncio.run(scenario())
    assert first == second == [{"type": "balance", "available": 5}, {"type": "marker"}]
    assert other == [{"type": "marker"}]  # nothing of p1's


def test_a_batch_reaches_each_player_in_order(bus: LiveBus) -> None:
    async def scenario() -> tuple[list[Message], list[Message]]:
        async with bus.subscription("p1") as p1, bus.subscription("p2") as p2:
            await asyncio.to_thread(
                bus.publish_batch,
                {
                    "p1": [{"type": "n", "n": 1}, {"type": "n", "n": 2}, {"type": "marker"}],
                    "p2": [{"type": "marker", "id": UUID(int=7)}],
                },
            )
            return await read_until(p1, is_marker), await read_until(p2, is_marker)

    mine, others = asyncio.run(scenario())

    assert mine == [{"type": "n", "n": 1}, {"type": "n", "n": 2}, {"type": "marker"}]
    assert [m.get("id") for m in others] in ([UUID(int=7)], [str(UUID(int=7))])


def test_closing_a_bus_ends_its_subscriptions(bus: LiveBus) -> None:
    async def scenario() -> list[Message]:
        got: list[Message] = []
        async with bus.subscription("p1") as sub:
            await asyncio.to_thread(bus.publish, "p1", {"type": "marker"})
            got += await read_until(sub, is_marker)
            bus.close()
            async with asyncio.timeout(5):
                got += [m async for m in sub]
        return got

    assert asyncio.run(scenario()) == [{"type": "marker"}]


def test_a_quiet_subscription_yields_heartbeats(bus: LiveBus) -> None:
    async def scenario() -> list[Message]:
        async with bus.subscription("p1", heartbeat_s=0.2) as sub:
            return await read_until(sub, lambda m: m == HEARTBEAT, timeout=5)

    assert asyncio.run(scenario()) == [HEARTBEAT]


def test_subscribe_as_a_generator_unsubscribes_when_closed() -> None:
    bus = InMemoryLiveBus()

    async def scenario() -> tuple[Message, int, int]:
        stream = bus.subscribe("p1")
        reading = asyncio.ensure_future(anext(stream))
        while not bus.subscribers("p1"):
            await asyncio.sleep(0.01)
        bus.publish("p1", {"type": "marker"})
        first = await reading
        during = bus.subscribers("p1")
        await stream.aclose()  # what the server does when the client goes away
        return first, during, bus.subscribers("p1")

    assert asyncio.run(scenario()) == ({"type": "marker"}, 1, 0)


def test_a_slow_reader_loses_the_oldest_messages_not_the_newest() -> None:
    bus = InMemoryLiveBus(queue_size=3)

    async def scenario() -> list[Message]:
        async with bus.subscription("p1") as sub:
            for n in range(5):
                bus.publish("p1", {"type": "n", "n": n})
            bus.publish("p1", {"type": "marker"})
            return await read_until(sub, is_marker)

    assert asyncio.run(scenario()) == [
        {"type": "n", "n": 3},
        {"type": "n", "n": 4},
        {"type": "marker"},
    ]


def test_publishing_while_redis_is_down_drops_quietly_and_fast() -> None:
    bus = RedisLiveBus(f"redis://127.0.0.1:{closed_port()}/0", "outage:")
    started = time.monotonic()
    for n in range(200):
        bus.publish("p1", {"type": "balance", "n": n})
    assert time.monotonic() - started < 2.0
    bus.close()


def test_subscribing_while_redis_is_down_does_not_raise_and_ends_on_close() -> None:
    bus = RedisLiveBus(f"redis://127.0.0.1:{closed_port()}/0", "outage:")

    async def scenario() -> list[Message]:
        async with bus.subscription("p1") as sub:
            asyncio.get_running_loop().call_later(0.3, bus.close)
            async with asyncio.timeout(5):
                return [m async for m in sub]

    assert asyncio.run(scenario()) == []


@pytest.mark.redis
def test_a_redis_subscription_resubscribes_after_its_connection_drops(
    redis_bus: RedisLiveBus, redis_prefix: tuple[str, str]
) -> None:
    admin = redis.Redis.from_url(redis_prefix[0], decode_responses=True)
    name = redis_bus.client_name

    def kill_subscriber() -> int:
        """Drop this bus's subscriber connection, as a Redis restart or a network cut would."""
        ours = [c for c in admin.client_list(_type="pubsub") if c.get("name") == name]
        for client in ours:
            admin.client_kill_filter(_id=client["id"])
        return len(ours)

    async def scenario() -> tuple[int, list[Message]]:
        async with redis_bus.subscription("p1") as sub:
            killed = await asyncio.to_thread(kill_subscriber)
            stop = threading.Event()

            def keep_publishing() -> None:  # until the re-subscribed connection hears one
                while not stop.wait(0.1):
                    redis_bus.publish("p1", {"type": "marker"})

            publisher = threading.Thread(target=keep_publishing)
            publisher.start()
            try:
                return killed, await read_until(sub, is_marker)
            finally:
                stop.set()
                publisher.join()

    killed, got = asyncio.run(scenario())
    admin.close()
    assert killed == 1
    assert got[-1] == {"type": "marker"}


# ---- the feed ------------------------------------------------------------------------------------


@pytest.fixture
def embedded_file(tmp_path: Path, clock: SteppingClock) -> Iterator[System]:
    """The embedded mode on a SQLite file: with ``sqlite::memory:`` every connection the
    library opens for another thread is a new, empty database, and the feed is a thread."""
    system = bootstrap(Settings(database_url=f"sqlite:{tmp_path / 'events.sqlite'}"), clock=clock)
    yield system
    system.close()


@pytest.fixture(params=["embedded_file", pytest.param("pg_system", marks=pytest.mark.postgres)])
def system(request: pytest.FixtureRequest) -> System:
    built: System = request.getfixturevalue(request.param)
    built.pools.create("wheel", "Wheel", 100, PoolControls(), op("create"))
    built.pools.add_prize("wheel", Prize("big", "Big", "cash", 500, 1), op("big"))
    built.pools.add_prize("wheel", Prize("chip", "Chip", "bonus", 10, 3), op("chip"))
    built.pools.fund("wheel", 1_000_000, op("fund"))
    for player in ("p1", "p2"):
        built.wallets.open(player, Cause(f"player:{player}", "open"))
    return built


def feed_for(system: System, bus: LiveBus) -> LiveFeed:
    settings = system.settings
    return LiveFeed(
        system.ledger,
        bus,
        conninfo=None if settings.embedded else settings.database_url,
        lease_scope=settings.schema,
    )


def deposit(system: System, player: str, amount: int, tag: str) -> None:
    d = system.deposits.request(player, amount, "EUR", "sandbox", Cause(f"player:{player}", tag))
    system.deposits.confirm(UUID(d.deposit_id), f"psp-{tag}", Cause("system:psp", f"wh-{tag}"))


def test_the_feed_publishes_balances_deposits_and_draws_to_their_player(system: System) -> None:
    bus = InMemoryLiveBus()
    feed = feed_for(system, bus)
    feed.start()
    assert feed.position == system.ledger.recorder.max_notification_id()

    async def scenario() -> tuple[list[Message], list[Message], Any]:
        async with bus.subscription("p1") as p1, bus.subscription("p2") as p2:
            await asyncio.to_thread(deposit, system, "p1", 5_000, "d1")
            mine = await read_until(
                p1, all_of(balance_of(5_000), lambda m: m.get("state") == "credited")
            )
            outcome = await asyncio.to_thread(
                system.draws.draw, "p1", "wheel", 3, Cause("player:p1", "draw-1")
            )
            mine += await read_until(
                p1, all_of(lambda m: m["type"] == "draw", balance_of(outcome.available_after))
            )
            await asyncio.to_thread(deposit, system, "p2", 700, "d2")
            others = await read_until(
                p2, all_of(balance_of(700), lambda m: m.get("state") == "credited")
            )
            return mine, others, outcome

    try:
        mine, others, outcome = asyncio.run(scenario())
    finally:
        feed.stop()

    deposits = [m for m in mine if m["type"] == "deposit"]
    assert (deposits[-1]["state"], deposits[-1]["amount"]) == ("credited", 5_000)
    wallet = system.wallets.balances("p1")
    balance = [m for m in mine if m["type"] == "balance"][-1]
    assert balance == {
        "type": "balance",
        "available": wallet.available,
        "locked": 0,
        "bonus": wallet.bonus,
        "currency": "EUR",
        "version": wallet.version,
    }
    won_cash = sum(r["reward"] for r in outcome.results if r["kind"] == "cash")
    assert balance["available"] == 5_000 - 300 + won_cash
    (draw,) = [m for m in mine if m["type"] == "draw"]
    assert draw["draw_id"] == outcome.draw_id
    assert (draw["pool_key"], draw["status"], draw["cost_total"]) == ("wheel", "settled", 300)
    assert [(r["outcome"], r["prize_id"], r["reward"]) for r in draw["results"]] == [
        (r["outcome"], r["prize_id"], r["reward"]) for r in outcome.results
    ]
    # p2 heard only about p2's own money.
    assert {m["type"] for m in others} == {"deposit", "balance"}
    assert all(m["amount"] == 700 for m in others if m["type"] == "deposit")


def test_a_page_at_a_time_the_balances_follow_every_event(system: System) -> None:
    """Pages of one notification: the feed's own wallets move forward event by event (and
    are loaded from the store when they are not cached) to the same balances as the ledger."""
    bus = InMemoryLiveBus()
    feed = LiveFeed(system.ledger, bus, batch_size=1)
    feed._position = system.ledger.recorder.max_notification_id() or 0  # as the leader would
    deposit(system, "p1", 5_000, "d1")
    messages: list[Message] = []
    wallet = system.wallets.balances("p1")

    async def scenario() -> None:
        async with bus.subscription("p1") as sub:
            for n in range(3):
                system.draws.draw("p1", "wheel", 2, Cause("player:p1", f"draw-{n}"))
            while feed.step():
                pass
            bus.publish("p1", {"type": "marker"})
            messages.extend(await read_until(sub, is_marker))

    asyncio.run(scenario())
    feed._wallets.clear()  # a cold cache: loaded from the store
    deposit(system, "p1", 100, "d2")
    while feed.step():
        pass

    wallet = system.wallets.balances("p1")
    balances = [m for m in messages if m["type"] == "balance"]
    versions = [m["version"] for m in balances]
    assert versions == sorted(set(versions))
    assert len([m for m in messages if m["type"] == "draw"]) == 3
    assert feed._wallets, "the feed keeps the wallets it published"
    (cached,) = feed._wallets.values()
    assert (cached.available, cached.bonus, cached.version) == (
        wallet.available,
        wallet.bonus,
        wallet.version,
    )


@pytest.mark.postgres
def test_only_one_feed_publishes_and_a_standby_takes_over(pg_system: System) -> None:
    pg_system.wallets.open("p1", Cause("player:p1", "open"))
    bus = InMemoryLiveBus()
    leader, standby = feed_for(pg_system, bus), feed_for(pg_system, bus)
    leader.start()
    standby.start()
    assert leader.position is not None
    assert standby.position is None

    async def deposits(tag: str, amounts: list[int]) -> list[Message]:
        """Each deposit's messages up to its balance, then whatever else came (a marker
        published after a pause ends the reading: a second publisher would show by then)."""
        got: list[Message] = []
        total = pg_system.wallets.balances("p1").available
        async with bus.subscription("p1") as sub:
            for n, amount in enumerate(amounts):
                await asyncio.to_thread(deposit, pg_system, "p1", amount, f"{tag}-{n}")
                total += amount
                got += await read_until(sub, balance_of(total))
            await asyncio.sleep(0.5)
            bus.publish("p1", {"type": "marker"})
            got += await read_until(sub, is_marker)
        return got

    try:
        led = asyncio.run(deposits("lead", [100, 200]))
        leader.stop()
        # The standby asks for the lease once a second and starts at the head it then sees.
        deadline = time.monotonic() + 10
        while standby.position is None and time.monotonic() < deadline:
            time.sleep(0.05)
        taken_over = asyncio.run(deposits("standby", [300]))
    finally:
        leader.stop()
        standby.stop()
    for messages in (led, taken_over):
        versions = [m["version"] for m in messages if m["type"] == "balance"]
        assert versions == sorted(set(versions)), "a wallet version was published twice"
    assert [m["available"] for m in taken_over if m["type"] == "balance"][-1] == 600


@pytest.mark.postgres
@pytest.mark.redis
def test_the_feed_reaches_a_redis_subscriber(pg_system: System, redis_bus: RedisLiveBus) -> None:
    pg_system.wallets.open("p1", Cause("player:p1", "open"))
    feed = feed_for(pg_system, redis_bus)
    feed.start()

    async def scenario() -> list[Message]:
        subscription: AbstractAsyncContextManager[AsyncIterator[Message]]
        subscription = redis_bus.subscription("p1")
        async with subscription as sub:
            await asyncio.to_thread(deposit, pg_system, "p1", 1_234, "r1")
            return await read_until(sub, balance_of(1_234))

    try:
        got = asyncio.run(scenario())
    finally:
        feed.stop()
    assert got[-1]["available"] == 1_234
    assert got[-1]["version"] == pg_system.wallets.balances("p1").version
