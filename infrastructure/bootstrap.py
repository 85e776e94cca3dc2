"""The one composition root: every entry point (CLI, APIs, projectors, tests) builds here."""

from __future__ import annotations

from dataclasses import dataclass

from application.clock import Clock, system_clock
from application.commands import Commands, RetryPolicy
from application.deposits import Deposits
from application.draws import Draws
from application.ledger import Ledger
from application.pools import Pools, SeedSource, new_server_seed
from application.wallets import Wallets
from application.withdrawals import Withdrawals
from infrastructure.settings import Settings

__all__ = ["System", "bootstrap"]


@dataclass
class System:
    settings: Settings
    ledger: Ledger
    commands: Commands
    wallets: Wallets
    deposits: Deposits
    withdrawals: Withdrawals
    pools: Pools
    draws: Draws

    def close(self) -> None:
        self.draws.close()
        self.ledger.close()


def bootstrap(
    settings: Settings | None = None,
    *,
    clock: Clock = system_clock,
    retry: RetryPolicy | None = None,
    seeds: SeedSource = new_server_seed,
) -> System:
    settings = settings or Settings.from_env()
    ledger = Ledger(env=settings.event_store_env())
    commands = Commands(ledger, retry)
    policy = settings.policy
    return System(
        settings=settings,
        ledger=ledger,
        commands=commands,
        wallets=Wallets(commands, clock, policy.currency),
        deposits=Deposits(commands, clock, policy),
        withdrawals=Withdrawals(commands, clock, policy),
        pools=Pools(commands, clock, policy.currency, seeds),
        draws=Draws(ledger, clock, retry, max_batch=settings.draw_batch),
    )
