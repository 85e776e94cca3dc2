"""Stateful property test: random sequences of wallet, deposit and withdrawal commands (valid and
invalid, fresh and retried) keep every ledger invariant after every step, and the store replays
to the same state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule

from domain.cause import Cause
from domain.errors import DomainError
from domain.wallet import Balance, FreezeScope
from infrastructure.bootstrap import bootstrap
from infrastructure.settings import Settings
from tests.conftest import SteppingClock
from tests.ledger_checks import assert_ledger_invariants

PLAYERS = ["p1", "p2", "p3"]
OPERATORS = ["operator:alice", "operator:bob"]
# Mostly amounts that the policy accepts, sometimes ones that it must refuse.
amounts = st.one_of(
    st.integers(100, 20_000),
    st.integers(100, 20_000),
    st.integers(-5, 5),
    st.sampled_from([99, 100_000, 1_000_001, 10**16]),
)


@dataclass(frozen=True)
class Sent:
    """A command already sent, kept so that it can be sent again (a client retry)."""

    call: Any
    outcome: Any


class LedgerMachine(RuleBasedStateMachine):
    deposits = Bundle("deposits")
    withdrawals = Bundle("withdrawals")

    def __init__(self) -> None:
        super().__init__()
        self.clock = SteppingClock()
        self.system = bootstrap(Settings(database_url="sqlite::memory:"), clock=self.clock)
        self.counter = 0
        self.sent: list[Sent] = []

    def teardown(self) -> None:
        self.system.close()

    def _cause(self, actor: str) -> Cause:
        self.counter += 1
        return Cause(actor, f"req-{self.counter}")

    def _send(self, call: Any) -> Any:
        try:
            outcome: Any = call()
        except DomainError as error:
            outcome = (type(error), error.code)
        self.sent.append(Sent(call, outcome))
        return outcome

    @initialize()
    def open_wallets(self) -> None:
        for pid in PLAYERS:
            self.system.wallets.open(pid, self._cause(f"player:{pid}"))

    @rule(target=deposits, pid=st.sampled_from(PLAYERS), amount=amounts)
    def request_deposit(self, pid: str, amount: int) -> UUID | None:
        return self._request_deposit(pid, amount)

    def _request_deposit(self, pid: str, amount: int) -> UUID | None:
        cause = self._cause(f"player:{pid}")
        outcome = self._send(
            lambda: self.system.deposits.request(pid, amount, "EUR", "sandbox", cause)
        )
        return UUID(outcome.deposit_id) if not isinstance(outcome, tuple) else None

    @rule(target=deposits, pid=st.sampled_from(PLAYERS), amount=st.integers(100, 50_000))
    def deposit_confirmed(self, pid: str, amount: int) -> UUID | None:
        deposit = self._request_deposit(pid, amount)
        if deposit is not None:
            cause = self._cause("system:sandbox")
            self._send(lambda: self.system.deposits.confirm(deposit, "ref", cause))
        return deposit

    @rule(deposit=deposits, action=st.sampled_from(["pending", "confirm", "fail", "reverse"]))
    def provider_says(self, deposit: UUID | None, action: str) -> None:
        if deposit is None:
            return
        cause = self._cause("system:sandbox")
        d = self.system.deposits
        calls = {
            "pending": lambda: d.mark_provider_pending(deposit, "ref", cause),
            "confirm": lambda: d.confirm(deposit, "ref", cause),
            "fail": lambda: d.fail(deposit, "declined", cause),
            "reverse": lambda: d.reverse(deposit, "charge-back", cause),
        }
        self._send(calls[action])

    @rule(target=withdrawals, pid=st.sampled_from(PLAYERS), amount=amounts)
    def request_withdrawal(self, pid: str, amount: int) -> UUID | None:
        cause = self._cause(f"player:{pid}")
        w = self.system.withdrawals
        outcome = self._send(lambda: w.request(pid, amount, "EUR", "iban:DE00", cause))
        return UUID(outcome.withdrawal_id) if not isinstance(outcome, tuple) else None

    @rule(
        withdrawal=withdrawals,
        action=st.sampled_from(
            ["approve", "reject", "cancel", "submit", "processing", "pay", "fail", "reverse"]
        ),
        operator=st.sampled_from(OPERATORS),
    )
    def review_withdrawal(self, withdrawal: UUID | None, action: str, operator: str) -> None:
        if withdrawal is None:
            return
        w = self.system.withdrawals
        owner = w.status(withdrawal).player_id
        cause = self._cause(f"player:{owner}" if action == "cancel" else operator)
        calls = {
            "approve": lambda: w.approve(withdrawal, cause),
            "reject": lambda: w.reject(withdrawal, "kyc", cause),
            "cancel": lambda: w.cancel(withdrawal, cause),
            "submit": lambda: w.submit(withdrawal, "payout-1", cause),
            "processing": lambda: w.mark_processing(withdrawal, cause),
            "pay": lambda: w.mark_paid(withdrawal, cause),
            "fail": lambda: w.fail(withdrawal, "bank down", cause),
            "reverse": lambda: w.reverse(withdrawal, "returned", cause),
        }
        self._send(calls[action])

    @rule(pid=st.sampled_from(PLAYERS), amount=amounts, balance=st.sampled_from(list(Balance)))
    def operator_money(self, pid: str, amount: int, balance: Balance) -> None:
        cause = self._cause("operator:alice")
        self._send(lambda: self.system.wallets.adjust(pid, balance, amount, "correction", cause))
        bonus_cause = self._cause("system:rewards")
        self._send(
            lambda: self.system.wallets.credit_bonus(pid, abs(amount), "mission", bonus_cause)
        )

    @rule(pid=st.sampled_from(PLAYERS), scope=st.sampled_from(list(FreezeScope)), on=st.booleans())
    def freeze(self, pid: str, scope: FreezeScope, on: bool) -> None:
        cause = self._cause("operator:bob")
        w = self.system.wallets
        self._send(lambda: (w.freeze if on else w.unfreeze)(pid, scope, "risk review", cause))

    @rule(hours=st.integers(1, 48))
    def time_passes(self, hours: int) -> None:
        self.clock.advance(hours=hours)

    @rule(data=st.data())
    def client_retries(self, data: st.DataObject) -> None:
        """Sending any earlier request again returns its first outcome and records nothing."""
        if not self.sent:
            return
        before = self.system.ledger.recorder.max_notification_id()
        earlier = data.draw(st.sampled_from(self.sent))
        try:
            again: Any = earlier.call()
        except DomainError as error:
            again = (type(error), error.code)
        assert again == earlier.outcome
        assert self.system.ledger.recorder.max_notification_id() == before

    @invariant()
    def ledger_holds(self) -> None:
        assert_ledger_invariants(self.system.ledger)


LedgerMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestLedgerMachine = LedgerMachine.TestCase
