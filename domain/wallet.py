"""Wallet: one per player. Holds available, locked (pending withdrawals) and bonus balances.

Public methods decide (validate, raise a named error, record nothing); the private ``@event``
methods only assign state, because the library runs their bodies again on every replay.
Every money event carries player_id, currency and amount so that postings are a pure function of
the event alone (see ``domain.postings``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain import ids
from domain.cause import Cause
from domain.errors import (
    AccountFrozen,
    CurrencyMismatch,
    DepositLimitExceeded,
    FreezeUnchanged,
    InsufficientFunds,
    InvalidAmount,
    InvalidArgument,
    UnknownLock,
    WithdrawalDailyCapExceeded,
)
from domain.hot_events import body_of, trigger
from domain.money import MAX_AMOUNT_MINOR, check_currency_code, check_positive_amount
from domain.policy import MoneyPolicy

__all__ = ["Balance", "FreezeScope", "LimitPeriod", "Wallet"]


class FreezeScope(StrEnum):
    ACCOUNT = "account"  # blocks everything below
    GAMEPLAY = "gameplay"
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"


class LimitPeriod(StrEnum):
    """Responsible-play deposit limit windows. Rolling, not calendar: a player can't deposit the
    daily limit at 23:59 and again at 00:01."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"

    @property
    def window(self) -> timedelta:
        return {"day": timedelta(days=1), "week": timedelta(days=7), "month": timedelta(days=30)}[
            self.value
        ]


class Balance(StrEnum):
    AVAILABLE = "available"
    BONUS = "bonus"


# A raised (or removed) limit waits this long before it applies; a lowered one applies at once.
LIMIT_RAISE_DELAY = timedelta(hours=24)
_LONGEST_WINDOW = timedelta(days=30)


class Wallet(Aggregate):
    """A player's money. ``locked`` always equals the sum of ``locks`` (open withdrawals)."""

    @staticmethod
    def create_id(player_id: str, **_: Any) -> UUID:
        return ids.wallet_id(player_id)

    @classmethod
    def open(cls, player_id: str, currency: str, cause: Cause) -> Wallet:
        if not player_id or len(player_id) > 100:
            raise InvalidArgument("player id must be 1..100 characters")
        check_currency_code(currency)
        return cls(
            player_id=player_id, currency=currency, actor=cause.actor, request_id=cause.request_id
        )

    @event("Opened")
    def __init__(self, player_id: str, currency: str, actor: str, request_id: str) -> None:
        self.player_id = player_id
        self.currency = currency
        self.available = 0
        self.locked = 0
        self.bonus = 0
        self.freezes: dict[str, str] = {}
        self.locks: dict[str, int] = {}
        # deposit id -> [requested at, amount]: the deposits that count against the limits.
        self.deposits_in_window: dict[str, list[Any]] = {}
        # withdrawal id -> [requested at, amount]: requests that count against the daily cap.
        self.withdrawals_in_window: dict[str, list[Any]] = {}
        # period -> [limit or None, pending limit or None, pending from or None]
        self.deposit_limits: dict[str, list[Any]] = {}
        # Provably fair draws: the player's client seed and the next nonce (never reused).
        self.client_seed = player_id
        self.nonce = 0
        # pool key -> the player's draw state in that pool (see domain.draws.PlayerPlay).
        self.plays: dict[str, dict[str, Any]] = {}

    # ---- queries -------------------------------------------------------------------------------

    def is_frozen_for(self, scope: FreezeScope) -> bool:
        return FreezeScope.ACCOUNT.value in self.freezes or scope.value in self.freezes

    def check_not_frozen(self, scope: FreezeScope) -> None:
        if self.is_frozen_for(scope):
            raise AccountFrozen(f"wallet is frozen for {scope.value}")

    def deposit_limit(self, period: LimitPeriod, at: datetime) -> int | None:
        """The limit in force at ``at`` (a matured raise counts; None means no limit)."""
        current, pending, pending_from = self.deposit_limits.get(period.value, [None, None, None])
        if pending_from is not None and at >= pending_from:
            return pending  # type: ignore[no-any-return]
        return current  # type: ignore[no-any-return]

    def deposited_within(self, window: timedelta, at: datetime) -> int:
        return sum(
            amount for when, amount in self.deposits_in_window.values() if when > at - window
        )

    def _check_currency(self, currency: str) -> None:
        if currency != self.currency:
            raise CurrencyMismatch(f"wallet holds {self.currency}, got {currency}")

    # ---- deposits ------------------------------------------------------------------------------

    def start_deposit(
        self,
        deposit_id: str,
        amount_minor: int,
        currency: str,
        at: datetime,
        policy: MoneyPolicy,
        cause: Cause,
    ) -> None:
        """Reserve room under the deposit limits for a deposit that the provider will confirm."""
        check_positive_amount(amount_minor)
        self._check_currency(currency)
        self.check_not_frozen(FreezeScope.DEPOSIT)
        policy.check_deposit_amount(amount_minor)
        if deposit_id in self.deposits_in_window:
            raise InvalidArgument(f"deposit {deposit_id} already started")
        for period in LimitPeriod:
            limit = self.deposit_limit(period, at)
            used = self.deposited_within(period.window, at)
            if limit is not None and used + amount_minor > limit:
                raise DepositLimitExceeded(
                    f"{period.value} deposit limit {limit} would be exceeded "
                    f"({used} used, {amount_minor} requested)"
                )
        self._deposit_started(
            deposit_id=deposit_id,
            amount_minor=amount_minor,
            at=at,
            actor=cause.actor,
            request_id=cause.request_id,
        )

    @event("DepositStarted")
    def _deposit_started(
        self, deposit_id: str, amount_minor: int, at: datetime, actor: str, request_id: str
    ) -> None:
        horizon = at - _LONGEST_WINDOW
        self.deposits_in_window = {
            k: v for k, v in self.deposits_in_window.items() if v[0] > horizon
        }
        self.deposits_in_window[deposit_id] = [at, amount_minor]

    def abandon_deposit(self, deposit_id: str, cause: Cause) -> None:
        """The provider failed the deposit: it no longer counts against the limits."""
        self._deposit_abandoned(
            deposit_id=deposit_id, actor=cause.actor, request_id=cause.request_id
        )

    @event("DepositAbandoned")
    def _deposit_abandoned(self, deposit_id: str, actor: str, request_id: str) -> None:
        self.deposits_in_window.pop(deposit_id, None)

    def credit_deposit(self, deposit_id: str, amount_minor: int, cause: Cause) -> None:
        """Money the provider confirmed is credited even to a frozen wallet: it has arrived."""
        check_positive_amount(amount_minor)
        self._deposit_credited(
            deposit_id=deposit_id,
            player_id=self.player_id,
            currency=self.currency,
            amount_minor=amount_minor,
            actor=cause.actor,
            request_id=cause.request_id,
        )

    @event("DepositCredited")
    def _deposit_credited(
        self,
        deposit_id: str,
        player_id: str,
        currency: str,
        amount_minor: int,
        actor: str,
        request_id: str,
    ) -> None:
        self.available += amount_minor

    def reverse_deposit(self, deposit_id: str, amount_minor: int, cause: Cause) -> None:
        """A charge-back takes credited money back; it may not overdraw the wallet."""
        check_positive_amount(amount_minor)
        if amount_minor > self.available:
            raise InsufficientFunds(
                f"charge-back of {amount_minor} exceeds available {self.available}; "
                "freeze the wallet and settle it by operator adjustment"
            )
        self._deposit_reversed(
            deposit_id=deposit_id,
            player_id=self.player_id,
            currency=self.currency,
            amount_minor=amount_minor,
            actor=cause.actor,
            request_id=cause.request_id,
        )

    @event("DepositReversed")
    def _deposit_reversed(
        self,
        deposit_id: str,
        player_id: str,
        currency: str,
        amount_minor: int,
        actor: str,
        request_id: str,
    ) -> None:
        # The reversed deposit keeps counting against the responsible-play limits: the player
        # did deposit it, and a charge-back must not open room for more.
        self.available -= amount_minor

    # ---- withdrawals ---------------------------------------------------------------------------

    def lock_for_withdrawal(
        self,
        withdrawal_id: str,
        amount_minor: int,
        currency: str,
        at: datetime,
        policy: MoneyPolicy,
        cause: Cause,
    ) -> None:
        """Move the amount from available to locked until the withdrawal pays or is refunded."""
        check_positive_amount(amount_minor)
        self._check_currency(currency)
        self.check_not_frozen(FreezeScope.WITHDRAWAL)
        policy.check_withdrawal_amount(amount_minor)
        if withdrawal_id in self.locks:
            raise InvalidArgument(f"withdrawal {withdrawal_id} already holds a lock")
        if amount_minor > self.available:
            raise InsufficientFunds(f"available {self.available} is less than {amount_minor}")
        day = timedelta(days=1)
        used = sum(a for when, a in self.withdrawals_in_window.values() if when > at - day)
        if used + amount_minor > policy.withdrawal_daily_cap:
            raise WithdrawalDailyCapExceeded(
                f"daily withdrawal cap {policy.withdrawal_daily_cap} would be exceeded "
                f"({used} used, {amount_minor} requested)"
            )
        self._funds_locked(
            withdrawal_id=withdrawal_id,
            player_id=self.player_id,
            currency=self.currency,
            amount_minor=amount_minor,
            at=at,
            actor=cause.actor,
            request_id=cause.request_id,
        )

    @event("FundsLocked")
    def _funds_locked(
        self,
        withdrawal_id: str,
        player_id: str,
        currency: str,
        amount_minor: int,
        at: datetime,
        actor: str,
        request_id: str,
    ) -> None:
        self.available -= amount_minor
        self.locked += amount_minor
        self.locks[withdrawal_id] = amount_minor
        horizon = at - timedelta(days=1)
        self.withdrawals_in_window = {
            k: v for k, v in self.withdrawals_in_window.items() if v[0] > horizon
        }
        self.withdrawals_in_window[withdrawal_id] = [at, amount_minor]

    def _lock_movement(self, withdrawal_id: str, cause: Cause) -> dict[str, Any]:
        """The attributes of an event that moves a withdrawal's whole locked amount."""
        if withdrawal_id not in self.locks:
            raise UnknownLock(f"no open lock for withdrawal {withdrawal_id}")
        return {
            "withdrawal_id": withdrawal_id,
            "player_id": self.player_id,
            "currency": self.currency,
            "amount_minor": self.locks[withdrawal_id],
            "actor": cause.actor,
            "request_id": cause.request_id,
        }

    def release_lock(self, withdrawal_id: str, cause: Cause) -> None:
        """Rejected, cancelled or failed before paying out: the locked amount goes back."""
        self._funds_released(**self._lock_movement(withdrawal_id, cause))

    @event("FundsReleased")
    def _funds_released(
        self,
        withdrawal_id: str,
        player_id: str,
        currency: str,
        amount_minor: int,
        actor: str,
        request_id: str,
    ) -> None:
        self.locked -= amount_minor
        self.available += amount_minor
        del self.locks[withdrawal_id]
        self.withdrawals_in_window.pop(withdrawal_id, None)

    def consume_lock(self, withdrawal_id: str, cause: Cause) -> None:
        """The withdrawal was paid: the locked amount leaves the platform."""
        self._withdrawal_paid_out(**self._lock_movement(withdrawal_id, cause))

    @event("WithdrawalPaidOut")
    def _withdrawal_paid_out(
        self,
        withdrawal_id: str,
        player_id: str,
        currency: str,
        amount_minor: int,
        actor: str,
        request_id: str,
    ) -> None:
        self.locked -= amount_minor
        del self.locks[withdrawal_id]

    def refund_reversed_payout(self, withdrawal_id: str, amount_minor: int, cause: Cause) -> None:
        """A paid withdrawal came back (e.g. the bank returned it): credit it to available."""
        check_positive_amount(amount_minor)
        self._payout_returned(
            withdrawal_id=withdrawal_id,
            player_id=self.player_id,
            currency=self.currency,
            amount_minor=amount_minor,
            actor=cause.actor,
            request_id=cause.request_id,
        )

    @event("PayoutReturned")
    def _payout_returned(
        self,
        withdrawal_id: str,
        player_id: str,
        currency: str,
        amount_minor: int,
        actor: str,
        request_id: str,
    ) -> None:
        self.available += amount_minor

    # ---- bonus and operator adjustments -------------------------------------------------------

    def credit_bonus(self, amount_minor: int, source: str, cause: Cause) -> None:
        """Non-withdrawable reward credit, paid from the marketing budget."""
        check_positive_amount(amount_minor)
        if not source:
            raise InvalidArgument("a bonus needs a source")
        self._bonus_credited(
            player_id=self.player_id,
            currency=self.currency,
            amount_minor=amount_minor,
            source=source,
            actor=cause.actor,
            request_id=cause.request_id,
        )

    @event("BonusCredited")
    def _bonus_credited(
        self,
        player_id: str,
        currency: str,
        amount_minor: int,
        source: str,
        actor: str,
        request_id: str,
    ) -> None:
        self.bonus += amount_minor

    def check_can_receive_reward(self) -> None:
        """Rewards are play: a wallet frozen for gameplay (or entirely) gets none."""
        self.check_not_frozen(FreezeScope.GAMEPLAY)

    def credit_reward(self, balance: Balance, amount_minor: int, source: str, cause: Cause) -> None:
        """A reward-centre grant from the marketing budget: to bonus (the ``BonusCredited``
        event) or, for a cash reward, to available (withdrawable)."""
        self.check_can_receive_reward()
        if balance is Balance.BONUS:
            self.credit_bonus(amount_minor, source, cause)
            return
        check_positive_amount(amount_minor)
        if not source:
            raise InvalidArgument("a reward needs a source")
        self._cash_reward_credited(
            player_id=self.player_id,
            currency=self.currency,
            amount_minor=amount_minor,
            source=source,
            actor=cause.actor,
            request_id=cause.request_id,
        )

    @event("CashRewardCredited")
    def _cash_reward_credited(
        self,
        player_id: str,
        currency: str,
        amount_minor: int,
        source: str,
        actor: str,
        request_id: str,
    ) -> None:
        self.available += amount_minor

    def adjust(self, balance: Balance, delta_minor: int, reason: str, cause: Cause) -> None:
        """An operator correction (signed), against ``house:adjustments``. Needs a reason."""
        if not cause.is_operator:
            raise InvalidArgument("only an operator can adjust a wallet")
        if not reason.strip():
            raise InvalidArgument("an adjustment needs a reason")
        if type(delta_minor) is not int or delta_minor == 0 or abs(delta_minor) > MAX_AMOUNT_MINOR:
            raise InvalidAmount(f"adjustment must be a non-zero integer, got {delta_minor!r}")
        current = self.available if balance is Balance.AVAILABLE else self.bonus
        if current + delta_minor < 0:
            raise InsufficientFunds(f"{balance.value} {current} cannot absorb {delta_minor}")
        self._adjusted(
            player_id=self.player_id,
            currency=self.currency,
            balance=balance.value,
            delta_minor=delta_minor,
            reason=reason.strip(),
            actor=cause.actor,
            request_id=cause.request_id,
        )

    @event("Adjusted")
    def _adjusted(
        self,
        player_id: str,
        currency: str,
        balance: str,
        delta_minor: int,
        reason: str,
        actor: str,
        request_id: str,
    ) -> None:
        if balance == Balance.AVAILABLE.value:
            self.available += delta_minor
        else:
            self.bonus += delta_minor

    # ---- freezes -------------------------------------------------------------------------------

    def freeze(self, scope: FreezeScope, reason: str, cause: Cause) -> None:
        if not reason.strip():
            raise InvalidArgument("a freeze needs a reason")
        if scope.value in self.freezes:
            raise FreezeUnchanged(f"wallet is already frozen for {scope.value}")
        self._frozen(
            scope=scope.value, reason=reason.strip(), actor=cause.actor, request_id=cause.request_id
        )

    @event("Frozen")
    def _frozen(self, scope: str, reason: str, actor: str, request_id: str) -> None:
        self.freezes[scope] = reason

    def unfreeze(self, scope: FreezeScope, reason: str, cause: Cause) -> None:
        if not reason.strip():
            raise InvalidArgument("an unfreeze needs a reason")
        if scope.value not in self.freezes:
            raise FreezeUnchanged(f"wallet is not frozen for {scope.value}")
        self._unfrozen(
            scope=scope.value, reason=reason.strip(), actor=cause.actor, request_id=cause.request_id
        )

    @event("Unfrozen")
    def _unfrozen(self, scope: str, reason: str, actor: str, request_id: str) -> None:
        del self.freezes[scope]

    # ---- responsible-play limits ---------------------------------------------------------------

    def set_deposit_limit(
        self, period: LimitPeriod, limit_minor: int | None, at: datetime, cause: Cause
    ) -> None:
        """Lowering (or a first limit) applies at once; raising or removing waits 24 hours."""
        if limit_minor is not None:
            check_positive_amount(limit_minor)
        in_force = self.deposit_limit(period, at)
        lowering = limit_minor is not None and (in_force is None or limit_minor <= in_force)
        if lowering:
            current, pending, pending_from = limit_minor, None, None
        else:
            current, pending, pending_from = in_force, limit_minor, at + LIMIT_RAISE_DELAY
        self._deposit_limit_changed(
            period=period.value,
            limit_minor=current,
            pending_limit_minor=pending,
            pending_from=pending_from,
            actor=cause.actor,
            request_id=cause.request_id,
        )

    @event("DepositLimitChanged")
    def _deposit_limit_changed(
        self,
        period: str,
        limit_minor: int | None,
        pending_limit_minor: int | None,
        pending_from: datetime | None,
        actor: str,
        request_id: str,
    ) -> None:
        self.deposit_limits[period] = [limit_minor, pending_limit_minor, pending_from]

    # ---- draws ---------------------------------------------------------------------------------

    def set_client_seed(self, client_seed: str, cause: Cause) -> None:
        """The player's own contribution to every later draw's randomness."""
        if not isinstance(client_seed, str) or not 1 <= len(client_seed) <= 64:
            raise InvalidArgument("a client seed must be 1..64 characters")
        if not client_seed.isprintable() or ":" in client_seed:
            raise InvalidArgument("a client seed must be printable and contain no ':'")
        self._client_seed_changed(
            client_seed=client_seed, actor=cause.actor, request_id=cause.request_id
        )

    @event("ClientSeedChanged")
    def _client_seed_changed(self, client_seed: str, actor: str, request_id: str) -> None:
        self.client_seed = client_seed

    def settle_draws(
        self,
        draw_id: str,
        pool_key: str,
        cost_total: int,
        cash_won: int,
        bonus_won: int,
        draws: int,
        play: dict[str, Any],
        cause: Cause,
    ) -> None:
        """Charge the draws (bonus first, then available) and credit what they won."""
        check_positive_amount(cost_total)
        if cost_total > self.bonus + self.available:
            raise InsufficientFunds(
                f"draws cost {cost_total}, wallet holds {self.bonus + self.available}"
            )
        if cash_won < 0 or bonus_won < 0 or draws <= 0:
            raise InvalidArgument("winnings are never negative and at least one draw settles")
        from_bonus = min(self.bonus, cost_total)
        # The same event as calling self._draws_settled(...), recorded without the library's
        # per-call signature work (once per draw on the group-commit desk).
        trigger(
            self,
            Wallet.DrawsSettled,  # type: ignore[attr-defined]
            _DRAWS_SETTLED,
            {
                "draw_id": draw_id,
                "pool_key": pool_key,
                "player_id": self.player_id,
                "currency": self.currency,
                "cost_total": cost_total,
                "from_bonus": from_bonus,
                "from_available": cost_total - from_bonus,
                "cash_won": cash_won,
                "bonus_won": bonus_won,
                "nonce": self.nonce + draws,
                "play": play,
                "actor": cause.actor,
                "request_id": cause.request_id,
            },
        )

    @event("DrawsSettled")
    def _draws_settled(
        self,
        draw_id: str,
        pool_key: str,
        player_id: str,
        currency: str,
        cost_total: int,
        from_bonus: int,
        from_available: int,
        cash_won: int,
        bonus_won: int,
        nonce: int,
        play: dict[str, Any],
        actor: str,
        request_id: str,
    ) -> None:
        self.bonus += bonus_won - from_bonus
        self.available += cash_won - from_available
        self.nonce = nonce
        self.plays[pool_key] = play

    def note_refused_draw(self, draw_id: str, pool_key: str, reason: str, cause: Cause) -> None:
        """A draw request refused without charge (audit trail; changes no balance)."""
        trigger(
            self,
            Wallet.DrawRefused,  # type: ignore[attr-defined]
            _DRAW_REFUSED,
            {
                "draw_id": draw_id,
                "pool_key": pool_key,
                "reason": reason,
                "actor": cause.actor,
                "request_id": cause.request_id,
            },
        )

    @event("DrawRefused")
    def _draw_refused(
        self, draw_id: str, pool_key: str, reason: str, actor: str, request_id: str
    ) -> None:
        pass


# The bodies of the @event methods the draw path records through domain.hot_events.
_DRAWS_SETTLED = body_of(Wallet, "_draws_settled")
_DRAW_REFUSED = body_of(Wallet, "_draw_refused")
