"""Who and what the demo is made of. Fixed e-mails, passwords, amounts and request ids, so that a
second run asks for exactly the same things and every command replays its first outcome.

Amounts are minor units of the deployment currency (cents with the default EUR).
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.prizes import PoolControls, Prize

__all__ = [
    "DEMO_ACTOR",
    "FIRST_EPOCH_PLAYS",
    "OPERATORS",
    "PLAYERS",
    "POOLS",
    "SECOND_EPOCH_PLAYS",
    "DemoOperator",
    "DemoPlayer",
    "DemoPool",
]

# Who registers the demo's accounts and operators (the CLI's own actor, as in operators create).
DEMO_ACTOR = "system:seed-demo"
_DOMAIN = "demo.prizeledger.example"  # .example is reserved (RFC 2606): no mail ever leaves


@dataclass(frozen=True, slots=True)
class DemoOperator:
    key: str
    email: str
    password: str
    roles: tuple[str, ...]
    duty: str


@dataclass(frozen=True, slots=True)
class DemoPlayer:
    key: str
    email: str
    password: str
    ip: str  # a documentation address (RFC 5737), recorded at registration
    iban: str  # a valid test IBAN (mod-97) for the payout method
    story: str


@dataclass(frozen=True, slots=True)
class DemoPool:
    key: str
    name: str
    draw_cost: int
    controls: PoolControls
    prizes: tuple[Prize, ...]
    fund: int
    purpose: str  # the operator's reason for creating it


OPERATORS = (
    DemoOperator(
        "admin",
        f"admin@{_DOMAIN}",
        "demo-admin-password",
        ("admin",),
        "configures the pools, approves large withdrawals first, freezes players",
    ),
    DemoOperator(
        "finance",
        f"finance@{_DOMAIN}",
        "demo-finance-password",
        ("finance",),
        "reviews and pays withdrawals; the second approver of large ones",
    ),
)

PLAYERS = (
    DemoPlayer(
        "alice",
        f"alice@{_DOMAIN}",
        "alice-demo-password",
        "198.51.100.11",
        "DE89370400440532013000",
        "regular: top-ups (one declined), draws, a paid and a cancelled withdrawal",
    ),
    DemoPlayer(
        "ben",
        f"ben@{_DOMAIN}",
        "ben-demo-password",
        "198.51.100.12",
        "GB82WEST12345698765432",
        "high roller with TOTP: a large withdrawal approved by two operators",
    ),
    DemoPlayer(
        "chen",
        f"chen@{_DOMAIN}",
        "chen-demo-password",
        "198.51.100.13",
        "NL91ABNA0417164300",
        "suspicious: a dozen rapid top-ups, then withdrawals (one rejected, one open)",
    ),
    DemoPlayer(
        "dana",
        f"dana@{_DOMAIN}",
        "dana-demo-password",
        "198.51.100.14",
        "FR1420041010050500013M02606",
        "frozen by an operator (sign-in is refused)",
    ),
)

POOLS = (
    DemoPool(
        "daily-spin",
        "Daily Spin",
        100,
        PoolControls(
            rtp_target_bps=9_000,
            pity_streak=8,
            pity_boost_bps=500,
            pity_max_boost_bps=2_000,
        ),
        (
            Prize("bonus-2", "2.00 bonus", "bonus", 200, 30),
            Prize("cash-5", "5.00 cash", "cash", 500, 6),
            Prize("cash-20", "20.00 cash", "cash", 2_000, 1, stock=50, budget=20_000),
        ),
        50_000,
        "demo: the everyday wheel",
    ),
    DemoPool(
        "jackpot",
        "Jackpot Wheel",
        500,
        PoolControls(rtp_target_bps=9_200, big_prize_min=50_000, big_prize_cap_day=1),
        (
            Prize("bonus-10", "10.00 bonus", "bonus", 1_000, 40),
            Prize("cash-50", "50.00 cash", "cash", 5_000, 5, stock=20),
            # The scarce top prize: one in stock, at most one big prize a day.
            Prize("grand", "1,000.00 grand prize", "cash", 100_000, 1, stock=1),
        ),
        250_000,
        "demo: a wheel with one scarce grand prize",
    ),
)

# (player, pool, draws in one request), in order: before the epochs rotate (their seeds are then
# revealed, so these draws verify) and after (pending until the next rotation).
FIRST_EPOCH_PLAYS = (
    ("alice", "daily-spin", 1),
    ("alice", "daily-spin", 5),
    ("alice", "jackpot", 2),
    ("ben", "jackpot", 10),
    ("ben", "jackpot", 10),
    ("ben", "daily-spin", 3),
    ("chen", "daily-spin", 1),
    ("dana", "daily-spin", 3),
)
SECOND_EPOCH_PLAYS = (("alice", "daily-spin", 3), ("ben", "jackpot", 5))
