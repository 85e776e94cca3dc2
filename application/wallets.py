"""Wallet use cases: open, bonus credit, operator adjustment, freezes, deposit limits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from application.clock import Clock
from application.commands import Commands, Unit
from application.errors import NotFound
from application.results import WalletBalances
from domain import ids
from domain.cause import Cause
from domain.errors import DomainError
from domain.wallet import Balance, FreezeScope, LimitPeriod, Wallet

__all__ = ["DepositLimit", "PlaySettings", "WalletAlreadyOpen", "Wallets"]


@dataclass(frozen=True, slots=True)
class DepositLimit:
    period: str
    in_force: int | None  # None: no limit
    pending: int | None  # a raise or removal waiting for its cooling-off
    pending_from: datetime | None


@dataclass(frozen=True, slots=True)
class PlaySettings:
    """What the player set for their own play: the draw client seed and deposit limits."""

    client_seed: str
    next_nonce: int
    limits: list[DepositLimit]


class WalletAlreadyOpen(DomainError):
    code = "wallet_exists"


class Wallets:
    def __init__(self, commands: Commands, clock: Clock, currency: str) -> None:
        self._commands = commands
        self._clock = clock
        self._currency = currency

    def open(self, player_id: str, cause: Cause) -> WalletBalances:
        """Open the player's wallet in the deployment currency."""

        def decide(unit: Unit) -> WalletBalances:
            if unit.find(Wallet, ids.wallet_id(player_id)) is not None:
                raise WalletAlreadyOpen(f"player {player_id} already has a wallet")
            wallet = Wallet.open(player_id, self._currency, cause)
            unit.add(wallet)
            return WalletBalances.of(wallet)

        return self._commands.execute(
            "open_wallet", cause, {"player": player_id}, decide, WalletBalances
        )

    def balances(self, player_id: str) -> WalletBalances:
        """The wallet as the write side sees it now (read models come from projections)."""
        wallet = Unit(self._commands.ledger).find(Wallet, ids.wallet_id(player_id))
        if wallet is None:
            raise NotFound(f"player {player_id} has no wallet")
        return WalletBalances.of(wallet)

    def play_settings(self, player_id: str) -> PlaySettings:
        """The client seed, the next nonce and each deposit limit (in force now, and a pending
        raise with the time it applies)."""
        wallet = Unit(self._commands.ledger).find(Wallet, ids.wallet_id(player_id))
        if wallet is None:
            raise NotFound(f"player {player_id} has no wallet")
        now = self._clock()
        limits = []
        for period in LimitPeriod:
            _, pending, pending_from = wallet.deposit_limits.get(period.value, [None, None, None])
            waiting = pending_from is not None and now < pending_from
            limits.append(
                DepositLimit(
                    period.value,
                    wallet.deposit_limit(period, now),
                    pending if waiting else None,
                    pending_from if waiting else None,
                )
            )
        return PlaySettings(wallet.client_seed, wallet.nonce, limits)

    def _on_wallet(
        self,
        name: str,
        player_id: str,
        cause: Cause,
        params: dict[str, object],
        act: Callable[[Wallet], None],
    ) -> WalletBalances:
        def decide(unit: Unit) -> WalletBalances:
            wallet = unit.get(Wallet, ids.wallet_id(player_id))
            act(wallet)
            return WalletBalances.of(wallet)

        return self._commands.execute(
            name, cause, {"player": player_id, **params}, decide, WalletBalances
        )

    def credit_bonus(
        self, player_id: str, amount_minor: int, source: str, cause: Cause
    ) -> WalletBalances:
        """Non-withdrawable credit from the marketing budget."""
        return self._on_wallet(
            "credit_bonus",
            player_id,
            cause,
            {"amount": amount_minor, "source": source},
            lambda w: w.credit_bonus(amount_minor, source, cause),
        )

    def adjust(
        self, player_id: str, balance: Balance, delta_minor: int, reason: str, cause: Cause
    ) -> WalletBalances:
        """Operator correction, signed, with a mandatory reason."""
        params: dict[str, object] = {
            "balance": balance.value,
            "delta": delta_minor,
            "reason": reason,
        }
        return self._on_wallet(
            "adjust_wallet",
            player_id,
            cause,
            params,
            lambda w: w.adjust(balance, delta_minor, reason, cause),
        )

    def freeze(
        self, player_id: str, scope: FreezeScope, reason: str, cause: Cause
    ) -> WalletBalances:
        """Block the scope (account, gameplay, deposit or withdrawal) until unfrozen."""
        return self._on_wallet(
            "freeze_wallet",
            player_id,
            cause,
            {"scope": scope.value, "reason": reason},
            lambda w: w.freeze(scope, reason, cause),
        )

    def unfreeze(
        self, player_id: str, scope: FreezeScope, reason: str, cause: Cause
    ) -> WalletBalances:
        return self._on_wallet(
            "unfreeze_wallet",
            player_id,
            cause,
            {"scope": scope.value, "reason": reason},
            lambda w: w.unfreeze(scope, reason, cause),
        )

    def set_deposit_limit(
        self, player_id: str, period: LimitPeriod, limit_minor: int | None, cause: Cause
    ) -> WalletBalances:
        """Responsible play: lowering applies at once, raising after 24 hours."""
        return self._on_wallet(
            "set_deposit_limit",
            player_id,
            cause,
            {"period": period.value, "limit": limit_minor},
            lambda w: w.set_deposit_limit(period, limit_minor, self._clock(), cause),
        )

    def set_client_seed(self, player_id: str, client_seed: str, cause: Cause) -> WalletBalances:
        """The player's own input to every later draw's randomness."""
        return self._on_wallet(
            "set_client_seed",
            player_id,
            cause,
            {"seed": client_seed},
            lambda w: w.set_client_seed(client_seed, cause),
        )
