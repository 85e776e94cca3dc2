"""Payment invariants: a deposit credits at most once (its own amount, matching its state); a
withdrawal locks its amount once and is released or paid out exactly once; a wallet's locked
balance is the sum of its open withdrawals."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any
from uuid import UUID

from domain.deposit import Deposit, DepositState
from domain.withdrawal import Withdrawal, WithdrawalState
from ops.audit.draw_checks import Ref

__all__ = ["PaymentChecks"]

Offend = Callable[[str, str, Ref], None]

# What the wallet must have done with a withdrawal's lock, by the withdrawal's state.
_LOCK_STATE = {
    **{s.value: "open" for s in WithdrawalState if s.holds_funds},
    WithdrawalState.REJECTED.value: "released",
    WithdrawalState.CANCELLED.value: "released",
    WithdrawalState.FAILED.value: "released",
    WithdrawalState.PAID.value: "paid",
    WithdrawalState.REVERSED.value: "returned",
}
# (credits, reversals) a deposit's state requires.
_CREDITS = {DepositState.CREDITED.value: (1, 0), DepositState.REVERSED.value: (1, 1)}
# Wallet event -> (lock state it needs, lock state it leaves)
_MOVES = {
    "Wallet.FundsReleased": ("open", "released"),
    "Wallet.WithdrawalPaidOut": ("open", "paid"),
    "Wallet.PayoutReturned": ("paid", "returned"),
}


class _Lock:
    __slots__ = ("amount", "player_id", "ref", "state")

    def __init__(self, ref: Ref, player_id: str, amount: int) -> None:
        self.ref, self.player_id, self.amount, self.state = ref, player_id, amount, "open"


class PaymentChecks:
    def __init__(
        self, offend: Offend, aggregates: Mapping[UUID, Any], created: Mapping[UUID, int]
    ) -> None:
        """``aggregates``: the folded payments by id; ``created``: the notification id of each
        one's first event (end-of-log findings name it)."""
        self._offend = offend
        self._aggregates = aggregates
        self._created = created
        self.credits: dict[str, list[int]] = {}  # deposit id -> [credits, reversals]
        self.locks: dict[str, _Lock] = {}  # withdrawal id -> its lock

    def on_deposit_money(self, event: Any, ref: Ref) -> None:
        """Wallet.DepositCredited or Wallet.DepositReversed."""
        credited = ref[2] == "Wallet.DepositCredited"
        counts = self.credits.setdefault(event.deposit_id, [0, 0])
        counts[0 if credited else 1] += 1
        deposit = self._aggregate(event.deposit_id)
        problems = []
        if not isinstance(deposit, Deposit):
            problems.append(f"deposit {event.deposit_id} does not exist")
        elif (deposit.player_id, deposit.amount_minor, deposit.currency) != (
            event.player_id,
            event.amount_minor,
            event.currency,
        ):
            problems.append(
                f"moves {event.amount_minor} {event.currency} for {event.player_id}; deposit"
                f" {event.deposit_id} is {deposit.amount_minor} {deposit.currency}"
                f" of {deposit.player_id}"
            )
        if counts[0] > 1 and credited:
            problems.append(f"deposit {event.deposit_id} is credited a second time")
        if not credited and counts[1] > counts[0]:
            problems.append(f"deposit {event.deposit_id} is reversed more often than credited")
        if problems:
            self._offend("deposits", "; ".join(problems), ref)

    def on_lock(self, event: Any, ref: Ref) -> None:
        """Wallet.FundsLocked / FundsReleased / WithdrawalPaidOut / PayoutReturned."""
        wid = event.withdrawal_id
        lock = self.locks.get(wid)
        if ref[2] == "Wallet.FundsLocked":
            if lock is not None:
                self._offend("withdrawals", f"withdrawal {wid} locks funds a second time", ref)
                return
            self.locks[wid] = _Lock(ref, event.player_id, event.amount_minor)
            return
        needs, leaves = _MOVES[ref[2]]
        if lock is None:
            self._offend("withdrawals", f"withdrawal {wid} never locked funds", ref)
        elif lock.state != needs:
            self._offend("withdrawals", f"withdrawal {wid} was already {lock.state}", ref)
        elif lock.amount != event.amount_minor:
            self._offend(
                "withdrawals", f"moves {event.amount_minor}; the lock holds {lock.amount}", ref
            )
        else:
            lock.state = leaves

    def finish(
        self,
        balance: Callable[[str, str], int],
        currency: Callable[[str], str],
        players: Iterable[str],
    ) -> None:
        """End-state agreement of each payment's stream with the wallet's money events;
        ``balance(account, currency)`` reads the folded ledger; ``players``: every wallet's."""
        for aggregate in self._aggregates.values():
            if isinstance(aggregate, Deposit):
                self._finish_deposit(aggregate)
            elif isinstance(aggregate, Withdrawal):
                self._finish_withdrawal(aggregate)
        open_by_player: dict[str, int] = {}
        for wid, lock in self.locks.items():
            if not isinstance(self._aggregate(wid), Withdrawal):
                self._offend("withdrawals", f"withdrawal {wid} does not exist", lock.ref)
            if lock.state == "open":
                open_by_player[lock.player_id] = open_by_player.get(lock.player_id, 0) + lock.amount
        for player_id in sorted({*players, *(lock.player_id for lock in self.locks.values())}):
            locked = balance(f"player:{player_id}:locked", currency(player_id))
            if locked != open_by_player.get(player_id, 0):
                self._offend(
                    "locked",
                    f"player {player_id} has {locked} locked; open withdrawals hold"
                    f" {open_by_player.get(player_id, 0)}",
                    (0, player_id, "Wallet"),
                )

    def _finish_deposit(self, deposit: Deposit) -> None:
        found = tuple(self.credits.get(str(deposit.id), (0, 0)))
        wanted = _CREDITS.get(deposit.state, (0, 0))
        if found != wanted:
            self._offend(
                "deposits",
                f"deposit is {deposit.state}: wanted {wanted[0]} credit(s) and {wanted[1]}"
                f" reversal(s) in the wallet, found {found[0]} and {found[1]}",
                self._ref(deposit),
            )

    def _finish_withdrawal(self, withdrawal: Withdrawal) -> None:
        lock = self.locks.get(str(withdrawal.id))
        wanted = _LOCK_STATE[withdrawal.state]
        ref = self._ref(withdrawal)
        if lock is None:
            self._offend("withdrawals", f"{withdrawal.state}, but no funds were locked", ref)
        elif lock.state != wanted or lock.amount != withdrawal.amount_minor:
            self._offend(
                "withdrawals",
                f"{withdrawal.state} for {withdrawal.amount_minor}; the wallet's lock of"
                f" {lock.amount} is {lock.state} (wanted {wanted})",
                ref,
            )

    def _ref(self, aggregate: Deposit | Withdrawal) -> Ref:
        return (self._created.get(aggregate.id, 0), str(aggregate.id), type(aggregate).__name__)

    def _aggregate(self, aggregate_id: str) -> Any:
        try:
            return self._aggregates.get(UUID(aggregate_id))
        except ValueError:
            return None
