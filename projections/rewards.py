"""The reward centre's process state: mission progress per player and period, and what is due.

A process manager in two halves. This projection follows the event log and keeps, per player,
mission and period (``once`` or a UTC day; for a referral, the referred player's id), the
progress and a state:

    open ──(progress ≥ target)──▶ due (award auto) | claimable (award claim)
    due ──(RewardGrant.Granted)──▶ granted;  due ──(RewardBudget.GrantRefused)──▶ claimable
    waiting (a referral) ──(referred player's first deposit)──▶ due | refused (shared device/IP)

The other half, ``application.rewards.RewardGranter``, reads the ``due`` rows and issues the
grant command, whose id is derived from (player, source, period): when the projection is
replayed from the start, rows become due again and the commands find their grants (or receipts)
already made — nothing is paid twice. A row leaves ``due`` only through an event, so every row
is the fold of the events up to the tracked position, like any read model.

What counts (the moment is the use case's clock where the event records one — a draw's, a
check-in's or a TOTP enrolment's ``at`` — else the event's timestamp): draws played
(``Draw.Executed`` with results: ``draws_today``, ``draw_streak``), deposits credited
(``first_deposit``, ``deposit_total``, referrals), TOTP enabled (``security_totp``), check-ins
(``daily_check_in``).
A mission counts events while it is active (not retired, inside its window); its terms at the
start of a period hold for that period. Handlers only write: lookups (account → player,
missions, streaks) are ``INSERT … SELECT`` joins over this projection's own tables.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from domain.rewards import referral_code
from projections.base import Handler, LedgerProjection, Writes, iso
from projections.store import SetStatement

__all__ = ["SHARED_DEVICE_OR_IP", "RewardsProjection", "moment_of"]

SHARED_DEVICE_OR_IP = "shared_device_or_ip"


def moment_of(event: Any) -> datetime:
    """When the event happened by the use case's clock, if it says; else when it was stored."""
    at = getattr(event, "at", None)
    return (at if isinstance(at, datetime) else event.timestamp).astimezone(UTC)


def _utc(at: datetime | None) -> str | None:
    return None if at is None else iso(at.astimezone(UTC))


class RewardsProjection(LedgerProjection):
    name = "rewards"
    ddl: ClassVar[list[str]] = [
        "CREATE TABLE IF NOT EXISTS {missions} (mission_id TEXT PRIMARY KEY,"
        " mission_key TEXT NOT NULL UNIQUE, title TEXT NOT NULL, kind TEXT NOT NULL,"
        " target BIGINT NOT NULL, cadence TEXT NOT NULL, award TEXT NOT NULL,"
        " reward_kind TEXT NOT NULL, reward_minor BIGINT NOT NULL, starts_at TEXT,"
        " ends_at TEXT, retired INTEGER NOT NULL, version BIGINT NOT NULL,"
        " updated_at TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS {accounts} (account_id TEXT PRIMARY KEY,"
        " player_id TEXT NOT NULL, referral_code TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS {accounts}_by_player ON {accounts} (player_id)",
        "CREATE INDEX IF NOT EXISTS {accounts}_by_code ON {accounts} (referral_code)",
        "CREATE TABLE IF NOT EXISTS {players} (player_id TEXT PRIMARY KEY,"
        " deposits BIGINT NOT NULL, last_draw_day BIGINT, streak BIGINT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS {sightings} (player_id TEXT NOT NULL, kind TEXT NOT NULL,"
        " value TEXT NOT NULL, PRIMARY KEY (player_id, kind, value))",
        "CREATE INDEX IF NOT EXISTS {sightings}_by_value ON {sightings} (kind, value)",
        "CREATE TABLE IF NOT EXISTS {progress} (player_id TEXT NOT NULL, source TEXT NOT NULL,"
        " period TEXT NOT NULL, progress BIGINT NOT NULL, target BIGINT NOT NULL,"
        " state TEXT NOT NULL, award TEXT NOT NULL, reward_kind TEXT NOT NULL,"
        " reward_minor BIGINT NOT NULL, completed_at TEXT, granted_at TEXT, grant_id TEXT,"
        " refusal TEXT, updated_at TEXT NOT NULL, PRIMARY KEY (player_id, source, period))",
        "CREATE INDEX IF NOT EXISTS {progress}_by_state ON {progress} (state, completed_at)",
        "CREATE TABLE IF NOT EXISTS {grants} (grant_id TEXT PRIMARY KEY,"
        " position BIGINT NOT NULL, player_id TEXT NOT NULL, source TEXT NOT NULL,"
        " period TEXT NOT NULL, reward_kind TEXT NOT NULL, amount BIGINT NOT NULL,"
        " currency TEXT NOT NULL, actor TEXT NOT NULL, at TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS {grants}_by_position ON {grants} (position)",
        "CREATE TABLE IF NOT EXISTS {refusals} (position BIGINT PRIMARY KEY,"
        " grant_id TEXT NOT NULL, player_id TEXT NOT NULL, source TEXT NOT NULL,"
        " period TEXT NOT NULL, amount BIGINT NOT NULL, currency TEXT NOT NULL,"
        " reason TEXT NOT NULL, actor TEXT NOT NULL, at TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS {budget} (budget_id TEXT PRIMARY KEY,"
        " account TEXT NOT NULL UNIQUE, currency TEXT NOT NULL,"
        " funded BIGINT NOT NULL, spent BIGINT NOT NULL, grants BIGINT NOT NULL,"
        " refusals BIGINT NOT NULL, updated_at TEXT NOT NULL)",
    ]

    def handlers(self) -> dict[str, Handler]:
        progress = self._progress_handlers()
        counted, referral = progress["Wallet.DepositCredited"], self._referral_handler()

        def on_deposit(w: Writes, e: Any, position: int) -> None:
            counted(w, e, position)
            referral(w, e, position)

        return {
            **self._mission_handlers(),
            **progress,
            **self._account_handlers(),
            **self._grant_handlers(),
            "Wallet.DepositCredited": on_deposit,
        }

    # ---- missions ------------------------------------------------------------------------------

    def _mission_handlers(self) -> dict[str, Handler]:
        missions = self.t("missions")
        columns = (
            "title, kind, target, cadence, award, reward_kind, reward_minor, starts_at, ends_at"
        )
        created = (
            f"INSERT INTO {missions} (mission_id, mission_key, {columns}, retired, version,"
            " updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 0, %s, %s)"
        )
        changed = (
            f"UPDATE {missions} SET title = %s, kind = %s, target = %s, cadence = %s,"
            " award = %s, reward_kind = %s, reward_minor = %s, starts_at = %s, ends_at = %s,"
            " version = %s, updated_at = %s WHERE mission_id = %s"
        )
        retired = (
            f"UPDATE {missions} SET retired = 1, version = %s, updated_at = %s"
            " WHERE mission_id = %s"
        )

        def terms(t: dict[str, Any]) -> tuple[object, ...]:
            return (
                t["title"],
                t["kind"],
                t["target"],
                t["cadence"],
                t["award"],
                t["reward_kind"],
                t["reward_minor"],
                _utc(t.get("starts_at")),
                _utc(t.get("ends_at")),
            )

        def on_created(w: Writes, e: Any, _: int) -> None:
            mid, stamp = str(e.originator_id), iso(e.timestamp)
            w.add(created, mid, e.mission_key, *terms(e.terms), e.originator_version, stamp)

        def on_changed(w: Writes, e: Any, _: int) -> None:
            stamp = iso(e.timestamp)
            w.add(changed, *terms(e.terms), e.originator_version, stamp, str(e.originator_id))

        def on_retired(w: Writes, e: Any, _: int) -> None:
            w.add(retired, e.originator_version, iso(e.timestamp), str(e.originator_id))

        return {
            "Mission.Created": on_created,
            "Mission.Changed": on_changed,
            "Mission.Retired": on_retired,
        }

    # ---- progress ------------------------------------------------------------------------------

    def _progress_handlers(self) -> dict[str, Handler]:  # noqa: PLR0915 - shared SQL fragments
        progress, missions = self.t("progress"), self.t("missions")
        players, accounts = self.t("players"), self.t("accounts")
        # The missions of one kind that are active at a moment, and the period it falls in.
        active = (
            f" FROM {missions} m{{join}} WHERE m.kind = %s AND m.retired = 0"
            " AND (m.starts_at IS NULL OR m.starts_at <= %s)"
            " AND (m.ends_at IS NULL OR m.ends_at > %s)"
        )
        into = (
            f"INSERT INTO {progress} (player_id, source, period, progress, target, state, award,"
            " reward_kind, reward_minor, updated_at)"
        )
        insert = into + (
            " SELECT {player}, m.mission_key,"
            " CASE WHEN m.cadence = 'daily' THEN %s ELSE 'once' END, {value}, m.target, 'open',"
            " m.award, m.reward_kind, m.reward_minor, %s"
        )
        conflict = " ON CONFLICT (player_id, source, period) DO "
        summed = conflict + (
            f"UPDATE SET progress = {progress}.progress + excluded.progress,"
            " updated_at = excluded.updated_at"
        )
        add = insert.format(player="%s", value="%s") + active.format(join="") + summed
        bettered = conflict + (
            f"UPDATE SET progress = CASE WHEN excluded.progress > {progress}.progress"
            f" THEN excluded.progress ELSE {progress}.progress END,"
            " updated_at = excluded.updated_at"
        )
        best_streak = (
            insert.format(player="p.player_id", value="p.streak")
            + active.format(join=f" JOIN {players} p ON p.player_id = %s")
            + bettered
        )
        first_deposit = (
            insert.format(player="p.player_id", value="1")
            + active.format(join=f" JOIN {players} p ON p.player_id = %s")
            + " AND p.deposits = 1"
            + conflict
            + "NOTHING"
        )
        totp = (
            insert.format(player="a.player_id", value="1")
            + active.format(join=f" JOIN {accounts} a ON a.account_id = %s")
            + conflict
            + "NOTHING"
        )
        completed = (
            f"UPDATE {progress} SET state = CASE WHEN award = 'auto' THEN 'due'"
            " ELSE 'claimable' END, completed_at = %s, updated_at = %s"
            " WHERE player_id = %s AND state = 'open' AND progress >= target"
        )
        completed_for_account = completed.replace(
            "player_id = %s",
            f"player_id = (SELECT player_id FROM {accounts} WHERE account_id = %s)",
        )
        streak = (
            f" ON CONFLICT (player_id) DO UPDATE SET"
            f" streak = CASE WHEN {players}.last_draw_day IS NULL THEN 1"
            f" WHEN {players}.last_draw_day >= excluded.last_draw_day THEN {players}.streak"
            f" WHEN {players}.last_draw_day = excluded.last_draw_day - 1"
            f" THEN {players}.streak + 1 ELSE 1 END,"
            f" last_draw_day = CASE WHEN {players}.last_draw_day IS NULL"
            f" OR {players}.last_draw_day < excluded.last_draw_day"
            f" THEN excluded.last_draw_day ELSE {players}.last_draw_day END"
        )
        drew_into = f"INSERT INTO {players} (player_id, deposits, last_draw_day, streak)"
        drew = drew_into + " VALUES (%s, 0, %s, 1)" + streak
        deposited = (
            f"INSERT INTO {players} (player_id, deposits, last_draw_day, streak)"
            " VALUES (%s, 1, NULL, 0) ON CONFLICT (player_id) DO UPDATE SET"
            f" deposits = {players}.deposits + 1"
        )

        def window(at: datetime, kind: str) -> tuple[object, ...]:
            stamp = iso(at)
            return (kind, stamp, stamp)

        def counted(w: Writes, player: str, kind: str, amount: int, at: datetime) -> None:
            stamp = iso(at)
            w.add(add, player, at.date().isoformat(), amount, stamp, *window(at, kind))

        # A draw's four statements, each also over a round of players (one draw of each): the
        # same SQL, reading its values from {src} instead of parameters.
        window_columns = (("kind", "text"), ("from_at", "text"), ("until_at", "text"))
        from_src = (
            " SELECT {player}, m.mission_key, CASE WHEN m.cadence = 'daily' THEN src.day"
            " ELSE 'once' END, {value}, m.target, 'open', m.award, m.reward_kind,"
            " m.reward_minor, src.stamp FROM {{src}}"
        )
        active_src = (
            f" JOIN {missions} m ON m.kind = src.kind AND m.retired = 0"
            " AND (m.starts_at IS NULL OR m.starts_at <= src.from_at)"
            " AND (m.ends_at IS NULL OR m.ends_at > src.until_at)"
        )
        played = (
            SetStatement(
                drew,
                drew_into + " SELECT src.player_id, 0, src.day, 1 FROM {src}" + streak,
                (("player_id", "text"), ("day", "bigint")),
            ),
            SetStatement(
                add,
                into
                + from_src.format(player="src.player_id", value="src.amount")
                + active_src
                + summed,
                (
                    ("player_id", "text"),
                    ("day", "text"),
                    ("amount", "bigint"),
                    ("stamp", "text"),
                    *window_columns,
                ),
            ),
            SetStatement(
                best_streak,
                into
                + from_src.format(player="p.player_id", value="p.streak")
                + f" JOIN {players} p ON p.player_id = src.player_id"
                + active_src
                + bettered,
                (("day", "text"), ("stamp", "text"), ("player_id", "text"), *window_columns),
            ),
            SetStatement(
                completed,
                f"UPDATE {progress} SET state = CASE WHEN {progress}.award = 'auto' THEN 'due'"
                " ELSE 'claimable' END, completed_at = src.completed_at,"
                " updated_at = src.updated_at FROM {src}"
                f" WHERE {progress}.player_id = src.player_id AND {progress}.state = 'open'"
                f" AND {progress}.progress >= {progress}.target",
                (("completed_at", "text"), ("updated_at", "text"), ("player_id", "text")),
            ),
        )

        def on_draws(w: Writes, e: Any, _: int) -> None:
            if not e.results:  # refused: nothing was played
                return
            # Every statement here writes and reads only this player's rows (and missions,
            # which no draw changes): keyed by player, a page's draws go in a few rounds.
            player, at = e.player_id, moment_of(e)
            stamp, day = iso(at), at.date()
            w.add_for(player, played[0], player, day.toordinal())
            today = day.isoformat()
            draws_today = window(at, "draws_today")
            w.add_for(player, played[1], player, today, len(e.results), stamp, *draws_today)
            w.add_for(player, played[2], today, stamp, player, *window(at, "draw_streak"))
            w.add_for(player, played[3], stamp, stamp, player)

        def on_deposit(w: Writes, e: Any, _: int) -> None:
            at = moment_of(e)
            stamp = iso(at)
            w.add(deposited, e.player_id)
            args = (at.date().isoformat(), stamp, e.player_id, *window(at, "first_deposit"))
            w.add(first_deposit, *args)
            counted(w, e.player_id, "deposit_total", e.amount_minor, at)
            w.add(completed, stamp, stamp, e.player_id)

        def on_totp(w: Writes, e: Any, _: int) -> None:
            at = moment_of(e)
            stamp, account = iso(at), str(e.originator_id)
            w.add(totp, at.date().isoformat(), stamp, account, *window(at, "security_totp"))
            w.add(completed_for_account, stamp, stamp, account)

        def on_check_in(w: Writes, e: Any, _: int) -> None:
            at = moment_of(e)
            stamp = iso(at)
            counted(w, e.player_id, "daily_check_in", 1, at)
            w.add(completed, stamp, stamp, e.player_id)

        return {
            "Draw.Executed": on_draws,
            "Wallet.DepositCredited": on_deposit,
            "PlayerAccount.TotpEnabled": on_totp,
            "DailyCheckIn.Recorded": on_check_in,
        }

    # ---- accounts: devices and addresses, signup and referral offers ---------------------------

    def _account_handlers(self) -> dict[str, Handler]:
        progress, accounts, sightings = self.t("progress"), self.t("accounts"), self.t("sightings")
        registered = (
            f"INSERT INTO {accounts} (account_id, player_id, referral_code) VALUES (%s, %s, %s)"
            " ON CONFLICT (account_id) DO NOTHING"
        )
        seen = (
            f"INSERT INTO {sightings} (player_id, kind, value) SELECT player_id, %s, %s"
            f" FROM {accounts} WHERE account_id = %s ON CONFLICT (player_id, kind, value)"
            " DO NOTHING"
        )
        offer = (
            f"INSERT INTO {progress} (player_id, source, period, progress, target, state, award,"
            " reward_kind, reward_minor, completed_at, updated_at)"
            " VALUES (%s, 'signup', 'once', 1, 1, 'due', 'auto', 'bonus', %s, %s, %s)"
            " ON CONFLICT (player_id, source, period) DO NOTHING"
        )
        # The referrer is named by player id or referral code, never the player themself.
        referral = (
            f"INSERT INTO {progress} (player_id, source, period, progress, target, state, award,"
            " reward_kind, reward_minor, updated_at) SELECT a.player_id, 'referral', %s, 0, 1,"
            f" 'waiting', 'auto', 'bonus', %s, %s FROM {accounts} a"
            " WHERE (a.player_id = %s OR a.referral_code = %s) AND a.player_id <> %s"
            " ON CONFLICT (player_id, source, period) DO NOTHING"
        )

        def on_registered(w: Writes, e: Any, _: int) -> None:
            account, player, stamp = str(e.originator_id), e.player_id, iso(moment_of(e))
            w.add(registered, account, player, referral_code(player))
            if getattr(e, "ip", ""):
                w.add(seen, "ip", e.ip, account)
            if getattr(e, "signup_bonus", 0) > 0:
                w.add(offer, player, e.signup_bonus, stamp, stamp)
            referrer = getattr(e, "referrer", None)
            if referrer and getattr(e, "referral_bonus", 0) > 0:
                w.add(referral, player, e.referral_bonus, stamp, referrer, referrer, player)

        def on_logged_in(w: Writes, e: Any, _: int) -> None:
            account = str(e.originator_id)
            w.add(seen, "ip", e.ip, account)
            w.add(seen, "device", e.device, account)

        return {
            "PlayerAccount.Registered": on_registered,
            "PlayerAccount.LoggedIn": on_logged_in,
        }

    def _referral_handler(self) -> Handler:
        """The referred player deposited: the referral is due, unless the two players share a
        device or an address (then it is refused for good)."""
        progress, sightings = self.t("progress"), self.t("sightings")
        waiting = " WHERE source = 'referral' AND period = %s AND state = 'waiting'"
        refused = (
            f"UPDATE {progress} SET state = 'refused', refusal = %s, updated_at = %s{waiting}"
            f" AND EXISTS (SELECT 1 FROM {sightings} r JOIN {sightings} o"
            " ON o.kind = r.kind AND o.value = r.value"
            f" WHERE r.player_id = {progress}.player_id AND o.player_id = %s)"
        )
        qualified = (
            f"UPDATE {progress} SET state = 'due', progress = 1, completed_at = %s,"
            f" updated_at = %s{waiting}"
        )

        def on_deposit(w: Writes, e: Any, _: int) -> None:
            stamp = iso(moment_of(e))
            w.add(refused, SHARED_DEVICE_OR_IP, stamp, e.player_id, e.player_id)
            w.add(qualified, stamp, stamp, e.player_id)

        return on_deposit

    # ---- grants and the budget -----------------------------------------------------------------

    def _grant_handlers(self) -> dict[str, Handler]:
        progress, grants, refusals = self.t("progress"), self.t("grants"), self.t("refusals")
        budget = self.t("budget")
        granted = (
            f"INSERT INTO {progress} (player_id, source, period, progress, target, state, award,"
            " reward_kind, reward_minor, granted_at, grant_id, updated_at)"
            " VALUES (%s, %s, %s, 1, 1, 'granted', 'claim', %s, %s, %s, %s, %s)"
            " ON CONFLICT (player_id, source, period) DO UPDATE SET state = 'granted',"
            " granted_at = excluded.granted_at, grant_id = excluded.grant_id, refusal = NULL,"
            " updated_at = excluded.updated_at"
        )
        report = (
            f"INSERT INTO {grants} (grant_id, position, player_id, source, period, reward_kind,"
            " amount, currency, actor, at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        )
        refused = (
            f"UPDATE {progress} SET state = 'claimable', refusal = %s, updated_at = %s"
            " WHERE player_id = %s AND source = %s AND period = %s"
            " AND state IN ('due', 'claimable')"
        )
        refusal = (
            f"INSERT INTO {refusals} (position, grant_id, player_id, source, period, amount,"
            " currency, reason, actor, at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        )
        opened = (
            f"INSERT INTO {budget} (budget_id, account, currency, funded, spent, grants,"
            " refusals, updated_at) VALUES (%s, %s, %s, 0, 0, 0, 0, %s)"
        )
        moved = (
            f"UPDATE {budget} SET funded = funded + %s, spent = spent + %s,"
            " grants = grants + %s, refusals = refusals + %s, updated_at = %s"
            " WHERE budget_id = %s"
        )

        def on_granted(w: Writes, e: Any, position: int) -> None:
            stamp, gid = iso(e.at.astimezone(UTC)), str(e.originator_id)
            key = (e.player_id, e.source, e.period)
            w.add(granted, *key, e.reward_kind, e.amount_minor, stamp, gid, stamp)
            w.add(
                report,
                gid,
                position,
                *key,
                e.reward_kind,
                e.amount_minor,
                e.currency,
                e.actor,
                stamp,
            )

        def on_refused(w: Writes, e: Any, position: int) -> None:
            stamp = iso(e.timestamp)
            key = (e.player_id, e.source, e.period)
            w.add(refused, e.reason, stamp, *key)
            w.add(
                refusal, position, e.grant_id, *key, e.amount_minor, e.currency, e.reason,
                e.actor, stamp,
            )  # fmt: skip
            w.add(moved, 0, 0, 0, 1, stamp, str(e.originator_id))

        def budget_moved(funded: int, spent: int, grants_made: int) -> Handler:
            def on_event(w: Writes, e: Any, _: int) -> None:
                amount = e.amount_minor
                stamp, budget_id = iso(e.timestamp), str(e.originator_id)
                w.add(moved, funded * amount, spent * amount, grants_made, 0, stamp, budget_id)

            return on_event

        return {
            "RewardGrant.Granted": on_granted,
            "RewardBudget.Opened": lambda w, e, _: w.add(
                opened, str(e.originator_id), e.account, e.currency, iso(e.timestamp)
            ),
            "RewardBudget.Funded": budget_moved(1, 0, 0),
            "RewardBudget.Defunded": budget_moved(-1, 0, 0),
            "RewardBudget.Spent": budget_moved(0, 1, 1),
            "RewardBudget.GrantRefused": on_refused,
        }
