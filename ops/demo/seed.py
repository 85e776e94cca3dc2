"""``seed(system)``: the demo data, made through the real use cases of a System from the
composition root — the same calls the player app and the operator console make.

Every command runs under a fixed request id (``demo:…``), so running the seed again replays
each command's stored outcome and records nothing: the report's ``new_events`` is then 0. The
TOTP secrets come back from the enrolment receipts, so a second run prints the same ones.

Deposits go through the sandbox payment provider end to end (checkout, then its signed webhook
applied by ``Payments.receive``), so the deployment must run the sandbox. TOTP codes are made
from the enrolled secrets at the system's clock, like an authenticator app would.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import pyotp

from application.accounts import AccountView
from domain.cause import Cause
from domain.wallet import FreezeScope
from infrastructure.bootstrap import System
from ops.demo.cast import (
    DEMO_ACTOR,
    FIRST_EPOCH_PLAYS,
    OPERATORS,
    PLAYERS,
    POOLS,
    SECOND_EPOCH_PLAYS,
    DemoOperator,
    DemoPlayer,
)

__all__ = [
    "DemoReport",
    "DemoUnavailable",
    "OperatorLogin",
    "PlayerLogin",
    "SeededWithdrawal",
    "holds_demo",
    "seed",
]


class DemoUnavailable(Exception):
    """This deployment cannot make the demo data (the sandbox payment provider is off)."""


@dataclass(frozen=True, slots=True)
class OperatorLogin:
    email: str
    password: str
    roles: list[str]
    duty: str
    operator_id: str
    totp_secret: str
    otpauth_uri: str


@dataclass(frozen=True, slots=True)
class PlayerLogin:
    email: str
    password: str
    story: str
    player_id: str
    account_id: str
    frozen: bool
    totp_secret: str | None


@dataclass(frozen=True, slots=True)
class SeededWithdrawal:
    name: str
    withdrawal_id: str
    player_id: str
    amount_minor: int
    state: str  # now, not when it was seeded
    approvals: int


@dataclass(frozen=True, slots=True)
class DemoReport:
    new_events: int  # 0: the demo data was all there already
    currency: str
    operators: list[OperatorLogin]
    players: list[PlayerLogin]
    pools: list[str]
    draws: list[str]
    withdrawals: list[SeededWithdrawal]

    @property
    def created(self) -> bool:
        return self.new_events > 0


def seed(system: System) -> DemoReport:
    """Make the demo data (or replay it, creating nothing, when it is there already)."""
    story = _Story(system)
    system.projector()  # the read models' tables: registration reads one (accounts per IP)
    head = system.ledger.recorder.max_notification_id() or 0
    story.tell()
    new_events = (system.ledger.recorder.max_notification_id() or 0) - head
    return story.report(new_events)


def holds_demo(system: System) -> bool:
    """Whether the store has the demo's operators (it was seeded before)."""
    emails = {view.email for view in system.operators.operators()}
    return all(op.email in emails for op in OPERATORS)


class _Story:
    """The demo, step by step. ``tell`` is the order things happen in."""

    def __init__(self, system: System) -> None:
        if system.sandbox is None:
            raise DemoUnavailable(
                "the demo's deposits need the sandbox payment provider:"
                " set PRIZELEDGER_SANDBOX_PAYMENTS=1 (and PRIZELEDGER_WEBHOOK_SECRET)"
            )
        self._s = system
        self._sandbox = system.sandbox
        self._currency = system.settings.policy.currency
        self._operators: dict[str, OperatorLogin] = {}
        self._players: dict[str, AccountView] = {}
        self._player_totp: dict[str, str] = {}
        self._methods: dict[str, str] = {}
        self._frozen: set[str] = set()
        self._draws: list[str] = []
        self._withdrawals: dict[str, str] = {}

    def tell(self) -> None:
        for operator in OPERATORS:
            self._operators[operator.key] = self._enrol_operator(operator)
        for pool in POOLS:
            self._open_pool(pool.key)
        for player in PLAYERS:
            self._register(player)
        self._top_ups()
        self._play("first", FIRST_EPOCH_PLAYS)  # verifiable once the epochs rotate
        for pool in POOLS:
            self._s.pools.rotate_epoch(
                pool.key, self._staff("admin", f"rotate:{pool.key}", "demo: reveal the seed")
            )
        self._play("second", SECOND_EPOCH_PLAYS)  # pending until the next rotation
        self._s.wallets.credit_bonus(
            self._id("alice"), 500, "goodwill", self._staff("admin", "bonus:alice", "goodwill")
        )
        self._withdraw_alice()
        self._withdraw_ben()
        self._withdraw_chen()
        self._freeze("dana", "identity documents requested (KYC review)")

    # ---- causes --------------------------------------------------------------------------------

    def _id(self, player: str) -> str:
        return self._players[player].player_id

    def _as(self, player: str, step: str) -> Cause:
        """A request of the player's own (as the player app sends it)."""
        return Cause(f"player:{self._id(player)}", f"demo:{player}:{step}")

    def _staff(self, operator: str, step: str, reason: str) -> Cause:
        """An operator's request, with the reason the audit log keeps."""
        return Cause(f"operator:{self._operators[operator].operator_id}", f"demo:{step}", reason)

    def _code(self, secret: str, offset: int = 0) -> str:
        """The code an authenticator app shows now (``offset`` steps later: a code not used
        yet, since a step is single use)."""
        return pyotp.TOTP(secret).at(self._s.clock(), counter_offset=offset)

    # ---- operators, pools, players -------------------------------------------------------------

    def _enrol_operator(self, demo: DemoOperator) -> OperatorLogin:
        operators = self._s.operators
        cause = Cause(DEMO_ACTOR, f"demo:operator:{demo.key}")
        view = operators.create(demo.email, demo.password, list(demo.roles), cause)
        enrolment = operators.start_totp(
            view.operator_id, Cause(DEMO_ACTOR, f"demo:operator:{demo.key}:totp")
        )
        if not operators.operator(view.operator_id).totp_enabled:
            code = self._code(enrolment.secret)
            enable = Cause(DEMO_ACTOR, f"demo:operator:{demo.key}:totp-on")
            operators.enable_totp(view.operator_id, code, enable)  # recovery codes: not kept
        return OperatorLogin(
            demo.email,
            demo.password,
            list(view.roles),
            demo.duty,
            view.operator_id,
            enrolment.secret,
            enrolment.provisioning_uri,
        )

    def _open_pool(self, key: str) -> None:
        pool = next(p for p in POOLS if p.key == key)
        pools = self._s.pools
        pools.create(
            key, pool.name, pool.draw_cost, pool.controls, self._staff("admin", key, pool.purpose)
        )
        for prize in pool.prizes:
            step = f"{key}:prize:{prize.prize_id}"
            pools.add_prize(key, prize, self._staff("admin", step, "demo prize table"))
        reason = "fund the prizes from the marketing budget"
        pools.fund(key, pool.fund, self._staff("admin", f"{key}:fund", reason))

    def _register(self, demo: DemoPlayer) -> None:
        cause = Cause(DEMO_ACTOR, f"demo:register:{demo.key}")
        view = self._s.accounts.register(demo.email, demo.password, cause, ip=demo.ip)
        self._players[demo.key] = view
        holder = f"{demo.key.title()} Demo"
        method = self._s.payout_methods.add(
            view.player_id,
            "bank_account",
            {"iban": demo.iban, "holder_name": holder},
            "Main account",
            self._as(demo.key, "payout-method"),
        )
        self._methods[demo.key] = method.method_id

    # ---- money in and play ---------------------------------------------------------------------

    def _top_ups(self) -> None:
        self._deposit("alice", "deposit-1", 20_000)
        self._deposit("alice", "deposit-2", 5_000, pay=False)  # declined at the checkout
        self._deposit("ben", "deposit-1", 150_000)
        self._deposit("ben", "deposit-2", 100_000)
        for n in range(1, 13):  # a dozen within minutes: the velocity signal
            self._deposit("chen", f"deposit-{n}", 2_500)
        self._deposit("dana", "deposit-1", 8_000)

    def _deposit(self, player: str, step: str, amount: int, pay: bool = True) -> None:
        """Start a deposit, then pay (or decline) at the sandbox checkout: its signed webhook
        goes through the same handler as a real provider's (one event id per outcome)."""
        cause = self._as(player, step)
        deposit = self._s.deposits.request(
            self._id(player), amount, self._currency, self._sandbox.name, cause
        )
        checkout = self._s.payments.start(deposit, cause)
        outcome = "pay" if pay else "decline"
        headers, body = self._sandbox.complete(
            checkout.provider_ref,
            succeeded=pay,
            event_id=f"evt_{outcome}_{UUID(deposit.deposit_id).hex}",
        )
        self._s.payments.receive(self._sandbox.name, headers, body)

    def _play(self, epoch: str, plays: tuple[tuple[str, str, int], ...]) -> None:
        """(player, pool, draws in one request) in order, each request under its own id."""
        for n, (player, pool, count) in enumerate(plays, start=1):
            cause = self._as(player, f"draw-{epoch}-{n}")
            outcome = self._s.draws.draw(self._id(player), pool, count, cause)
            self._draws.append(outcome.draw_id)

    # ---- withdrawals and a freeze --------------------------------------------------------------

    def _withdraw(self, player: str, name: str, amount: int) -> UUID:
        """Request a payout to the player's bank account (locks the amount). From the
        large-amount threshold the player's TOTP code is checked first, as the app does."""
        cause = self._as(player, name)
        large = amount >= self._s.config.money_policy().large_withdrawal_threshold
        if large and not self._s.commands.already_ran(cause):
            self._s.accounts.check_totp(
                self._players[player].account_id,
                self._code(self._player_totp[player], offset=1),
                Cause(cause.actor, f"totp-{cause.request_id}"),
            )
        destination = self._s.payout_methods.destination(self._id(player), self._methods[player])
        requested = self._s.withdrawals.request(
            self._id(player), amount, self._currency, destination, cause
        )
        self._withdrawals[name] = requested.withdrawal_id
        return UUID(requested.withdrawal_id)

    def _withdraw_alice(self) -> None:
        withdrawals = self._s.withdrawals
        paid = self._withdraw("alice", "alice-paid", 3_000)
        withdrawals.approve(paid, self._staff("finance", "approve:alice-paid", "verified player"))
        withdrawals.submit(
            paid, "demo-bank-0001", self._staff("finance", "submit:alice-paid", "payout run")
        )
        sent = self._staff("finance", "processing:alice-paid", "the bank took the transfer")
        withdrawals.mark_processing(paid, sent)
        withdrawals.mark_paid(paid, self._staff("finance", "paid:alice-paid", "the bank paid"))
        cancelled = self._withdraw("alice", "alice-cancelled", 1_000)
        withdrawals.cancel(cancelled, self._as("alice", "cancel"))

    def _withdraw_ben(self) -> None:
        """A large withdrawal: the player's TOTP, then two different operators approve."""
        account = self._players["ben"].account_id
        accounts = self._s.accounts
        enrolment = accounts.start_totp(account, self._as("ben", "totp"))
        self._player_totp["ben"] = enrolment.secret
        if not accounts.account(account).totp_enabled:
            accounts.enable_totp(account, self._code(enrolment.secret), self._as("ben", "totp-on"))
        large = self._withdraw("ben", "ben-large", 120_000)
        reason = "large withdrawal: source of funds checked"
        status = self._s.withdrawals.approve(large, self._staff("admin", "approve:ben-1", reason))
        if status.approvals_required > 1:
            second = self._staff("finance", "approve:ben-2", "second approval")
            self._s.withdrawals.approve(large, second)

    def _withdraw_chen(self) -> None:
        rejected = self._withdraw("chen", "chen-rejected", 4_000)
        reason = "deposit-withdrawal cycling without play: sent to risk review"
        self._s.withdrawals.reject(rejected, reason, self._staff("finance", "reject:chen", reason))
        self._withdraw("chen", "chen-open", 25_000)  # left for an operator to review

    def _freeze(self, player: str, reason: str) -> None:
        cause = self._staff("admin", f"freeze:{player}", reason)
        self._s.wallets.freeze(self._id(player), FreezeScope.ACCOUNT, reason, cause)
        self._frozen.add(player)

    # ---- the report ----------------------------------------------------------------------------

    def report(self, new_events: int) -> DemoReport:
        players = [
            PlayerLogin(
                demo.email,
                demo.password,
                demo.story,
                self._id(demo.key),
                self._players[demo.key].account_id,
                demo.key in self._frozen,
                self._player_totp.get(demo.key),
            )
            for demo in PLAYERS
        ]
        withdrawals = []
        for name, withdrawal_id in self._withdrawals.items():
            now = self._s.withdrawals.status(UUID(withdrawal_id))
            withdrawals.append(
                SeededWithdrawal(
                    name, withdrawal_id, now.player_id, now.amount_minor, now.state, now.approvals
                )
            )
        return DemoReport(
            new_events,
            self._currency,
            list(self._operators.values()),
            players,
            [pool.key for pool in POOLS],
            list(self._draws),
            withdrawals,
        )
