"""Live updates: per-player messages (balance changes, draw results, deposit and withdrawal
states) pushed to the player's open event streams (SSE).

Best effort by design: a message lost to a Redis outage, a full queue or a restart costs a
client nothing but a refetch, which it does anyway when it reconnects. Money never depends on
this package, and a publisher never sees an error from it.

* ``bus``: ``LiveBus`` — ``InMemoryLiveBus`` (embedded: the feed runs in the app process) and
  ``RedisLiveBus`` (production: every API process subscribes to one channel per player).
* ``feed``: ``LiveFeed`` follows the event store and publishes (in the projector process in
  production, under an advisory lock; in the app process when embedded).
"""

from infrastructure.live.bus import HEARTBEAT, InMemoryLiveBus, LiveBus, Message, RedisLiveBus
from infrastructure.live.feed import LiveFeed

__all__ = ["HEARTBEAT", "InMemoryLiveBus", "LiveBus", "LiveFeed", "Message", "RedisLiveBus"]
