"""``prizeledger verify-draw``: recompute draws from the revealed server seed.

Each result of a Draw's trace is recomputed with ``domain.fairness.verify_draw`` from the seed
its epoch revealed (the pool's ``EpochRotated`` events, via ``Pools.epochs``), the client seed,
the nonce and the weights in the trace; the trace's commitment must be the one the pool
published for that epoch. A draw of the current epoch cannot be checked until the epoch rotates:
for one draw that is exit 1 (nothing was proven); with ``--all`` such draws are counted as
pending and do not fail the run.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any
from uuid import UUID

from application.errors import NotFound
from domain.draw import Draw
from domain.fairness import verify_draw
from ops.audit.console import FAILED, OK, USAGE, Progress, emit_json, opened
from ops.audit.log import pages

if TYPE_CHECKING:
    from infrastructure.bootstrap import System

__all__ = ["DrawProof", "prove_draw", "prove_pool", "run"]

_DRAW_EXECUTED = f"{Draw.__module__}:Draw.Executed"
# What a trace must hold for a recomputation to prove anything (verify_draw compares the rest).
_PROVEN = ("value", "arm", "total", "outcome")


@dataclass
class DrawProof:
    draw_id: str
    player_id: str
    pool_key: str
    status: str  # verified | pending | failed | refused (nothing was drawn)
    results: int
    problems: list[str] = field(default_factory=list)
    pending_epochs: list[int] = field(default_factory=list)


Seeds = dict[int, tuple[str, str | None]]  # epoch -> (commitment, revealed seed or None)


def _seeds(system: System, pool_key: str) -> Seeds:
    return {e.epoch: (e.commitment, e.revealed_seed) for e in system.pools.epochs(pool_key)}


def _prove(draw_id: str, event: Any, seeds: Seeds) -> DrawProof:
    proof = DrawProof(draw_id, event.player_id, event.pool_key, "verified", len(event.results))
    if not event.results:
        proof.status = "refused"
        return proof
    for trace in event.results:
        index = trace.get("index")
        epoch = trace.get("epoch")
        if epoch not in seeds:
            proof.problems.append(f"result {index}: pool has no epoch {epoch!r}")
            continue
        commitment, seed = seeds[epoch]
        if trace.get("commitment") != commitment:
            proof.problems.append(
                f"result {index}: trace commitment {trace.get('commitment')!r} is not epoch"
                f" {epoch}'s published {commitment}"
            )
            continue
        if seed is None:
            if epoch not in proof.pending_epochs:
                proof.pending_epochs.append(epoch)
            continue
        missing = [k for k in _PROVEN if k not in trace]
        if missing:
            proof.problems.append(f"result {index}: the trace lacks {', '.join(missing)}")
            continue
        try:
            verify_draw(trace, seed)
        except (ValueError, KeyError, TypeError) as error:
            proof.problems.append(f"result {index}: {error}")
    if proof.problems:
        proof.status = "failed"
    elif proof.pending_epochs:
        proof.status = "pending"
    return proof


def prove_draw(system: System, draw_id: UUID) -> DrawProof:
    """One draw, read from its own stream. Raises NotFound."""
    event: Any = next(iter(system.ledger.events.get(draw_id)), None)
    if event is None or type(event).__qualname__ != "Draw.Executed":
        raise NotFound(f"no draw {draw_id}")
    return _prove(str(draw_id), event, _seeds(system, event.pool_key))


def prove_pool(
    system: System, pool_key: str, epoch: int | None = None, progress: Any = None
) -> list[DrawProof]:
    """Every draw of ``pool_key`` (with a result in ``epoch``, if given), in log order, read
    from the notification log. Raises NotFound for an unknown pool."""
    seeds = _seeds(system, pool_key)
    recorder, mapper = system.ledger.recorder, system.ledger.mapper
    head = recorder.max_notification_id() or 0
    proofs = []
    # Not ``select_notifications(topics=…)``: filtered by topic, each page scans the table again.
    for page in pages(recorder, 1, stop=head):
        for notification in page:
            if notification.topic != _DRAW_EXECUTED:
                continue
            event: Any = mapper.to_domain_event(notification)
            if event.pool_key != pool_key:
                continue
            if epoch is not None and all(r.get("epoch") != epoch for r in event.results):
                continue
            proofs.append(_prove(str(notification.originator_id), event, seeds))
        if progress is not None:
            progress(page[-1].id, head)
    return proofs


def _line(proof: DrawProof) -> str:
    what = {
        "verified": f"verified ({proof.results} result(s) recomputed)",
        "pending": f"pending reveal (epoch {', '.join(map(str, proof.pending_epochs))} not"
        " rotated yet)",
        "refused": "refused: nothing was drawn",
        "failed": "FAILED: " + "; ".join(proof.problems),
    }[proof.status]
    return f"{proof.draw_id}  {proof.player_id}  {proof.pool_key}  {what}"


def run(args: argparse.Namespace) -> int:
    """Recompute draws from the revealed server seed, client seed, nonce and weights in their
    traces (exit 1 if one does not match, or if a single draw's epoch is not revealed yet)."""
    if args.all == (args.draw_id is not None) or (args.all and not args.pool):
        print("prizeledger verify-draw: give DRAW_ID, or --all --pool P", file=sys.stderr)
        return USAGE
    try:
        draw_id = UUID(args.draw_id) if args.draw_id else None
    except ValueError:
        print(f"prizeledger verify-draw: not a draw id: {args.draw_id!r}", file=sys.stderr)
        return USAGE
    progress = Progress("verify-draw")
    with opened() as system:
        try:
            if draw_id is not None:
                proofs = [prove_draw(system, draw_id)]
            else:
                proofs = prove_pool(system, args.pool, args.epoch, progress)
        except NotFound as error:
            print(f"prizeledger verify-draw: {error}", file=sys.stderr)
            return FAILED
    progress.close()
    counts = {s: sum(p.status == s for p in proofs) for s in ("verified", "pending", "refused")}
    counts["failed"] = sum(p.status == "failed" for p in proofs)
    if args.json:
        emit_json({"counts": counts, "draws": [asdict(p) for p in proofs]})
    else:
        shown = (
            proofs
            if draw_id is not None or args.verbose
            else [p for p in proofs if p.status == "failed"]
        )
        for proof in shown:
            print(_line(proof))
        if draw_id is None:
            print(", ".join(f"{n} {s}" for s, n in counts.items()) + f" (pool {args.pool})")
    if counts["failed"] or (draw_id is not None and counts["pending"]):
        return FAILED
    return OK
