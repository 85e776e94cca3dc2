"""What a change request does to a pool: parse its payload, apply it through the pool's own
commands (so every rule of the pool applies), describe a pool for diffs, and name the pool's
configuration revision (its ETag).

The revision is a digest of the configuration a change request edits (name, draw cost,
controls, prize table), not the stream version: every batch of draws appends to the pool's
stream, so a version-based ETag would make every change on a busy pool stale before anyone could
approve it. Stock moves with wins and restocks add to it, so live stock is not part of it either.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import fields
from typing import Any

from domain.cause import Cause
from domain.changes import ChangeKind
from domain.errors import InvalidArgument
from domain.money import check_positive_amount
from domain.pool import PrizePool, UnknownPrize
from domain.prizes import PoolControls, Prize

__all__ = [
    "ABSENT",
    "PoolDraft",
    "apply_to_pool",
    "describe_pool",
    "parse_pool_create",
    "pool_revision",
]

ABSENT = "absent"  # the revision of a pool that does not exist (yet)
_PRIZE_FIELDS = {f.name for f in fields(Prize)}
_CREATE_FIELDS = {"name", "draw_cost", "controls"}
_UPDATE_FIELDS = {"name", "draw_cost", "controls", "rtp_target_bps"}


class PoolDraft:
    """A ``pool.create`` payload, parsed."""

    def __init__(self, name: str, draw_cost: int, controls: PoolControls) -> None:
        self.name = name
        self.draw_cost = draw_cost
        self.controls = controls


def _only(payload: dict[str, Any], allowed: set[str], required: set[str], kind: str) -> None:
    unknown = set(payload) - allowed
    if unknown:
        allowed_list = sorted(allowed)
        raise InvalidArgument(f"{kind}: unknown fields {sorted(unknown)}; allowed {allowed_list}")
    missing = required - set(payload)
    if missing:
        raise InvalidArgument(f"{kind}: missing fields {sorted(missing)}")


def _controls(record: object) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise InvalidArgument("controls must be an object")
    return record


def parse_pool_create(payload: dict[str, Any]) -> PoolDraft:
    _only(payload, _CREATE_FIELDS, {"name", "draw_cost"}, ChangeKind.POOL_CREATE.value)
    controls = PoolControls.from_record(_controls(payload.get("controls", {})))
    return PoolDraft(payload["name"], payload["draw_cost"], controls)


def apply_to_pool(pool: PrizePool, kind: ChangeKind, payload: dict[str, Any], cause: Cause) -> None:
    """Apply an edit of an existing pool through its commands (``pool.create`` makes a pool
    instead: see ``parse_pool_create``)."""
    if kind is ChangeKind.POOL_UPDATE:
        _update(pool, payload, cause)
    elif kind is ChangeKind.PRIZE_ADD:
        _only(payload, _PRIZE_FIELDS, {"prize_id", "name", "kind", "reward", "weight"}, kind.value)
        pool.add_prize(Prize(**payload), cause)
    elif kind is ChangeKind.PRIZE_CHANGE:
        _only(payload, _PRIZE_FIELDS - {"stock"}, {"prize_id"}, f"{kind.value} (restock for stock)")
        current = pool.prizes.get(payload["prize_id"])
        if current is None:
            raise UnknownPrize(f"pool {pool.pool_key} has no prize {payload['prize_id']}")
        pool.change_prize(Prize(**{**current, **payload}), cause)
    elif kind is ChangeKind.PRIZE_RETIRE:
        _only(payload, {"prize_id"}, {"prize_id"}, kind.value)
        pool.retire_prize(payload["prize_id"], cause)
    elif kind is ChangeKind.PRIZE_RESTOCK:
        _only(payload, {"prize_id", "added"}, {"prize_id", "added"}, kind.value)
        pool.restock(payload["prize_id"], payload["added"], cause)
    else:
        raise InvalidArgument(f"{kind.value} does not edit an existing pool")


def _update(pool: PrizePool, payload: dict[str, Any], cause: Cause) -> None:
    _only(payload, _UPDATE_FIELDS, set(), ChangeKind.POOL_UPDATE.value)
    if "name" in payload and payload["name"] != pool.name:
        pool.rename(payload["name"], cause)
    controls = pool.controls
    if "controls" in payload or "rtp_target_bps" in payload:
        record = {**pool.controls_record, **_controls(payload.get("controls", {}))}
        if "rtp_target_bps" in payload:
            record["rtp_target_bps"] = payload["rtp_target_bps"]
        controls = PoolControls.from_record(record)
    cost = check_positive_amount(payload.get("draw_cost", pool.draw_cost))
    # A new cost outside the current cost bounds must wait for the new controls, and new bounds
    # that exclude the current cost must wait for the new cost.
    cost_first = pool.controls.cost_min <= cost <= pool.controls.cost_max
    if cost_first and cost != pool.draw_cost:
        pool.set_draw_cost(cost, cause)
    if controls.to_record() != pool.controls.to_record():
        pool.set_controls(controls, cause)
    if not cost_first:
        pool.set_draw_cost(cost, cause)


def describe_pool(pool: PrizePool | None) -> dict[str, Any]:
    """The pool's configuration as flat fields (``controls.x``, ``prizes.<id>.y``), with each
    prize's live stock: what a diff compares."""
    if pool is None:
        return {}
    described: dict[str, Any] = {"name": pool.name, "draw_cost": pool.draw_cost}
    described |= {f"controls.{k}": v for k, v in pool.controls.to_record().items()}
    for prize in pool.prize_table():
        record = prize.to_record()
        record["stock"] = pool.stock.get(prize.prize_id)
        described |= {f"prizes.{prize.prize_id}.{k}": v for k, v in record.items()}
    return described


def pool_revision(pool: PrizePool | None) -> str:
    """A digest of the pool's configuration: it changes exactly when a change request's
    preview could change (the ETag of the pool)."""
    if pool is None:
        return ABSENT
    configuration = {
        "name": pool.name,
        "currency": pool.currency,
        "draw_cost": pool.draw_cost,
        "controls": pool.controls.to_record(),
        "prizes": [p.to_record() for p in pool.prize_table()],
    }
    canonical = json.dumps(configuration, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:24]
