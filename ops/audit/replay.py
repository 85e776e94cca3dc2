"""``prizeledger replay``: an aggregate's state at a version or a point in time, folded from its
raw events (no snapshot, no cache: what the events alone say)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain import ids
from domain.account import PlayerAccount
from domain.deposit import Deposit
from domain.draw import Draw
from domain.pool import PrizePool
from domain.wallet import Wallet
from domain.withdrawal import Withdrawal
from ops.audit.console import FAILED, OK, USAGE, UsageError, emit_json, opened, parse_time
from ops.audit.log import plain, redacted

if TYPE_CHECKING:
    from application.ledger import Ledger

__all__ = ["KINDS", "Replayed", "replay", "run"]

# kind -> (aggregate class, how a readable key names its stream, if it has one)
KINDS: dict[str, tuple[type[Aggregate], Callable[[str], UUID] | None]] = {
    "wallet": (Wallet, ids.wallet_id),  # a player id
    "pool": (PrizePool, ids.pool_id),  # a pool key
    "draw": (Draw, None),
    "deposit": (Deposit, None),
    "withdrawal": (Withdrawal, None),
    "account": (PlayerAccount, ids.account_id),  # an e-mail address
}


class ReplayFailed(Exception):
    """The stream does not exist, is another kind, or cannot be folded."""


@dataclass(frozen=True, slots=True)
class Replayed:
    kind: str
    aggregate_id: str
    version: int
    events: int  # applied
    latest_version: int  # of the whole stream
    at: datetime  # the last applied event's time
    state: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        found: dict[str, Any] = plain(
            {
                "kind": self.kind,
                "id": self.aggregate_id,
                "version": self.version,
                "latest_version": self.latest_version,
                "at": self.at,
                "state": self.state,
            }
        )
        return found


def stream_id(kind: str, key: str) -> UUID:
    """The aggregate id: a UUID as given, else the kind's readable key (player id, pool key,
    e-mail) turned into its stream id."""
    _, named = KINDS[kind]
    try:
        return UUID(key)
    except ValueError:
        if named is None:
            raise UsageError(f"a {kind} is named by its UUID, got {key!r}") from None
        return named(key)


def replay(
    ledger: Ledger,
    kind: str,
    aggregate_id: UUID,
    to_version: int | None = None,
    as_of: datetime | None = None,
) -> Replayed:
    """The state after version ``to_version`` or after the last event at or before ``as_of``
    (default: the latest). Raises ReplayFailed."""
    cls, _ = KINDS[kind]
    aggregate: Any = None
    applied, latest = 0, 0
    events: Any = ledger.events.get(aggregate_id)
    for event in events:
        latest = event.originator_version
        if (to_version is not None and latest > to_version) or (
            as_of is not None and event.timestamp > as_of
        ):
            continue  # keep counting the stream's versions
        try:
            aggregate = event.mutate(aggregate)
        except Exception as error:
            raise ReplayFailed(f"version {latest} does not apply: {error!r}") from error
        applied += 1
    if latest == 0:
        raise ReplayFailed(f"no {kind} {aggregate_id}")
    if aggregate is None:
        raise ReplayFailed(f"{kind} {aggregate_id} did not exist yet at that point")
    if not isinstance(aggregate, cls):
        raise ReplayFailed(f"{aggregate_id} is a {type(aggregate).__name__}, not a {kind}")
    state = {k.lstrip("_"): v for k, v in vars(aggregate).items() if k != "_pending_events"}
    return Replayed(
        kind, str(aggregate_id), aggregate.version, applied, latest, aggregate.modified_on,
        redacted(state),
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """An aggregate's state at a version or time, folded from its raw events."""
    try:
        if args.to_version is not None and args.to_version < 1:
            raise UsageError("--to-version is 1 or more")
        as_of = parse_time(args.as_of, "--as-of") if args.as_of else None
        aggregate_id = stream_id(args.kind, args.id)
    except UsageError as error:
        print(f"prizeledger replay: {error}", file=sys.stderr)
        return USAGE
    with opened() as system:
        try:
            found = replay(system.ledger, args.kind, aggregate_id, args.to_version, as_of)
        except ReplayFailed as error:
            print(f"prizeledger replay: {error}", file=sys.stderr)
            return FAILED
    if args.json:
        emit_json(found.to_json())
        return OK
    print(
        f"{found.kind} {found.aggregate_id} at version {found.version} of"
        f" {found.latest_version} ({found.at.isoformat()})"
    )
    for key, value in plain(found.state).items():
        shown = json.dumps(value) if isinstance(value, dict | list) else value
        print(f"  {key}: {shown}")
    return OK
