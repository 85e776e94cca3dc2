"""What ``prizeledger verify`` reads of its two most common events, decoded straight from the
stored MessagePack into typed views that leave out what no check reads.

A draw request stores a Wallet.DrawsSettled and a Draw.Executed; together they are nearly every
event of a busy ledger. Decoded whole, each becomes a dict of every attribute (a Draw's results
with their weights tables, exclusions and random values; a settlement's play counters with two
times) that the fold's checks never look at. A view keeps only the attributes the checks read,
with the values the whole decode would give them:

- ``Any`` where a check reads the value as it is, so the view holds the very object the whole
  decode would (a tampered value included);
- ``str`` / ``int`` exactly where the settlement's postings are made straight from the
  attributes (``domain.postings.draws_settled_moves`` takes only those types);
- a Draw's results as dicts of the keys the checks read (``_Result``, none required: a key the
  stored result lacks is missing from the view's dict too, as it would be from the whole one).

A stored event a view cannot decode (an attribute missing, an amount that is not exactly an int,
results that are not a list of maps with text keys, state that is not MessagePack) is decoded the
usual way instead, so the checks name it exactly as they did. A Draw's view lacks the rest of
its results, which its ``draws`` read-model row holds: while that row is still to be digested
(``DrawChecks.rows``) the fold decodes Draws whole (``WHOLE_FOR_ROWS``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypedDict

import msgspec
from eventsourcing.persistence import Mapper

from domain.postings import Move, draws_settled_moves, moves_for
from infrastructure.transcoder import MsgspecTranscoder

__all__ = [
    "VIEWS",
    "WHOLE_FOR_ROWS",
    "DrawsSettledView",
    "ExecutedView",
    "moves_of",
    "view_decoder",
]


class _Result(TypedDict, total=False):
    """The keys of a Draw's result that the draw checks read (``ops.audit.draw_checks``)."""

    index: Any
    nonce: Any
    client_seed: Any
    epoch: Any
    commitment: Any
    arm: Any
    outcome: Any
    prize_id: Any
    kind: Any
    reward: Any
    cost: Any


class ExecutedView(msgspec.Struct):
    """Draw.Executed, as the fold's draw checks read it."""

    player_id: Any
    pool_key: Any
    requested: Any
    status: Any
    reason: Any
    results: list[_Result]
    cost_total: Any
    at: Any


class DrawsSettledView(msgspec.Struct):
    """Wallet.DrawsSettled, as the fold reads it: its postings, its charge and its time."""

    timestamp: Any
    draw_id: Any
    pool_key: str
    player_id: str
    currency: str
    cost_total: int
    from_bonus: int
    from_available: int
    cash_won: int
    bonus_won: int
    nonce: Any


VIEWS: dict[str, type[msgspec.Struct]] = {
    "Draw.Executed": ExecutedView,
    "Wallet.DrawsSettled": DrawsSettledView,
}
# Views that lack what a Draw's ``draws`` read-model row holds.
WHOLE_FOR_ROWS = {"Draw.Executed"}


def view_decoder(name: str, mapper: Mapper[Any]) -> Callable[[bytes], Any] | None:
    """The view of events named ``name`` from their stored state, or None where there is none
    (no view for the event; a store not written by ``MsgspecTranscoder``; or state that is
    encrypted or compressed, which the mapper undoes). The decoder returns None for state the
    view cannot take: such an event is decoded whole."""
    view = VIEWS.get(name)
    if view is None or type(mapper.transcoder) is not MsgspecTranscoder:
        return None
    if mapper.cipher is not None or mapper.compressor is not None:
        return None
    decode = msgspec.msgpack.Decoder(view).decode

    def decoded(state: bytes) -> Any:
        try:
            return decode(state)
        except Exception:  # the whole decode names what is wrong with it, as for any event
            return None

    return decoded


def moves_of(event: Any) -> list[Move]:
    """``domain.postings.moves_for``, and a settlement's view's moves. Its view holds its names
    and amounts as exactly str and int, which is what ``draws_settled_moves`` takes."""
    if type(event) is DrawsSettledView:
        found = draws_settled_moves(event)
        if found is None:  # cannot happen with the types above; never silently no postings
            raise TypeError("a draw settlement's view without its names and amounts")
        return found
    return moves_for(event)
