"""``prizeledger events tail``: the notification log as it is stored, decoded, secrets hidden."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import Notification

from infrastructure.projector import Waker
from ops.audit.cli import TAIL_LAST
from ops.audit.console import OK, USAGE, opened
from ops.audit.log import pages, plain, qualname_of, redacted

if TYPE_CHECKING:
    from infrastructure.bootstrap import System

__all__ = ["describe", "run", "tail"]

_ENVELOPE = {"originator_id", "originator_version", "originator_topic", "timestamp"}


def describe(system: System, notification: Notification) -> dict[str, Any]:
    """A notification with its decoded attributes (None, with ``error``, if undecodable)."""
    found: dict[str, Any] = {
        "id": notification.id,
        "topic": qualname_of(notification.topic),
        "originator_id": str(notification.originator_id),
        "originator_version": notification.originator_version,
    }
    try:
        event: Any = system.ledger.mapper.to_domain_event(notification)
    except Exception as error:
        return {**found, "timestamp": None, "attributes": None, "error": str(error)}
    attributes = {k: v for k, v in vars(event).items() if k not in _ENVELOPE}
    return {**found, "timestamp": event.timestamp, "attributes": plain(redacted(attributes))}


def _print(item: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(plain(item)), flush=True)
        return
    attributes = item["attributes"]
    shown = json.dumps(attributes) if attributes is not None else f"<undecodable: {item['error']}>"
    print(
        f"#{item['id']} {item['topic']} {item['originator_id']} v{item['originator_version']}"
        f" {shown}",
        flush=True,
    )


def tail(
    system: System,
    start: int | None,
    limit: int | None,
    follow: bool,
    as_json: bool,
    stop: threading.Event,
) -> int:
    """Print from ``start`` (default: the last ``limit or TAIL_LAST``), at most ``limit`` when a
    start is given; with ``follow``, then wait for new ones until ``stop``. Returns how many
    were printed."""
    recorder = system.ledger.recorder
    if start is None:
        start = max(1, (recorder.max_notification_id() or 0) - (limit or TAIL_LAST) + 1)
        limit = None if follow else limit or TAIL_LAST
    printed, position = 0, start - 1
    waker = Waker(
        None if system.settings.embedded else system.settings.database_url,
        getattr(recorder, "channel_name", None),
        poll_s=0.5,
    )
    try:
        while not stop.is_set():
            for page in pages(recorder, position + 1):
                for notification in page:
                    _print(describe(system, notification), as_json)
                    printed, position = printed + 1, notification.id
                    if limit is not None and printed >= limit:
                        return printed
            if not follow:
                return printed
            waker.wait(timeout=1.0)
    finally:
        waker.close()
    return printed


def run(args: argparse.Namespace) -> int:
    """Print notifications (id, event, aggregate, version, decoded attributes; secrets such as
    a pool's unrevealed server seed hidden); --follow waits for new ones."""
    if (args.first is not None and args.first < 1) or (args.limit is not None and args.limit < 1):
        print("prizeledger events tail: --from and --limit are 1 or more", file=sys.stderr)
        return USAGE
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with opened() as system:
        tail(system, args.first, args.limit, args.follow, args.json, stop)
    return OK
