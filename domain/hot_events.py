"""Recording the draw path's events without the library's per-call signature work.

Calling an ``@event`` method (or an aggregate class) makes eventsourcing match the arguments to
the method's signature, filter them against the event class, copy them twice and filter them
again on apply — most of the cost of recording one event, paid per draw by the group-commit
desk. These helpers build the very same event (the class the decorator generated, constructed
by its own dataclass ``__init__``, so the stored event is identical) and apply it by calling the
decorated method's own body, then advance the aggregate exactly as the library's ``mutate``
does. Replay is untouched: it still runs the ``@event`` body through the library.

Only for bodies whose parameters are exactly the event's own attributes (no ``timestamp`` or
``id`` parameter); tests/unit/test_hot_events.py checks each use against the library's path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic

__all__ = ["body_of", "create", "trigger"]

A = TypeVar("A", bound=Aggregate)


def body_of(aggregate_cls: type[Aggregate], method_name: str) -> Callable[..., None]:
    """The undecorated body of ``aggregate_cls``'s ``@event`` method ``method_name``."""
    decorator = aggregate_cls.__dict__[method_name]
    body: Callable[..., None] = decorator.decorated_func
    return body


def trigger(
    aggregate: Aggregate,
    event_cls: type[Any],
    body: Callable[..., None],
    params: dict[str, Any],
) -> None:
    """What calling the ``@event`` method ``body`` with ``params`` does: the next event of
    ``aggregate``, applied, then pending."""
    new_event = event_cls(
        originator_id=aggregate.id,
        originator_version=aggregate.version + 1,
        timestamp=event_cls.create_timestamp(),  # the library's own source of event time
        **params,
    )
    body(aggregate, **params)
    aggregate.version = new_event.originator_version
    aggregate.modified_on = new_event.timestamp
    aggregate.pending_events.append(new_event)


def create(
    aggregate_cls: type[A], event_cls: type[Any], aggregate_id: UUID, params: dict[str, Any]
) -> A:
    """What calling ``aggregate_cls(**params)`` does when its ``__init__`` is the ``@event``
    body and ``aggregate_id`` is what its ``create_id`` returns for ``params``."""
    created = event_cls(
        originator_id=aggregate_id,
        originator_version=aggregate_cls.INITIAL_VERSION,
        timestamp=event_cls.create_timestamp(),
        originator_topic=get_topic(aggregate_cls),
        **params,
    )
    aggregate = aggregate_cls.__new__(aggregate_cls)
    aggregate.__base_init__(created.originator_id, created.originator_version, created.timestamp)
    aggregate.__init__(**params)  # type: ignore[misc]
    aggregate.pending_events.append(created)
    return aggregate
