"""Players as operators look them up: identity, logins, devices and addresses, freezes, payout
destinations and manual adjustments awaiting a second operator.

* ``players``: one row per player (from the wallet; the account adds e-mail and registration
  address). Logins and failed logins are counted here.
* ``devices`` / ``ips``: every device fingerprint (``domain.account.device_of``) and address a
  player logged in from (the registration address counts), with first and last use.
* ``destinations``: the player's payout destinations by a SHA-256 of what identifies them (IBAN,
  network and address): players sharing one are found without the read model holding it.
* ``freezes``: the scopes frozen now, with reason and actor.
* ``adjustments``: manual balance adjustments and their review state.

Account, wallet and payout-method events name their own stream, not the player: ``wallets`` and
``payout_lists`` map those streams to players, and the handlers write with ``INSERT … SELECT``
over them (a handler never reads).
"""

from __future__ import annotations

import hashlib
from typing import Any, ClassVar

from domain.payout_details import identity
from projections.base import Handler, LedgerProjection, Writes, iso

__all__ = ["PlayersProjection", "destination_key"]


def destination_key(kind: str, details: dict[str, str]) -> str:
    """What two payout methods to the same destination share, hashed."""
    return hashlib.sha256(identity(kind, details).encode()).hexdigest()


class PlayersProjection(LedgerProjection):
    name = "players"
    ddl: ClassVar[list[str]] = [
        "CREATE TABLE IF NOT EXISTS {players} (player_id TEXT PRIMARY KEY, account_id TEXT,"
        " email TEXT, currency TEXT, created_at TEXT NOT NULL, registration_ip TEXT,"
        " last_login_at TEXT, last_ip TEXT, logins BIGINT NOT NULL DEFAULT 0,"
        " failed_logins BIGINT NOT NULL DEFAULT 0, locked_until TEXT)",
        "CREATE INDEX IF NOT EXISTS {players}_by_account ON {players} (account_id)",
        "CREATE INDEX IF NOT EXISTS {players}_by_email ON {players} (email)",
        "CREATE INDEX IF NOT EXISTS {players}_by_ip ON {players} (registration_ip)",
        "CREATE TABLE IF NOT EXISTS {wallets} (wallet_id TEXT PRIMARY KEY,"
        " player_id TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS {payout_lists} (list_id TEXT PRIMARY KEY,"
        " player_id TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS {devices} (player_id TEXT NOT NULL, device TEXT NOT NULL,"
        " user_agent TEXT NOT NULL, first_at TEXT NOT NULL, last_at TEXT NOT NULL,"
        " logins BIGINT NOT NULL, PRIMARY KEY (player_id, device))",
        "CREATE INDEX IF NOT EXISTS {devices}_by_device ON {devices} (device)",
        "CREATE TABLE IF NOT EXISTS {ips} (player_id TEXT NOT NULL, ip TEXT NOT NULL,"
        " first_at TEXT NOT NULL, last_at TEXT NOT NULL, logins BIGINT NOT NULL,"
        " PRIMARY KEY (player_id, ip))",
        "CREATE INDEX IF NOT EXISTS {ips}_by_ip ON {ips} (ip)",
        "CREATE TABLE IF NOT EXISTS {destinations} (player_id TEXT NOT NULL,"
        " method_id TEXT NOT NULL, kind TEXT NOT NULL, destination TEXT NOT NULL,"
        " masked TEXT NOT NULL, removed INTEGER NOT NULL, PRIMARY KEY (player_id, method_id))",
        "CREATE INDEX IF NOT EXISTS {destinations}_by_key ON {destinations} (destination)",
        "CREATE TABLE IF NOT EXISTS {freezes} (player_id TEXT NOT NULL, scope TEXT NOT NULL,"
        " reason TEXT NOT NULL, actor TEXT NOT NULL, at TEXT NOT NULL,"
        " PRIMARY KEY (player_id, scope))",
        "CREATE TABLE IF NOT EXISTS {adjustments} (adjustment_id TEXT PRIMARY KEY,"
        " position BIGINT NOT NULL, player_id TEXT NOT NULL, balance TEXT NOT NULL,"
        " delta_minor BIGINT NOT NULL, reason TEXT NOT NULL, state TEXT NOT NULL,"
        " requested_by TEXT NOT NULL, decided_by TEXT, decision_reason TEXT,"
        " requested_at TEXT NOT NULL, decided_at TEXT)",
        "CREATE INDEX IF NOT EXISTS {adjustments}_by_state ON {adjustments} (state, position)",
        "CREATE INDEX IF NOT EXISTS {adjustments}_by_player ON {adjustments} (player_id, position)",
    ]

    def handlers(self) -> dict[str, Handler]:
        return {
            **self._account_handlers(),
            **self._wallet_handlers(),
            **self._payout_handlers(),
            **self._adjustment_handlers(),
        }

    def _account_handlers(self) -> dict[str, Handler]:
        players, devices, ips = self.t("players"), self.t("devices"), self.t("ips")
        registered = (
            f"INSERT INTO {players} (player_id, account_id, email, created_at, registration_ip)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (player_id) DO UPDATE SET"
            " account_id = excluded.account_id, email = excluded.email,"
            " created_at = excluded.created_at, registration_ip = excluded.registration_ip"
        )
        seen_ip = (
            f"INSERT INTO {ips} (player_id, ip, first_at, last_at, logins)"
            f" SELECT player_id, %s, %s, %s, %s FROM {players} WHERE account_id = %s"
            " ON CONFLICT (player_id, ip) DO UPDATE SET last_at = excluded.last_at,"
            f" logins = {ips}.logins + excluded.logins"
        )
        seen_device = (
            f"INSERT INTO {devices} (player_id, device, user_agent, first_at, last_at, logins)"
            f" SELECT player_id, %s, %s, %s, %s, 1 FROM {players} WHERE account_id = %s"
            " ON CONFLICT (player_id, device) DO UPDATE SET last_at = excluded.last_at,"
            f" user_agent = excluded.user_agent, logins = {devices}.logins + 1"
        )
        logged_in = (
            f"UPDATE {players} SET last_login_at = %s, last_ip = %s, logins = logins + 1"
            " WHERE account_id = %s"
        )
        failed = f"UPDATE {players} SET failed_logins = failed_logins + 1 WHERE account_id = %s"
        locked = f"UPDATE {players} SET locked_until = %s WHERE account_id = %s"

        def on_registered(w: Writes, e: Any, _: int) -> None:
            at, account, ip = iso(e.at), str(e.originator_id), getattr(e, "ip", "")
            w.add(registered, e.player_id, account, e.email, at, ip or None)
            if ip:
                w.add(seen_ip, ip, at, at, 0, account)

        def on_logged_in(w: Writes, e: Any, _: int) -> None:
            at, account = iso(e.at), str(e.originator_id)
            w.add(logged_in, at, e.ip, account)
            w.add(seen_ip, e.ip, at, at, 1, account)
            w.add(seen_device, e.device, e.user_agent, at, at, account)

        return {
            "PlayerAccount.Registered": on_registered,
            "PlayerAccount.LoggedIn": on_logged_in,
            "PlayerAccount.LoginFailed": lambda w, e, _: w.add(failed, str(e.originator_id)),
            "PlayerAccount.Locked": lambda w, e, _: w.add(
                locked, iso(e.until), str(e.originator_id)
            ),
            "PlayerAccount.PasswordReset": lambda w, e, _: w.add(
                locked, None, str(e.originator_id)
            ),
        }

    def _wallet_handlers(self) -> dict[str, Handler]:
        players, wallets, freezes = self.t("players"), self.t("wallets"), self.t("freezes")
        opened = (
            f"INSERT INTO {players} (player_id, currency, created_at) VALUES (%s, %s, %s)"
            " ON CONFLICT (player_id) DO UPDATE SET currency = excluded.currency"
        )
        wallet = f"INSERT INTO {wallets} (wallet_id, player_id) VALUES (%s, %s)"
        frozen = (
            f"INSERT INTO {freezes} (player_id, scope, reason, actor, at)"
            f" SELECT player_id, %s, %s, %s, %s FROM {wallets} WHERE wallet_id = %s"
            " ON CONFLICT (player_id, scope) DO UPDATE SET reason = excluded.reason,"
            " actor = excluded.actor, at = excluded.at"
        )
        unfrozen = (
            f"DELETE FROM {freezes} WHERE scope = %s AND player_id ="
            f" (SELECT player_id FROM {wallets} WHERE wallet_id = %s)"
        )

        def on_opened(w: Writes, e: Any, _: int) -> None:
            w.add(opened, e.player_id, e.currency, iso(e.timestamp))
            w.add(wallet, str(e.originator_id), e.player_id)

        def on_frozen(w: Writes, e: Any, _: int) -> None:
            w.add(frozen, e.scope, e.reason, e.actor, iso(e.timestamp), str(e.originator_id))

        return {
            "Wallet.Opened": on_opened,
            "Wallet.Frozen": on_frozen,
            "Wallet.Unfrozen": lambda w, e, _: w.add(unfrozen, e.scope, str(e.originator_id)),
        }

    def _payout_handlers(self) -> dict[str, Handler]:
        lists, destinations = self.t("payout_lists"), self.t("destinations")
        opened = f"INSERT INTO {lists} (list_id, player_id) VALUES (%s, %s)"
        added = (
            f"INSERT INTO {destinations} (player_id, method_id, kind, destination, masked,"
            f" removed) SELECT player_id, %s, %s, %s, %s, 0 FROM {lists} WHERE list_id = %s"
        )
        removed = f"UPDATE {destinations} SET removed = 1 WHERE method_id = %s"

        def on_added(w: Writes, e: Any, _: int) -> None:
            key = destination_key(e.kind, e.details)
            w.add(added, e.method_id, e.kind, key, e.masked, str(e.originator_id))

        return {
            "PayoutMethods.Opened": lambda w, e, _: w.add(
                opened, str(e.originator_id), e.player_id
            ),
            "PayoutMethods.MethodAdded": on_added,
            "PayoutMethods.MethodRemoved": lambda w, e, _: w.add(removed, e.method_id),
        }

    def _adjustment_handlers(self) -> dict[str, Handler]:
        table = self.t("adjustments")
        requested = (
            f"INSERT INTO {table} (adjustment_id, position, player_id, balance, delta_minor,"
            " reason, state, requested_by, requested_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, 'requested', %s, %s)"
        )
        decided = (
            f"UPDATE {table} SET state = %s, decided_by = %s, decision_reason = %s,"
            " decided_at = %s WHERE adjustment_id = %s"
        )

        def on_requested(w: Writes, e: Any, position: int) -> None:
            w.add(
                requested,
                str(e.originator_id),
                position,
                e.player_id,
                e.balance,
                e.delta_minor,
                e.reason,
                e.actor,
                iso(e.at),
            )

        def decision(state: str) -> Handler:
            def on_decided(w: Writes, e: Any, _: int) -> None:
                reason = getattr(e, "reason", None)
                w.add(decided, state, e.actor, reason, iso(e.at), str(e.originator_id))

            return on_decided

        return {
            "Adjustment.Requested": on_requested,
            "Adjustment.Approved": decision("posted"),
            "Adjustment.Rejected": decision("rejected"),
        }
