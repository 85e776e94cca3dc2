"""Draw read models: every draw request as a row, and per pool and prize what was played and won.

Wins, payouts and stock changes come from ``Draw.Executed`` (its results name the prize and the
reward of every draw); fund movements from the pool's own events. Pool events that carry no
``pool_key`` find their row by the pool's aggregate id (``pool_id``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

from domain import ids
from projections.base import Handler, LedgerProjection, Merge, Writes, iso

__all__ = ["DrawsProjection", "PoolStatsProjection"]


_JSON = msgspec.json.Encoder(order="sorted", enc_hook=str)


def _json(value: object) -> str:
    """Sorted keys, no blanks (msgspec: ~10x faster than ``json.dumps`` for a draw's trace)."""
    return _JSON.encode(value).decode()


_PLAYED = ("requests", "refused", "draws", "wins", "cost_total", "payout_total", "fund")


def won_total(event: Any) -> int:
    return sum(int(r["reward"]) for r in event.results)


class DrawsProjection(LedgerProjection):
    """One row per draw request (settled or refused), newest first per player by position."""

    name = "draws"
    ddl: ClassVar[list[str]] = [
        "CREATE TABLE IF NOT EXISTS {draws} (draw_id TEXT PRIMARY KEY, position BIGINT NOT NULL,"
        " player_id TEXT NOT NULL, pool_key TEXT NOT NULL, status TEXT NOT NULL, reason TEXT,"
        " requested INTEGER NOT NULL, settled INTEGER NOT NULL, cost_total BIGINT NOT NULL,"
        " won_total BIGINT NOT NULL, at TEXT NOT NULL, results TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS {draws}_by_player ON {draws} (player_id, position)",
    ]

    def handlers(self) -> dict[str, Handler]:
        table = self.t("draws")
        columns: tuple[str, ...] = ("draw_id", "position", "player_id", "pool_key", "status")
        columns += ("reason",)
        columns += ("requested", "settled", "cost_total", "won_total", "at", "results")

        def on_executed(w: Writes, e: Any, position: int) -> None:
            w.insert(
                table,
                columns,
                str(e.originator_id),
                position,
                e.player_id,
                e.pool_key,
                e.status,
                e.reason,
                e.requested,
                len(e.results),
                e.cost_total,
                won_total(e),
                iso(e.at),
                _json(e.results),
            )

        return {"Draw.Executed": on_executed}


class PoolStatsProjection(LedgerProjection):
    """Per pool: configuration, fund, draws, cost and payouts, and when the pool's stream last
    changed; per prize: stock, wins, paid; and every win with its time (``wins``), from which
    queries compute budget use."""

    name = "pool_stats"
    ddl: ClassVar[list[str]] = [
        "CREATE TABLE IF NOT EXISTS {pools} (pool_id TEXT PRIMARY KEY, pool_key TEXT NOT NULL"
        " UNIQUE, name TEXT NOT NULL, currency TEXT NOT NULL, status TEXT NOT NULL,"
        " draw_cost BIGINT NOT NULL, rtp_target_bps INTEGER NOT NULL, epoch INTEGER NOT NULL,"
        " fund BIGINT NOT NULL, funded BIGINT NOT NULL, defunded BIGINT NOT NULL,"
        " requests BIGINT NOT NULL, refused BIGINT NOT NULL, draws BIGINT NOT NULL,"
        " wins BIGINT NOT NULL, cost_total BIGINT NOT NULL, payout_total BIGINT NOT NULL,"
        " updated_at TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS {prizes} (pool_id TEXT NOT NULL, prize_id TEXT NOT NULL,"
        " name TEXT NOT NULL, kind TEXT NOT NULL, reward BIGINT NOT NULL, weight BIGINT NOT NULL,"
        " stock BIGINT, budget BIGINT, budget_window_s BIGINT NOT NULL, active INTEGER NOT NULL,"
        " budget_from BIGINT, wins BIGINT NOT NULL, paid BIGINT NOT NULL,"
        " PRIMARY KEY (pool_id, prize_id))",
        "CREATE TABLE IF NOT EXISTS {wins} (position BIGINT NOT NULL, idx INTEGER NOT NULL,"
        " pool_id TEXT NOT NULL, prize_id TEXT NOT NULL, reward BIGINT NOT NULL,"
        " at_s BIGINT NOT NULL, PRIMARY KEY (position, idx))",
        "CREATE INDEX IF NOT EXISTS {wins}_by_prize ON {wins} (pool_id, prize_id, at_s)",
    ]

    def handlers(self) -> dict[str, Handler]:  # noqa: PLR0915 - one closure per event kind
        pools, prizes, wins = self.t("pools"), self.t("prizes"), self.t("wins")
        created = (
            f"INSERT INTO {pools} (pool_id, pool_key, name, currency, status, draw_cost,"
            " rtp_target_bps, epoch, fund, funded, defunded, requests, refused, draws, wins,"
            " cost_total, payout_total, updated_at)"
            " VALUES (%s, %s, %s, %s, 'open', %s, %s, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, %s)"
        )
        money = (
            f"UPDATE {pools} SET fund = fund + %s - %s, funded = funded + %s,"
            " defunded = defunded + %s, status = COALESCE(%s, status), updated_at = %s"
            " WHERE pool_id = %s"
        )
        status = f"UPDATE {pools} SET status = %s, updated_at = %s WHERE pool_id = %s"
        rtp = f"UPDATE {pools} SET rtp_target_bps = %s, updated_at = %s WHERE pool_id = %s"
        cost = f"UPDATE {pools} SET draw_cost = %s, updated_at = %s WHERE pool_id = %s"
        renamed = f"UPDATE {pools} SET name = %s, updated_at = %s WHERE pool_id = %s"
        epoch = f"UPDATE {pools} SET epoch = %s, updated_at = %s WHERE pool_id = %s"
        # What draws add up to (requests, refused, draws, wins, cost, payouts, fund change):
        # commutative with every other change of a pool, so merged, one statement a batch.
        played = Merge(pools, ("pool_key",), _PLAYED)
        touch = f"UPDATE {pools} SET updated_at = %s WHERE pool_id = %s"
        added = (
            f"INSERT INTO {prizes} (pool_id, prize_id, name, kind, reward, weight, stock, budget,"
            " budget_window_s, active, budget_from, wins, paid)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, 1, %s, 0, 0)"
            " ON CONFLICT (pool_id, prize_id) DO UPDATE SET name = excluded.name,"
            " kind = excluded.kind, reward = excluded.reward, weight = excluded.weight,"
            " stock = excluded.stock, budget = excluded.budget,"
            " budget_window_s = excluded.budget_window_s, active = 1,"
            " budget_from = excluded.budget_from"
        )
        changed = (
            f"UPDATE {prizes} SET name = %s, kind = %s, reward = %s, weight = %s, budget = %s,"
            " budget_window_s = %s, budget_from = {from} WHERE pool_id = %s AND prize_id = %s"
        )
        # A budget counts wins from when the prize got one (a removed budget stops counting).
        budget_kept = changed.replace("{from}", "COALESCE(budget_from, %s)")
        budget_removed = changed.replace("{from}", "NULL")
        restocked = f"UPDATE {prizes} SET stock = stock + %s WHERE pool_id = %s AND prize_id = %s"
        retired = (
            f"UPDATE {prizes} SET active = 0, stock = NULL WHERE pool_id = %s AND prize_id = %s"
        )
        # Wins add to a prize's wins and paid and take from its stock: merged too, but a prize
        # (re)added or retired sets its stock, so the wins before it are cut off (``cut``).
        prize_won = Merge(prizes, ("pool_id", "prize_id"), ("wins", "paid", "stock"))
        win_row = ("position", "idx", "pool_id", "prize_id", "reward", "at_s")
        pool_ids: dict[str, str] = {}  # pool_key -> pool id (a uuid5: a SHA-1 each time)

        def pid(e: Any) -> str:
            return str(e.originator_id)

        def on_created(w: Writes, e: Any, _: int) -> None:
            w.add(
                created,
                pid(e),
                e.pool_key,
                e.name,
                e.currency,
                e.draw_cost,
                e.controls["rtp_target_bps"],
                iso(e.timestamp),
            )

        def on_money(w: Writes, e: Any, _: int) -> None:
            kind = type(e).__name__
            amount = e.amount_minor
            funded, taken = (amount, 0) if kind == "Funded" else (0, amount)
            closed = "closed" if kind == "Closed" else None
            w.add(money, funded, taken, funded, taken, closed, iso(e.timestamp), pid(e))

        def on_status(w: Writes, e: Any, _: int) -> None:
            new = "paused" if type(e).__name__ == "Paused" else "open"
            w.add(status, new, iso(e.timestamp), pid(e))

        def on_controls(w: Writes, e: Any, _: int) -> None:
            w.add(rtp, e.controls["rtp_target_bps"], iso(e.timestamp), pid(e))

        def on_cost(w: Writes, e: Any, _: int) -> None:
            w.add(cost, e.draw_cost, iso(e.timestamp), pid(e))

        def on_renamed(w: Writes, e: Any, _: int) -> None:
            w.add(renamed, e.name, iso(e.timestamp), pid(e))

        def on_epoch(w: Writes, e: Any, _: int) -> None:
            w.add(epoch, e.epoch, iso(e.timestamp), pid(e))

        def on_prize_added(w: Writes, e: Any, position: int) -> None:
            p = e.prize
            w.cut()
            w.add(
                added,
                pid(e),
                p["prize_id"],
                p["name"],
                p["kind"],
                p["reward"],
                p["weight"],
                p["stock"],
                p["budget"],
                p["budget_window_s"],
                None if p["budget"] is None else position,
            )

        def on_prize_changed(w: Writes, e: Any, position: int) -> None:
            p = e.prize
            values = [p["name"], p["kind"], p["reward"], p["weight"], p["budget"]]
            values.append(p["budget_window_s"])
            if p["budget"] is None:
                w.add(budget_removed, *values, pid(e), p["prize_id"])
            else:
                w.add(budget_kept, *values, position, pid(e), p["prize_id"])

        def on_restocked(w: Writes, e: Any, _: int) -> None:
            w.add(restocked, e.added, pid(e), e.prize_id)

        def on_retired(w: Writes, e: Any, _: int) -> None:
            w.cut()
            w.add(retired, pid(e), e.prize_id)

        def on_draw(w: Writes, e: Any, position: int) -> None:
            won = [r for r in e.results if r["outcome"] == "won"]
            paid = won_total(e)
            refused = 1 if e.status == "refused" else 0
            counts = (1, refused, len(e.results), len(won), e.cost_total, paid, -paid)
            w.merge(played, (e.pool_key,), counts, ())
            if not won:
                return
            pool_id = pool_ids.get(e.pool_key)
            if pool_id is None:
                pool_id = pool_ids[e.pool_key] = str(ids.pool_id(e.pool_key))
            at_s = int(e.at.timestamp())
            for r in won:
                w.merge(prize_won, (pool_id, r["prize_id"]), (1, r["reward"], -1), ())
                w.insert(
                    wins, win_row, position, r["index"], pool_id, r["prize_id"], r["reward"], at_s
                )

        def touching(handler: Handler) -> Handler:
            """Prize events and the pool's record of a batch of draws change the pool too."""

            def on_event(w: Writes, e: Any, position: int) -> None:
                handler(w, e, position)
                w.add(touch, iso(e.timestamp), pid(e))

            return on_event

        return {
            "PrizePool.Created": on_created,
            "PrizePool.Funded": on_money,
            "PrizePool.Defunded": on_money,
            "PrizePool.Closed": on_money,
            "PrizePool.Paused": on_status,
            "PrizePool.Resumed": on_status,
            "PrizePool.ControlsChanged": on_controls,
            "PrizePool.DrawCostChanged": on_cost,
            "PrizePool.Renamed": on_renamed,
            "PrizePool.EpochRotated": on_epoch,
            "PrizePool.PrizeAdded": touching(on_prize_added),
            "PrizePool.PrizeChanged": touching(on_prize_changed),
            "PrizePool.Restocked": touching(on_restocked),
            "PrizePool.PrizeRetired": touching(on_retired),
            "PrizePool.DrawsSettled": touching(lambda w, e, p: None),
            "Draw.Executed": on_draw,
        }
