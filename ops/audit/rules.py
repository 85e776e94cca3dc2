"""What ``prizeledger verify`` checks, by the names its report uses (ARCHITECTURE.md,
"Double-entry")."""

from __future__ import annotations

__all__ = ["RULES"]

RULES = {
    "events": "every stored event decodes and applies to its aggregate",
    "notification_ids": "notification ids follow each other without gaps (Postgres leaves the"
    " ids of rolled-back saves unused: there a gap is a warning)",
    "versions": "each aggregate's versions run 1, 2, 3… without gaps",
    "postings": "every event's postings sum to zero per currency, and so does the ledger",
    "balances": "no available, locked or bonus balance and no prize fund is ever negative",
    "locked": "a wallet's locked balance equals the sum of its open withdrawals",
    "draws": "every draw request has one Draw, one wallet record and one place in its pool's"
    " batch, which agree; one outcome per charged draw",
    "draw_inputs": "nonces are never reused; traces name the wallet's client seed and the"
    " pool's epoch, commitment and draw cost",
    "stock": "no prize is won out of stock (wins never exceed the stock supplied)",
    "budgets": "no prize is won over its rolling payout budget",
    "payout_caps": "wins respect the pool's reserve, single-payout share, hourly and big-prize"
    " caps and threshold",
    "pool_funds": "each pool's fund equals its ledger account",
    "deposits": "every deposit credits at most once, its own amount, as its state says",
    "withdrawals": "every withdrawal locks once and is released or paid out exactly once",
    "read_models": "every read model equals the fold of the events up to its tracked position",
}
