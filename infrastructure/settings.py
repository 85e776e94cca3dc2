"""Settings from the environment. Every variable is documented in README.md ("Configuration").

No ``DATABASE_URL`` means the embedded default: SQLite for events and read models, in-memory
stand-ins for Redis. A ``postgresql://`` URL selects the Postgres event store.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlparse

from domain.policy import MoneyPolicy
from infrastructure.cpus import CpuSpecError, parse_cpus

__all__ = ["Settings", "SettingsError"]


class SettingsError(ValueError):
    pass


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "")
    if raw not in {"", "0", "1"}:
        raise SettingsError(f"{name} must be 1 or 0, got {raw!r}")
    return default if raw == "" else raw == "1"


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None


def _cpus(env: Mapping[str, str], name: str) -> frozenset[int] | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        return parse_cpus(raw)
    except CpuSpecError as error:
        raise SettingsError(f"{name}: {error}") from None


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value <= 0:
        raise SettingsError(f"{name} must be positive, got {value}")
    return value


def _optional_positive(env: Mapping[str, str], name: str) -> int | None:
    """Unset or empty means off (None)."""
    if not env.get(name):
        return None
    return _positive(env, name, 1)


def _not_negative(env: Mapping[str, str], name: str) -> int:
    value = _int(env, name, 0)
    if value < 0:
        raise SettingsError(f"{name} must be 0 (off) or positive, got {value}")
    return value


MIN_SECRET_LENGTH = 32


def _secret(
    env: Mapping[str, str], name: str, data_dir: Path, embedded: bool, file_name: str = ""
) -> str | None:
    """A signing secret. Outside the embedded mode it must be set and long enough (None here;
    the process that needs it refuses to start); embedded, one is generated once per data
    directory (kept in a file there, so restarts keep sessions)."""
    value = env.get(name, "")
    if value:
        if len(value) < MIN_SECRET_LENGTH:
            raise SettingsError(f"{name} must be at least {MIN_SECRET_LENGTH} characters")
        return value
    if not embedded:
        return None
    path = data_dir / (file_name or f"{name.lower()}.secret")
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(value)
    return value


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    redis_url: str | None = None
    smtp_url: str | None = field(default=None, repr=False)  # None: the local outbox
    mail_from: str = "prizeledger@localhost"
    data_dir: Path = Path("var")
    policy: MoneyPolicy = field(default_factory=MoneyPolicy)
    pool_size: int = 10
    connect_timeout_s: int = 5
    cache_size: int = 10_000
    schema: str = "public"
    draw_batch: int = 64
    # The CPUs this process keeps its threads on (None: wherever the scheduler puts them);
    # see infrastructure.cpus.
    cpus: frozenset[int] | None = None
    redis_prefix: str = "prizeledger:"
    # Random per process unless configured: tokens then die with the process, which is what a
    # throwaway Settings() (tests, scripts) wants; from_env() always sets a durable one.
    jwt_secret: str | None = field(default_factory=lambda: secrets.token_urlsafe(48), repr=False)
    access_token_ttl_s: int = 900
    # The operator app's token key: never the players' (a leaked player key must not mint
    # operator tokens). Random per process unless configured, like jwt_secret.
    admin_jwt_secret: str | None = field(
        default_factory=lambda: secrets.token_urlsafe(48), repr=False
    )
    rate_ip_per_minute: int = 1_200
    rate_player_per_minute: int = 600
    stats_delay_s: int = 300
    max_body_bytes: int = 64 * 1024
    # The sandbox payment provider's webhook signing key; random per process unless configured
    # (like jwt_secret). A throwaway Settings() runs the sandbox; from_env() only when embedded.
    webhook_secret: str | None = field(
        default_factory=lambda: secrets.token_urlsafe(48), repr=False
    )
    webhook_tolerance_s: int = 300
    sandbox_payments: bool = True
    # argon2id cost (RFC 9106 low-memory profile); tests pass tiny costs to stay fast.
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65_536
    argon2_parallelism: int = 4
    session_ttl: timedelta = timedelta(days=7)
    # Stale requests expire (a process manager fails or rejects them with reason "expired").
    deposit_expiry_s: int = 86_400
    withdrawal_review_expiry_s: int = 7 * 86_400
    # A risk score at or above this freezes the player's withdrawals automatically (None: off).
    risk_autofreeze_score: int | None = None
    max_accounts_per_ip: int = 5
    # Reward centre offers paid from the marketing budget, minor units (0: off).
    signup_bonus_minor: int = 0
    referral_bonus_minor: int = 0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        policy = MoneyPolicy(
            currency=env.get("PRIZELEDGER_CURRENCY", "EUR"),
            deposit_min=_int(env, "PRIZELEDGER_DEPOSIT_MIN", 100),
            deposit_max=_int(env, "PRIZELEDGER_DEPOSIT_MAX", 1_000_000),
            withdrawal_min=_int(env, "PRIZELEDGER_WITHDRAWAL_MIN", 100),
            withdrawal_max=_int(env, "PRIZELEDGER_WITHDRAWAL_MAX", 1_000_000),
            withdrawal_daily_cap=_int(env, "PRIZELEDGER_WITHDRAWAL_DAILY_CAP", 2_000_000),
            large_withdrawal_threshold=_int(env, "PRIZELEDGER_LARGE_WITHDRAWAL", 100_000),
        )
        database_url = env.get("DATABASE_URL") or None
        data_dir = Path(env.get("PRIZELEDGER_DATA_DIR", "var"))
        embedded = database_url is None or database_url.startswith("sqlite:")
        return cls(
            database_url=database_url,
            redis_url=env.get("REDIS_URL") or None,
            smtp_url=env.get("PRIZELEDGER_SMTP_URL") or None,
            mail_from=env.get("PRIZELEDGER_MAIL_FROM") or "prizeledger@localhost",
            data_dir=data_dir,
            policy=policy,
            pool_size=_int(env, "POSTGRES_POOL_SIZE", 10),
            connect_timeout_s=_int(env, "POSTGRES_CONNECT_TIMEOUT", 5),
            cache_size=_int(env, "PRIZELEDGER_CACHE_SIZE", 10_000),
            schema=env.get("PRIZELEDGER_SCHEMA", "public"),
            draw_batch=_int(env, "PRIZELEDGER_DRAW_BATCH", 64),
            cpus=_cpus(env, "PRIZELEDGER_CPUS"),
            redis_prefix=env.get("PRIZELEDGER_REDIS_PREFIX", "prizeledger:"),
            jwt_secret=_secret(env, "PRIZELEDGER_JWT_SECRET", data_dir, embedded),
            access_token_ttl_s=_int(env, "PRIZELEDGER_ACCESS_TOKEN_TTL_S", 900),
            admin_jwt_secret=_secret(env, "PRIZELEDGER_ADMIN_JWT_SECRET", data_dir, embedded),
            rate_ip_per_minute=_int(env, "PRIZELEDGER_RATE_IP_PER_MIN", 1_200),
            rate_player_per_minute=_int(env, "PRIZELEDGER_RATE_PLAYER_PER_MIN", 600),
            stats_delay_s=_int(env, "PRIZELEDGER_STATS_DELAY_S", 300),
            max_body_bytes=_int(env, "PRIZELEDGER_MAX_BODY_BYTES", 64 * 1024),
            webhook_secret=_secret(
                env, "PRIZELEDGER_WEBHOOK_SECRET", data_dir, embedded, "webhook.secret"
            ),
            webhook_tolerance_s=_positive(env, "PRIZELEDGER_WEBHOOK_TOLERANCE_S", 300),
            sandbox_payments=_flag(env, "PRIZELEDGER_SANDBOX_PAYMENTS", embedded),
            argon2_time_cost=_int(env, "PRIZELEDGER_ARGON2_TIME_COST", 3),
            argon2_memory_kib=_int(env, "PRIZELEDGER_ARGON2_MEMORY_KIB", 65_536),
            argon2_parallelism=_int(env, "PRIZELEDGER_ARGON2_PARALLELISM", 4),
            session_ttl=timedelta(seconds=_int(env, "PRIZELEDGER_SESSION_TTL_S", 604_800)),
            deposit_expiry_s=_positive(env, "PRIZELEDGER_DEPOSIT_EXPIRY_S", 86_400),
            withdrawal_review_expiry_s=_positive(
                env, "PRIZELEDGER_WITHDRAWAL_REVIEW_EXPIRY_S", 7 * 86_400
            ),
            risk_autofreeze_score=_optional_positive(env, "PRIZELEDGER_RISK_AUTOFREEZE_SCORE"),
            max_accounts_per_ip=_positive(env, "PRIZELEDGER_MAX_ACCOUNTS_PER_IP", 5),
            signup_bonus_minor=_not_negative(env, "PRIZELEDGER_SIGNUP_BONUS"),
            referral_bonus_minor=_not_negative(env, "PRIZELEDGER_REFERRAL_BONUS"),
        )

    def require_jwt_secret(self) -> str:
        """The token signing key; the API refuses to start without one."""
        if self.jwt_secret is None:
            raise SettingsError(
                f"PRIZELEDGER_JWT_SECRET must be set (at least {MIN_SECRET_LENGTH} characters)"
            )
        return self.jwt_secret

    def require_admin_jwt_secret(self) -> str:
        """The operator token signing key; the operator app refuses to start without one, or
        with the players' key."""
        if self.admin_jwt_secret is None:
            raise SettingsError(
                "PRIZELEDGER_ADMIN_JWT_SECRET must be set"
                f" (at least {MIN_SECRET_LENGTH} characters)"
            )
        if self.admin_jwt_secret == self.jwt_secret:
            raise SettingsError(
                "PRIZELEDGER_ADMIN_JWT_SECRET must differ from PRIZELEDGER_JWT_SECRET"
            )
        return self.admin_jwt_secret

    def require_webhook_secret(self) -> str:
        """The sandbox provider's signing key; a system running the sandbox refuses to start
        without one (outside the embedded mode it must be configured)."""
        if self.webhook_secret is None:
            raise SettingsError(
                f"PRIZELEDGER_WEBHOOK_SECRET must be set (at least {MIN_SECRET_LENGTH} characters)"
            )
        return self.webhook_secret

    @property
    def embedded(self) -> bool:
        return self.database_url is None or self.database_url.startswith("sqlite:")

    def event_store_env(self) -> dict[str, str]:
        """The eventsourcing library's environment for the chosen event store."""
        common = {
            "TRANSCODER_TOPIC": "infrastructure.transcoder:MsgspecTranscoder",
            "AGGREGATE_CACHE_MAXSIZE": str(self.cache_size),
            # Mutating a cached object in place would leak a failed attempt's state into the
            # next attempt; the copy is the price of optimistic retries.
            "DEEPCOPY_FROM_AGGREGATE_CACHE": "y",
            "IS_SNAPSHOTTING_ENABLED": "y",
        }
        if self.embedded:
            return {
                **common,
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": self._sqlite_path(),
                "SQLITE_LOCK_TIMEOUT": "10",
            }
        return {**common, **self._postgres_env()}

    def read_model_path(self) -> str:
        """The embedded read models live in their own SQLite file (or memory), so the
        projector's writes never queue behind the event store's."""
        if self.database_url and ":memory:" in self.database_url:
            return ":memory:"
        if self.database_url and self.database_url.startswith("sqlite:"):
            return self._sqlite_path() + ".readmodels"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return str(self.data_dir / "readmodels.sqlite")

    def _sqlite_path(self) -> str:
        if self.database_url and self.database_url.startswith("sqlite:"):
            path = self.database_url.removeprefix("sqlite:").removeprefix("//")
            return path.removeprefix("/") if path.startswith("/:memory:") else path
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return str(self.data_dir / "prizeledger.sqlite")

    def _postgres_env(self) -> dict[str, str]:
        assert self.database_url is not None
        url = urlparse(self.database_url)
        if url.scheme not in {"postgres", "postgresql"}:
            raise SettingsError(
                f"DATABASE_URL must be postgresql:// or sqlite:, got {url.scheme!r}"
            )
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "APPLICATION_RECORDER_TOPIC": (
                "infrastructure.postgres_recorder:CopyPostgresApplicationRecorder"
            ),
            "POSTGRES_DBNAME": unquote(url.path.lstrip("/")) or "postgres",
            "POSTGRES_HOST": url.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": unquote(url.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(url.password or ""),
            "POSTGRES_CONNECT_TIMEOUT": str(self.connect_timeout_s),
            "POSTGRES_POOL_SIZE": str(self.pool_size),
            "POSTGRES_MAX_OVERFLOW": str(self.pool_size),
            "POSTGRES_PRE_PING": "y",
            "POSTGRES_SCHEMA": self.schema,
            # Never POSTGRES_ENABLE_DB_FUNCTIONS: it skips the table lock that keeps notification
            # ids in commit order, and projections would then skip events.
            "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
        }
