"""Wallet use cases: open, bonus credit, operator adjustment, freezes, deposit limits."""

from __future__ import annotations

from application.clock import Clock
from application.commands import Commands, Unit
from application.errors import NotFound
from application.results import WalletBalances
from domain import ids
from domain.cause import Cause
from domain.errors import DomainError
from domain.wallet import Balance, FreezeScope, LimitPeriod, Wallet

__all__ = ["WalletAlreadyOpen", "Wallets"]


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

    def credit_bonus(
        self, player_id: str, amount_minor: int, source: str, cause: Cause
    ) -> WalletBalances:
        """Non-withdrawable credit from the marketing budget."""

        def decide(unit: Unit) -> WalletBalances:
            wallet = unit.get(Wallet, ids.wallet_id(player_id))
            wallet.credit_bonus(amount_minor, source, cause)
            return WalletBalances.of(wallet)

        params = {"player": player_id, "amount": amount_minor, "source": source}
        return self._commands.execute("credit_bonus", cause, params, decide, WalletBalances)

    def adjust(
        self, player_id: str, balance: Balance, delta_minor: int, reason: str, cause: Cause
    ) -> WalletBalances:
        """Operator correction, signed, with a mandatory reason."""

        def decide(unit: Unit) -> WalletBalances:
            wallet = unit.get(Wallet, ids.wallet_id(player_id))
            wallet.adjust(balance, delta_minor, reason, cause)
            return WalletBalances.of(wallet)

        params = {
            "player": player_id,
            "balance": balance.value,
            "delta": delta_minor,
            "reason": reason,
        }
        return self._commands.execute("adjust_wallet", cause, params, decide, WalletBalances)

    def freeze(
        self, player_id: str, scope: FreezeScope, reason: str, cause: Cause
    ) -> WalletBalances:
        def decide(unit: Unit) -> WalletBalances:
            wallet = unit.get(Wallet, ids.wallet_id(player_id))
            wallet.freeze(scope, reason, cause)
            return WalletBalances.of(wallet)

        params = {"player": player_id, "scope": scope.value, "reason": reason}
        return self._commands.execute("freeze_wallet", cause, params, decide, WalletBalances)

    def unfreeze(
        self, player_id: str, scope: FreezeScope, reason: str, cause: Cause
    ) -> WalletBalances:
        def decide(unit: Unit) -> WalletBalances:
            wallet = unit.get(Wallet, ids.wallet_id(player_id))
            wallet.unfreeze(scope, reason, cause)
            return WalletBalances.of(wallet)

        params = {"player": player_id, "scope": scope.value, "reason": reason}
        return self._commands.execute("unfreeze_wallet", cause, params, decide, WalletBalances)

    def set_deposit_limit(
        self, player_id: str, period: LimitPeriod, limit_minor: int | None, cause: Cause
    ) -> WalletBalances:
        """Responsible play: lowering applies at once, raising after 24 hours."""

        def decide(unit: Unit) -> WalletBalances:
            wallet = unit.get(Wallet, ids.wallet_id(player_id))
            wallet.set_deposit_limit(period, limit_minor, self._clock(), cause)
            return WalletBalances.of(wallet)

        params = {"player": player_id, "period": period.value, "limit": limit_minor}
        return self._commands.execute("set_deposit_limit", cause, params, decide, WalletBalances)
