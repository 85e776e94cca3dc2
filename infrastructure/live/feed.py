"""LiveFeed: follows the event store's notification log and publishes, per player, what their
open screens should show at once.

Per page of notifications (in order of first appearance):

* every wallet touched by a Wallet event → one ``balance`` message with the wallet as of the
  page's last event of it (a page of 64 settled draws is one message, not 64). The feed keeps
  the wallets it published in a cache of its own and moves them forward by the page's events;
  it loads one from the store only when it is not cached or the page does not follow on;
* every Draw → a ``draw`` message (the outcome of each draw; the full trace stays behind
  ``GET /draws/{id}``);
* every deposit or withdrawal touched → a ``deposit`` / ``withdrawal`` message with its state.

Each player's messages of a page go out together (``LiveBus.publish_batch``: one Redis round trip
per page, one PUBLISH per player). Its position is not tracked: after a restart (or when a standby
takes over) it starts at the head, and clients refetch on reconnect. On Postgres it holds an
advisory lock (the projector's ``Leases``) so that one process per deployment publishes; it wakes on
the event store's NOTIFY (the projector's ``Waker``), and polls every 50 ms when embedded; while
events keep coming it waits a few ms after a wake-up (``gather_s``) so that a page holds more.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from application.ledger import Ledger
from infrastructure.live.bus import LiveBus, Message
from infrastructure.projector import GATHER_S, Leases, Waker

__all__ = ["LEASE", "LiveFeed", "draw_message"]

log = logging.getLogger(__name__)

LEASE = "live_feed"  # the advisory lock's name, next to the projections' (none is called so)
STANDBY_S = 1.0  # how often a standby asks for the lease
RESULT_KEYS = ("index", "outcome", "prize_id", "kind", "reward", "cost", "nonce")
FOLLOWED = {"Wallet", "Draw", "Deposit", "Withdrawal"}
WALLET_CACHE = 10_000  # wallets kept between pages (the least recently published go first)


def draw_message(event: Any) -> Message:
    """A Draw.Executed event as the player sees it live."""
    return {
        "type": "draw",
        "draw_id": str(event.originator_id),
        "pool_key": event.pool_key,
        "status": event.status,
        "reason": event.reason,
        "requested": event.requested,
        "cost_total": event.cost_total,
        "available_after": event.available_after,
        "bonus_after": event.bonus_after,
        "at": event.at.isoformat(),
        "results": [{key: result.get(key) for key in RESULT_KEYS} for result in event.results],
    }


class LiveFeed:
    def __init__(
        self,
        ledger: Ledger,
        bus: LiveBus,
        *,
        conninfo: str | None = None,
        lease_scope: str = "public",
        batch_size: int = 500,
        poll_s: float = 0.05,
        gather_s: float = GATHER_S,
    ) -> None:
        """``conninfo`` (Postgres) enables the lease and NOTIFY wake-ups; None means embedded:
        always the leader, polling every ``poll_s``. ``gather_s``: as the projector's, how long
        to wait after a wake-up for more events while they keep coming."""
        self._ledger = ledger
        self._bus = bus
        self._batch_size = batch_size
        self._gather_s = gather_s
        self._waker = Waker(conninfo, getattr(ledger.recorder, "channel_name", None), poll_s)
        self._leases = Leases(conninfo, lease_scope)
        self._position: int | None = None  # None while not the leader
        self._wallets: OrderedDict[UUID, Any] = OrderedDict()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def position(self) -> int | None:
        """The last notification published (None while a standby)."""
        return self._position

    def start(self) -> None:
        """Follow the log in a background thread, from the head as of now if this process
        gets the lease now (events recorded after ``start`` returns are published)."""
        if self._thread is not None:
            return
        self._stop.clear()
        try:
            self._lead()
        except Exception as error:  # the store is down: the thread keeps trying
            log.warning("live feed: not started at the head yet: %r", error)
        self._thread = threading.Thread(target=self._run, name="live-feed", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop publishing and release the lease (a standby takes over)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        self._waker.close()
        self._leases.close()
        self._position = None

    def _lead(self) -> bool:
        """True while this instance holds the lease; taking it starts at the head."""
        self._leases.check()
        if not self._leases.acquire(LEASE):
            self._position = None
            return False
        if self._position is None:
            self._wallets.clear()  # a standby's cache may be stale: it will not be followed on
            self._position = self._ledger.recorder.max_notification_id() or 0
        return True

    def _run(self) -> None:
        delay = 0.1
        while not self._stop.is_set():
            try:
                if not self._lead():
                    self._stop.wait(STANDBY_S)
                    continue
                published = self.step()
                delay = 0.1
            except Exception as error:  # the store went away: keep trying
                log.warning("live feed step failed, retrying in %.1fs: %r", delay, error)
                self._stop.wait(delay)
                delay = min(delay * 2, 5.0)
                continue
            if published < self._batch_size:
                self._waker.wait(timeout=0.5)
                if published and self._gather_s > 0:
                    self._stop.wait(self._gather_s)  # fewer, fuller pages while busy

    def step(self) -> int:
        """Publish the next page after the position; returns how many notifications it had."""
        if self._position is None:
            return 0
        page = self._ledger.recorder.select_notifications(
            start=self._position + 1, limit=self._batch_size
        )
        if page:
            self._publish(page)
            self._position = page[-1].id
        return len(page)

    def _publish(self, page: Sequence[Any]) -> None:
        touched: dict[tuple[str, UUID], list[Any]] = {}
        for notification in page:
            kind = notification.topic.partition(":")[2].partition(".")[0]
            if kind in FOLLOWED:
                touched.setdefault((kind, notification.originator_id), []).append(notification)
        outbox: dict[str, list[Message]] = {}
        for (kind, originator_id), notifications in touched.items():
            try:
                addressed = self._message(kind, originator_id, notifications)
            except Exception:  # best effort: one unreadable aggregate does not stop the feed
                log.warning("live feed: skipped %s %s", kind, originator_id, exc_info=True)
                continue
            if addressed is not None:
                outbox.setdefault(addressed[0], []).append(addressed[1])
        self._bus.publish_batch(outbox)

    def _message(
        self, kind: str, originator_id: UUID, notifications: list[Any]
    ) -> tuple[str, Message] | None:
        if kind == "Draw":
            event: Any = self._ledger.mapper.to_domain_event(notifications[0])
            return event.player_id, draw_message(event)
        if kind == "Wallet":
            wallet = self._wallet_after(originator_id, notifications)
            if wallet is None:
                return None
            return wallet.player_id, {
                "type": "balance",
                "available": wallet.available,
                "locked": wallet.locked,
                "bonus": wallet.bonus,
                "currency": wallet.currency,
                "version": wallet.version,
            }
        aggregate: Any = self._ledger.repository.get(originator_id)
        return aggregate.player_id, {
            "type": kind.lower(),  # deposit | withdrawal
            "id": str(aggregate.id),
            "state": aggregate.state,
            "amount": aggregate.amount_minor,
            "currency": aggregate.currency,
        }

    def _wallet_after(self, wallet_id: UUID, notifications: list[Any]) -> Any:
        """The wallet as of its last event in the page: the cached one with the page's events
        applied, or loaded from the store (it may then be newer than the page) when it is not
        cached or an event is missing in between (the cache is dropped on a failure). None
        when the page has nothing newer than what was published (a load ran ahead of it)."""
        wallet = self._wallets.pop(wallet_id, None)
        moved = False
        for notification in notifications:
            version = notification.originator_version
            if wallet is not None and version <= wallet.version:
                continue  # loaded from the store after this event was recorded
            moved = True
            if wallet is None or version != wallet.version + 1:
                # A copy of our own: the feed's wallets move forward apart from the ledger's.
                wallet = copy.deepcopy(self._ledger.repository.get(wallet_id))
                continue
            event: Any = self._ledger.mapper.to_domain_event(notification)
            wallet = event.mutate(wallet)
        self._wallets[wallet_id] = wallet
        if len(self._wallets) > WALLET_CACHE:
            self._wallets.popitem(last=False)
        return wallet if moved else None
