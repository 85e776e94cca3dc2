"""The one composition root: every entry point (CLI, APIs, projectors, tests) builds here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from uuid import uuid4

from application.accounts import Accounts
from application.adjustments import Adjustments
from application.changes import Changes
from application.clock import Clock, system_clock
from application.commands import Commands, RetryPolicy
from application.config import Config
from application.deposits import Deposits
from application.draws import Draws
from application.expiry import Expiry
from application.ledger import Ledger
from application.missions import Missions
from application.operators import Operators
from application.payments import PaymentProvider, Payments
from application.payout_methods import PayoutMethodsService
from application.pools import Pools, SeedSource, new_server_seed
from application.ports import PasswordHasher
from application.rewards import RewardGranter, Rewards
from application.risk import AutoFreeze
from application.wallets import Wallets
from application.withdrawals import Withdrawals
from domain.config import ConfigValues
from infrastructure.cpus import pin_process
from infrastructure.live import InMemoryLiveBus, LiveBus, LiveFeed, RedisLiveBus
from infrastructure.mail import MailSender, mail_sender
from infrastructure.notifier import Notifier, Outbox
from infrastructure.passwords import Argon2Hasher
from infrastructure.projector import BATCH_SIZE, ProjectionStatus, Projector
from infrastructure.readstore import PostgresReadStore, SqliteReadStore
from infrastructure.sandbox_payments import SandboxProvider
from infrastructure.settings import Settings
from infrastructure.sweeper import Sweeper
from infrastructure.totp import PyotpCodes
from projections.catalog import build
from projections.queries import ReadModels
from projections.store import ReadStore

__all__ = ["System", "bootstrap"]

# The risk score aggregates over every player: the auto-freeze looks at it once a minute.
AUTOFREEZE_EVERY_S = 60.0


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
    payments: Payments
    payout_methods: PayoutMethodsService
    # The built-in provider (its checkout page completes payments), None when switched off.
    sandbox: SandboxProvider | None
    accounts: Accounts
    operators: Operators
    # Runtime settings (operators change them through change requests) and the requests.
    config: Config
    changes: Changes
    read_store: ReadStore
    read_models: ReadModels
    clock: Clock = system_clock
    _status_projector: Projector | None = field(default=None, init=False, repr=False)
    _live_bus: LiveBus | None = field(default=None, init=False, repr=False)

    def projector(
        self, names: Sequence[str] | None = None, batch_size: int = BATCH_SIZE
    ) -> Projector:
        """A projector over the chosen projections (all by default) at their active versions."""
        postgres = None if self.settings.embedded else self.settings.database_url
        return Projector(
            self.ledger,
            build(self.read_store, names),
            conninfo=postgres,
            lease_scope=self.settings.schema,
            batch_size=batch_size,
        )

    def projection_status(self) -> list[ProjectionStatus]:
        """Every projection's position, lag and state, for health checks. The projector behind
        it is built once (its tables' DDL runs once), not on every probe."""
        if self._status_projector is None:
            self._status_projector = self.projector()
        return self._status_projector.status()

    def notifier(self, sender: MailSender | None = None) -> Notifier:
        """Delivers the notification outbox: over SMTP when PRIZELEDGER_SMTP_URL is set, else
        into the local outbox that the console lists (the embedded mode)."""
        s = self.settings
        sender = sender or mail_sender(s.smtp_url, s.mail_from, self.read_store, self.clock)
        return Notifier(self.read_store, sender, self.clock)

    def outbox(self) -> Outbox:
        """Queues mails that no event drives (password-reset and verification links)."""
        return Outbox(self.read_store, self.clock)

    @cached_property
    def missions(self) -> Missions:
        """The reward centre's missions (operators change them through change requests)."""
        return Missions(self.commands)

    @cached_property
    def rewards(self) -> Rewards:
        """The marketing budget, grants, claims and check-ins."""
        return Rewards(self.commands, self.clock, self.settings.policy.currency, self.read_models)

    def reward_granter(self, poll_s: float = 1.0) -> RewardGranter:
        """Grants the rewards the rewards read model says are due (safe in every process)."""
        return RewardGranter(self.rewards, self.read_models, poll_s)

    def live_bus(self) -> LiveBus:
        """The process's live bus: Redis pub/sub when REDIS_URL is set, else in memory."""
        if self._live_bus is None:
            url = self.settings.redis_url
            self._live_bus = (
                RedisLiveBus(url, self.settings.redis_prefix) if url else InMemoryLiveBus()
            )
        return self._live_bus

    def live_feed(self) -> LiveFeed:
        """Publishes to ``live_bus()``; on Postgres one feed per deployment holds the lease."""
        postgres = None if self.settings.embedded else self.settings.database_url
        lease_scope = self.settings.schema
        return LiveFeed(self.ledger, self.live_bus(), conninfo=postgres, lease_scope=lease_scope)

    @cached_property
    def adjustments(self) -> Adjustments:
        """Manual balance corrections under maker-checker."""
        return Adjustments(self.commands, self.clock)

    def expiry(self) -> Expiry:
        """Expires deposits and withdrawals left open past PRIZELEDGER_DEPOSIT_EXPIRY_S and
        PRIZELEDGER_WITHDRAWAL_REVIEW_EXPIRY_S."""
        s = self.settings
        return Expiry(
            self.commands,
            self.deposits,
            self.withdrawals,
            self.read_models,
            self.clock,
            deposit_after=timedelta(seconds=s.deposit_expiry_s),
            withdrawal_after=timedelta(seconds=s.withdrawal_review_expiry_s),
        )

    def autofreeze(self) -> AutoFreeze:
        """Freezes withdrawals at PRIZELEDGER_RISK_AUTOFREEZE_SCORE (does nothing when unset)."""
        threshold = self.settings.risk_autofreeze_score
        return AutoFreeze(self.commands, self.wallets, self.read_models, threshold)

    def sweeper(self, poll_s: float = 5.0) -> Sweeper:
        """Runs ``expiry`` every ``poll_s`` and ``autofreeze`` every AUTOFREEZE_EVERY_S; on
        Postgres one per deployment."""
        postgres = None if self.settings.embedded else self.settings.database_url
        jobs = [
            ("expiry", self.expiry().run_once, 0.0),
            ("autofreeze", self.autofreeze().run_once, AUTOFREEZE_EVERY_S),
        ]
        return Sweeper(jobs, conninfo=postgres, lease_scope=self.settings.schema, poll_s=poll_s)

    def close(self) -> None:
        if self._live_bus is not None:
            self._live_bus.close()
        self.draws.close()
        self.read_store.close()
        self.ledger.close()


def _event_store_env(settings: Settings) -> dict[str, str]:
    """The library's environment; an in-memory SQLite store becomes one named shared-cache
    database for this system. Every connection to plain ``:memory:`` is a database of its own,
    and the recorder's pool opens a second connection as soon as two threads read at once (the
    session watcher beside a request): that connection would find no tables."""
    env = settings.event_store_env()
    if env.get("SQLITE_DBNAME") == ":memory:":
        env["SQLITE_DBNAME"] = f"file:prizeledger-{uuid4().hex}?mode=memory&cache=shared"
    return env


def bootstrap(
    settings: Settings | None = None,
    *,
    clock: Clock = system_clock,
    retry: RetryPolicy | None = None,
    seeds: SeedSource = new_server_seed,
    hasher: PasswordHasher | None = None,
) -> System:
    settings = settings or Settings.from_env()
    sandbox = _sandbox(settings, clock)  # first: a missing secret stops start-up before any I/O
    if settings.cpus is not None:  # before the pools, the desk and the workers start threads
        pin_process(settings.cpus)
    ledger = Ledger(env=_event_store_env(settings))
    commands = Commands(ledger, retry)
    policy = settings.policy
    read_store = _read_store(settings)
    read_models = ReadModels(read_store)
    defaults = ConfigValues.of(policy, settings.rate_ip_per_minute, settings.rate_player_per_minute)
    config = Config(commands, defaults, policy.currency)
    pools = Pools(commands, clock, policy.currency, seeds)
    deposits = Deposits(commands, clock, config.money_policy)
    providers: dict[str, PaymentProvider] = {sandbox.name: sandbox} if sandbox else {}
    hasher = hasher or _hasher(settings)
    return System(
        settings=settings,
        ledger=ledger,
        commands=commands,
        wallets=Wallets(commands, clock, policy.currency),
        accounts=Accounts(
            commands,
            clock,
            hasher,
            PyotpCodes(),
            policy.currency,
            settings.session_ttl,
            registrations=read_models,
            max_accounts_per_ip=settings.max_accounts_per_ip,
            signup_bonus=settings.signup_bonus_minor,
            referral_bonus=settings.referral_bonus_minor,
        ),
        operators=Operators(commands, clock, hasher, PyotpCodes()),
        deposits=deposits,
        withdrawals=Withdrawals(commands, clock, config.money_policy),
        pools=pools,
        config=config,
        changes=Changes(commands, pools, config),
        draws=Draws(ledger, clock, retry, max_batch=settings.draw_batch),
        payments=Payments(deposits, providers, clock, commands),
        payout_methods=PayoutMethodsService(commands, clock),
        sandbox=sandbox,
        read_store=read_store,
        read_models=read_models,
        clock=clock,
    )


def _hasher(settings: Settings) -> PasswordHasher:
    return Argon2Hasher(
        time_cost=settings.argon2_time_cost,
        memory_kib=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
    )


def _sandbox(settings: Settings, clock: Clock) -> SandboxProvider | None:
    if not settings.sandbox_payments:
        return None
    return SandboxProvider(settings.require_webhook_secret(), settings.webhook_tolerance_s, clock)


def _read_store(settings: Settings) -> ReadStore:
    if settings.embedded:
        return SqliteReadStore(settings.read_model_path())
    assert settings.database_url is not None
    return PostgresReadStore(settings.database_url, schema=settings.schema)
