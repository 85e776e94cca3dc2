"""Draw invariants: every draw request has exactly one Draw, one wallet record (a charge or a
refusal) and one place in its pool's batch, and they agree — with one outcome per charged draw.

The three records are saved in one transaction (pool batch, then wallets, then Draws), so a
request's parts normally meet within a few notifications; only unmatched parts stay in memory.
Fairness inputs are checked too: nonces never reused, the wallet's client seed, the pool's
commitment, epoch and draw cost in every trace.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import msgspec

from domain.pool import PrizePool
from projections.base import iso

__all__ = ["Charge", "DrawChecks", "Ref"]

Ref = tuple[int, str, str]  # (notification id, aggregate id, event qualname)
Offend = Callable[[str, str, Ref], None]


class Charge:
    """What the wallet recorded for one request: a charge (settled) or a refusal."""

    __slots__ = (
        "bonus_won",
        "cash_won",
        "client_seed",
        "cost_total",
        "nonce_from",
        "nonce_to",
        "player_id",
        "pool_key",
        "ref",
        "settled",
    )

    def __init__(
        self, ref: Ref, event: Any, player_id: str, nonce_from: int, client_seed: str
    ) -> None:
        """``event`` is a Wallet.DrawsSettled (a charge) or a Wallet.DrawRefused."""
        self.ref = ref
        self.settled = ref[2] == "Wallet.DrawsSettled"
        self.player_id = player_id
        self.pool_key: str = event.pool_key
        self.cost_total: int = event.cost_total if self.settled else 0
        self.cash_won: int = event.cash_won if self.settled else 0
        self.bonus_won: int = event.bonus_won if self.settled else 0
        self.nonce_from = nonce_from
        self.nonce_to: int = event.nonce if self.settled else nonce_from
        self.client_seed = client_seed


class _Batch:
    """A pool's record of one group commit, and what its draws turned out to win."""

    __slots__ = (
        "commitment",
        "cost",
        "draws",
        "epoch",
        "pool_key",
        "prizes",
        "ref",
        "remaining",
        "settled",
        "wins",
        "won",
    )

    def __init__(self, ref: Ref, event: Any, pool: PrizePool | None) -> None:
        self.ref = ref
        self.wins: list[str] = list(event.wins)
        self.draws: int = event.draws
        self.remaining: int = len(event.draw_ids)
        self.won: list[str] = []
        self.settled = 0
        self.pool_key = pool.pool_key if pool else None
        self.epoch = pool.epoch if pool else None
        self.commitment = pool.commitment if pool else None
        self.cost = pool.draw_cost if pool else None
        self.prizes = {k: (p["kind"], p["reward"]) for k, p in pool.prizes.items()} if pool else {}


class _Played:
    """A Draw's results, summed and collected in one pass."""

    __slots__ = (
        "bonus",
        "cash",
        "cost",
        "event",
        "nonces",
        "odd_outcome",
        "ref",
        "rewards",
        "traces",
        "won",
    )

    def __init__(self, ref: Ref, event: Any) -> None:
        self.ref, self.event = ref, event
        self.won: list[dict[str, Any]] = []
        self.cost = self.rewards = self.cash = self.bonus = 0
        self.odd_outcome = False  # a result neither won nor miss
        self.nonces: list[Any] = []
        # (client seed, epoch, commitment, cost) each result's trace names
        self.traces: set[tuple[Any, ...]] = set()
        for r in event.results:
            self.cost += int(r["cost"])
            reward = int(r["reward"])
            self.rewards += reward
            outcome = r["outcome"]
            if outcome == "won":
                self.won.append(r)
                if r["kind"] == "cash":
                    self.cash += reward
                elif r["kind"] == "bonus":
                    self.bonus += reward
            elif outcome != "miss":
                self.odd_outcome = True
            self.nonces.append(r.get("nonce"))
            self.traces.add(
                (r.get("client_seed"), r.get("epoch"), r.get("commitment"), r.get("cost"))
            )


class _Parts:
    __slots__ = ("batch", "charge", "played")

    def __init__(self) -> None:
        self.batch: _Batch | None = None
        self.charge: Charge | None = None
        self.played: _Played | None = None


def _same_instant_and_zone(at: Any, last: Any) -> bool:
    """Would ``iso`` give both the same text? (Cheaply: same instant, tzinfo object and fold.)"""
    if type(at) is not datetime or type(last) is not datetime or at != last:
        return False
    return at.tzinfo is last.tzinfo and at.fold == last.fold


def digest(row: tuple[Any, ...]) -> int:
    """A draw's read-model row, reduced to one number (compared within one process)."""
    return hash(row)


def canonical_json(text: str | bytes) -> bytes:
    """JSON with sorted keys and no blanks: the same for equal values however they were written."""
    return msgspec.json.encode(msgspec.json.decode(text), order="sorted")


def draw_row(event: Any, rewards: int | None = None, at: str | None = None) -> tuple[Any, ...]:
    """The columns of the ``draws`` read model after ``position`` that this Draw must have
    (``results`` as canonical JSON, see ``canonical_json``); ``rewards``: Σ of its results'
    rewards, and ``at``: ``iso(event.at)``, if already known."""
    results = event.results
    if rewards is None:
        rewards = sum(int(r["reward"]) for r in results)
    return (
        event.player_id,
        event.pool_key,
        event.status,
        event.reason,
        event.requested,
        len(results),
        event.cost_total,
        rewards,
        iso(event.at) if at is None else at,
        msgspec.json.encode(results, order="sorted"),
    )


class DrawChecks:
    def __init__(self, offend: Offend) -> None:
        self._offend = offend
        self.pending: dict[str, _Parts] = {}
        # Every Draw seen -> (its notification id, digest of the rest of its read-model row, or
        # 0 for a Draw folded once no ``draws`` comparison was to come: see ``rows``)
        self.digests: dict[str, tuple[int, int]] = {}
        self.requests = 0
        # What only a read model's comparison reads (``ops.audit.model_rows``), worked out only
        # while that read model is still to be compared (``ReadModelAudit`` says): each Draw's
        # row digest (``draws``; else 0) and the counts per pool and prize (``pool_stats``).
        self.rows = True
        self.stats = True
        # For the pool_stats read model: pool key -> [requests, refused, draws, wins, cost, paid]
        self.pool_counts: dict[str, list[int]] = {}
        self.prize_counts: dict[tuple[str, str], list[int]] = {}  # (pool, prize) -> [wins, paid]
        # A batch's Draws share their time: its text is made once.
        self._last_at: Any = None
        self._last_iso = ""

    def _parts(self, draw_id: str, ref: Ref, what: str) -> _Parts | None:
        parts = self.pending.get(draw_id)
        if parts is not None:
            return parts
        if draw_id in self.digests:
            self._offend("draws", f"draw {draw_id} was already settled: a second {what}", ref)
            return None
        parts = self.pending[draw_id] = _Parts()
        return parts

    def on_batch(self, ref: Ref, event: Any, pool: PrizePool | None) -> None:
        batch = _Batch(ref, event, pool)
        for draw_id in event.draw_ids:
            parts = self._parts(draw_id, ref, "pool batch")
            if parts is None:
                continue
            if parts.batch is not None:
                self._offend("draws", f"draw {draw_id} has a second pool batch", ref)
                continue
            parts.batch = batch
            self._complete(draw_id, parts)

    def on_charge(self, ref: Ref, event: Any, charge: Charge) -> None:
        """Record the wallet's part of a request (a charge or a refusal)."""
        draw_id = event.draw_id
        parts = self._parts(draw_id, ref, "wallet record")
        if parts is None:
            return
        if parts.charge is not None:
            self._offend("draws", f"draw {draw_id} has a second wallet record", ref)
            return
        parts.charge = charge
        self._complete(draw_id, parts)

    def on_draw(self, ref: Ref, event: Any) -> None:
        draw_id = ref[1]
        if draw_id in self.digests:
            self._offend("draws", "a second Draw record for the same request", ref)
            return
        self.requests += 1
        played = _Played(ref, event)
        # Read whether or not it is digested: a Draw without them cannot be checked.
        at, _reason = event.at, event.reason
        self.digests[draw_id] = (ref[0], self._digest(played, at) if self.rows else 0)
        if self.stats:
            self._count(played)
        parts = self.pending.get(draw_id)
        if parts is None:
            parts = self.pending[draw_id] = _Parts()
        parts.played = played
        self._complete(draw_id, parts)

    def _digest(self, played: _Played, at: Any) -> int:
        """The digest of the Draw's ``draws`` row (its results in JSON: a value that has no JSON
        form is named here, so only where that read model is compared)."""
        if not _same_instant_and_zone(at, self._last_at):
            self._last_at, self._last_iso = at, iso(at)
        return digest(draw_row(played.event, played.rewards, self._last_iso))

    def _count(self, played: _Played) -> None:
        event = played.event
        counts = self.pool_counts.setdefault(event.pool_key, [0, 0, 0, 0, 0, 0])
        counts[0] += 1
        counts[1] += event.status == "refused"
        counts[2] += len(event.results)
        counts[3] += len(played.won)
        counts[4] += event.cost_total
        counts[5] += played.cash + played.bonus
        for r in played.won:
            prize = self.prize_counts.setdefault((event.pool_key, r["prize_id"]), [0, 0])
            prize[0] += 1
            prize[1] += int(r["reward"])

    def _complete(self, draw_id: str, parts: _Parts) -> None:
        played = parts.played
        if parts.batch is None or parts.charge is None or played is None:
            return
        del self.pending[draw_id]
        self._check(played, parts.charge, parts.batch)
        batch = parts.batch
        batch.won.extend(r["prize_id"] for r in played.won)
        batch.settled += len(played.event.results)
        batch.remaining -= 1
        if batch.remaining:
            return
        if sorted(batch.won) != sorted(batch.wins) or batch.settled != batch.draws:
            self._offend(
                "draws",
                f"the pool recorded wins {batch.wins} over {batch.draws} draws; its Draws hold"
                f" {batch.won} over {batch.settled}",
                batch.ref,
            )

    def _check(self, played: _Played, charge: Charge, batch: _Batch) -> None:
        draw, ref = played.event, played.ref
        results: list[dict[str, Any]] = draw.results
        problems: list[str] = []
        if (draw.player_id, draw.pool_key) != (charge.player_id, charge.pool_key):
            problems.append(f"the wallet record is {charge.player_id}/{charge.pool_key}")
        if draw.pool_key != batch.pool_key:
            problems.append(f"it is in a batch of pool {batch.pool_key}")
        if draw.status == "settled":
            problems += _settled_problems(played, charge, batch)
        elif charge.settled or results or draw.cost_total:
            problems.append("a refused draw was charged or has results")
        if problems:
            self._offend("draws", "; ".join(problems), ref)
        inputs = _input_problems(played, charge, batch)
        if inputs:
            self._offend("draw_inputs", "; ".join(inputs), ref)

    def finish(self) -> None:
        """Parts still waiting for the others: a request recorded only in part."""
        for draw_id, parts in self.pending.items():
            missing = [
                name
                for name, part in (
                    ("Draw", parts.played),
                    ("wallet record", parts.charge),
                    ("pool batch", parts.batch),
                )
                if part is None
            ]
            ref = parts.played.ref if parts.played else None
            ref = ref or (parts.charge.ref if parts.charge else None)
            ref = ref or (parts.batch.ref if parts.batch else (0, draw_id, ""))
            self._offend("draws", f"draw {draw_id} has no {' and no '.join(missing)}", ref)


def _settled_problems(played: _Played, charge: Charge, batch: _Batch) -> list[str]:
    draw, cost, cash, bonus = played.event, played.cost, played.cash, played.bonus
    results: list[dict[str, Any]] = draw.results
    problems: list[str] = []
    if not charge.settled:
        problems.append("settled, but the wallet recorded a refusal")
    if not 1 <= len(results) <= draw.requested:
        problems.append(f"{len(results)} results for {draw.requested} requested draws")
    if played.odd_outcome:
        problems.append("a result is neither won nor miss")
    if (cost, draw.cost_total, cash, bonus) != (
        charge.cost_total,
        charge.cost_total,
        charge.cash_won,
        charge.bonus_won,
    ):
        problems.append(
            f"the Draw says cost {draw.cost_total} (results {cost}), won {cash} cash and {bonus}"
            f" bonus; the wallet charged {charge.cost_total} and credited {charge.cash_won} cash"
            f" and {charge.bonus_won} bonus"
        )
    for r in played.won:
        if r["prize_id"] != r.get("arm") or batch.prizes.get(r["prize_id"]) != (
            r["kind"],
            r["reward"],
        ):
            problems.append(
                f"result {r.get('index')} pays {r['kind']} {r['reward']} for {r['prize_id']};"
                f" the pool's prize is {batch.prizes.get(r['prize_id'])}"
            )
    return problems


def _input_problems(played: _Played, charge: Charge, batch: _Batch) -> list[str]:
    problems: list[str] = []
    nonces = played.nonces
    if nonces != list(range(charge.nonce_from, charge.nonce_to)):
        problems.append(
            f"nonces {nonces}; the wallet's nonce went from {charge.nonce_from} to"
            f" {charge.nonce_to} (a nonce is used once)"
        )
    seen = played.traces
    expected = (charge.client_seed, batch.epoch, batch.commitment, batch.cost)
    if seen and (len(seen) != 1 or expected not in seen):
        problems.append(
            "traces name (client seed, epoch, commitment, cost)"
            f" {sorted(seen, key=str)}; the wallet and pool had {expected}"
        )
    return problems
