"""The ledger folded from the raw event log, one notification at a time, checking the
invariants of ARCHITECTURE.md "Double-entry" as it goes (and, in ``finish``, at the end).

Nothing here reads a read model, a snapshot or the repository: balances come from the postings
(``domain.postings``), payments and pools from their own events applied to fresh aggregates.
Memory grows with the number of aggregates and draws, not of events.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from eventsourcing.persistence import Mapper, Notification, StoredEvent
from eventsourcing.utils import resolve_topic

from domain.pool import WorkingPool
from domain.postings import moves_money
from ops.audit.draw_checks import Charge, DrawChecks, Ref
from ops.audit.log import qualname_of
from ops.audit.payment_checks import PaymentChecks
from ops.audit.pool_checks import apply_checked, check_wins
from ops.audit.report import Findings, Offence
from ops.audit.views import WHOLE_FOR_ROWS, moves_of, view_decoder

__all__ = ["Account", "LedgerFold", "WalletFacts"]

# Aggregates recorded by one event only (their stream is version 1 and nothing else).
_SINGLE_EVENT = {"Draw", "Receipt"}
# Aggregates folded here (payments and pools); wallets are folded as postings and facts.
_FOLDED = {"PrizePool", "Deposit", "Withdrawal"}
_NEVER_NEGATIVE = ("player:", "pool:")


class Account:
    """One ledger account in one currency; a player's account holds its history line too."""

    __slots__ = ("balance", "line", "postings", "watched")

    def __init__(self, watched: bool) -> None:
        self.balance = 0
        self.postings = 0
        self.watched = watched  # may never go negative
        # The player's [Σ amount, postings, Σ notification id] for the history read model.
        self.line: list[int] | None = None


class WalletFacts:
    """What the checks and the balances read model need of a wallet besides its postings."""

    __slots__ = ("client_seed", "currency", "nonce", "player_id", "updated", "version")

    def __init__(self, player_id: str, currency: str) -> None:
        self.player_id = player_id
        self.currency = currency
        self.client_seed = player_id
        self.nonce = 0
        self.version = 0
        self.updated: datetime | None = None


class _Topic:
    """What the fold does with the notifications of one topic, worked out once.

    Events of an aggregate the fold applies (``_FOLDED``) come from the ledger's own mapper. The
    others are decoded here: the stored state becomes the ``__dict__`` of the event's class, as
    the mapper does, without the aggregate id (the fold reads it from the notification, as
    text). Whatever this cannot decode, or a class with upcasters, goes through the mapper."""

    __slots__ = (
        "cls",
        "decode_state",
        "fast",
        "folded",
        "handler",
        "kind",
        "money",
        "name",
        "single",
        "view",
        "wallet",
        "whole_for_rows",
    )

    def __init__(
        self,
        topic: str,
        mapper: Mapper[UUID],
        handlers: dict[str, Callable[[Any, Ref], None]],
    ) -> None:
        self.name = qualname_of(topic)
        self.kind = self.name.partition(".")[0]
        self.single = self.kind in _SINGLE_EVENT
        self.wallet = self.kind == "Wallet"
        self.folded = self.kind in _FOLDED
        self.handler = handlers.get(self.name)
        self.cls: type | None = None
        if not self.folded:
            try:
                self.cls = resolve_topic(topic)
            except Exception:  # the mapper names the problem, event by event
                self.cls = None
        self.fast = self.cls is not None and getattr(self.cls, "class_version", 1) == 1
        # Known to move no money: the fold need not ask domain.postings event by event.
        self.money = self.cls is None or moves_money(self.cls)
        self.decode_state = _state_decoder(mapper)
        # What the checks read of it, without the rest (``ops.audit.views``), where it has one
        # (and no upcaster: a view reads the state as stored).
        self.view = view_decoder(self.name, mapper) if self.fast else None
        self.whole_for_rows = self.name in WHOLE_FOR_ROWS

    def event(self, state: bytes, version: int, rows: bool) -> Any:
        """Its view where that serves (``rows``: Draws' read-model rows are being digested),
        else the event decoded here; None for the mapper to decode (or to name why it cannot)."""
        if self.view is not None and not (rows and self.whole_for_rows):
            view = self.view(state)
            if view is not None:
                return view
        return self.decode(state, version) if self.fast else None

    def decode(self, state: bytes, version: int) -> Any:
        """The event, or None for the mapper to decode (or to name why it cannot)."""
        try:
            data = self.decode_state(state)
        except Exception:
            return None
        if type(data) is not dict:
            return None
        data.pop("class_version", None)
        data.pop("originator_id", None)
        data["originator_version"] = version
        event: Any = object.__new__(cast(type, self.cls))
        object.__setattr__(event, "__dict__", data)
        return event


def _state_decoder(mapper: Mapper[UUID]) -> Callable[[bytes], Any]:
    """The mapper's own steps from stored state to the event's attributes."""
    transcoder, cipher, compressor = mapper.transcoder, mapper.cipher, mapper.compressor
    if cipher is None and compressor is None:
        return transcoder.decode

    def decode(state: bytes) -> Any:
        if cipher is not None:
            state = cipher.decrypt(state)
        if compressor is not None:
            state = compressor.decompress(state)
        return transcoder.decode(state)

    return decode


class LedgerFold:
    def __init__(
        self,
        mapper: Mapper[UUID],
        findings: Findings,
        report_from: int = 1,
        gaps_fail: bool = False,
    ) -> None:
        """Findings about events before ``report_from`` are counted in ``earlier``, not
        reported. ``gaps_fail``: a notification id gap is a violation (SQLite never leaves one)."""
        self._mapper = mapper
        self.findings = findings
        self._report_from = report_from
        self._gaps_fail = gaps_fail
        self.position = 0
        self.events = 0
        self.earlier = 0
        self._accounts: dict[tuple[str, str], Account] = {}  # (account, currency) ->
        self.money_events = 0
        # (player, balance, currency) -> [Σ amount, postings, Σ notification id]
        self.player_postings: dict[tuple[str, str, str], list[int]] = {}
        self.versions: dict[str, int] = {}  # aggregate id -> its last version
        self.wallets: dict[str, WalletFacts] = {}  # wallet id ->
        self.players: dict[str, WalletFacts] = {}
        self.aggregates: dict[UUID, Any] = {}
        self.created: dict[UUID, int] = {}  # notification id of each folded aggregate's first event
        self.pool_money: dict[str, list[int]] = {}  # pool key -> [funded, defunded or closed]
        self.draws = DrawChecks(self.offend)
        self.payments = PaymentChecks(self.offend, self.aggregates, self.created)
        self._handlers: dict[str, Callable[[Any, Ref], None]] = {
            "PrizePool.DrawsSettled": self._on_batch,
            "PrizePool.Funded": self._on_pool_money,
            "PrizePool.Defunded": self._on_pool_money,
            "PrizePool.Closed": self._on_pool_money,
            "Draw.Executed": self._on_draw,
            "Wallet.Opened": self._on_wallet_opened,
            "Wallet.ClientSeedChanged": self._on_client_seed,
            "Wallet.DrawsSettled": self._on_charge,
            "Wallet.DrawRefused": self._on_charge,
            "Wallet.DepositCredited": self.payments.on_deposit_money,
            "Wallet.DepositReversed": self.payments.on_deposit_money,
            "Wallet.FundsLocked": self.payments.on_lock,
            "Wallet.FundsReleased": self.payments.on_lock,
            "Wallet.WithdrawalPaidOut": self.payments.on_lock,
            "Wallet.PayoutReturned": self.payments.on_lock,
        }
        self._topics: dict[str, _Topic] = {}
        # The pool batch just checked, and the working copy its wins were checked on.
        self._checked: tuple[Any, WorkingPool] | None = None
        self._draw_events = 0  # Draw records (for the draws check's count)
        self._settled_draws = 0  # settled ones (for draw_inputs)

    def offend(self, check: str, message: str, ref: Ref) -> None:
        if 0 < ref[0] < self._report_from:
            self.earlier += 1
            return
        self.findings[check].fail(Offence(message, ref[0] or None, ref[1], ref[2] or None))

    # ---- one notification ----------------------------------------------------------------------

    def add(self, notification: Notification) -> None:
        self.add_row(
            notification.id,
            str(notification.originator_id),
            notification.originator_version,
            notification.topic,
            notification.state,
        )

    def add_row(
        self, notification_id: int, originator_id: str, version: int, topic: str, state: bytes
    ) -> None:
        """One notification (``ops.audit.log.Row``); the aggregate id as text."""
        kind = self._topics.get(topic)
        if kind is None:
            kind = self._topics[topic] = _Topic(topic, self._mapper, self._handlers)
        name = kind.name
        ref = (notification_id, originator_id, name)
        self.events += 1
        # The notification id follows the last one (else: _gap)
        if notification_id != self.position + 1 and not 0 < notification_id < self._report_from:
            self._gap(notification_id, ref)
        self.position = notification_id
        # The aggregate's version follows its last one
        if kind.single:
            if version != 1:
                message = f"a {kind.kind} has one event; this is version {version}"
                self.offend("versions", message, ref)
        else:
            self._version(originator_id, version, ref)
        event: Any = kind.event(state, version, self.draws.rows)
        if event is None:
            try:
                stored = StoredEvent(UUID(originator_id), version, topic, state)
                event = self._mapper.to_domain_event(stored)
            except Exception as error:
                self.offend("events", f"cannot be decoded: {error}", ref)
                return
        if kind.money:
            self._money(event, ref)
        if kind.wallet:
            facts = self.wallets.get(originator_id)
            if facts is not None:
                facts.version = version
                facts.updated = event.timestamp
        if kind.handler is not None:
            self._handle(kind.handler, event, ref)
        if kind.folded:
            self._apply(event, ref)

    def _handle(self, handler: Callable[[Any, Ref], None], event: Any, ref: Ref) -> None:
        try:
            handler(event, ref)
        except Exception as error:  # a tampered attribute the checks cannot read, say
            self.offend("events", f"cannot be checked: {error!r}", ref)

    def _gap(self, notification_id: int, ref: Ref) -> None:
        expected = self.position + 1
        check = self.findings["notification_ids"]
        offence = Offence(
            f"ids {expected}..{notification_id - 1} are missing", notification_id, ref[1], ref[2]
        )
        (check.fail if self._gaps_fail else check.warn)(offence)

    def _version(self, aggregate_id: str, version: int, ref: Ref) -> None:
        last = self.versions.get(aggregate_id, 0)
        if version != last + 1:
            gap = f" (version {last + 1} is missing)" if version > last + 1 else ""
            self.offend("versions", f"version {version} follows version {last}{gap}", ref)
        if version > last:
            self.versions[aggregate_id] = version

    def _money(self, event: Any, ref: Ref) -> None:
        try:
            postings = moves_of(event)
        except Exception as error:  # a tampered attribute of the wrong type, say
            self.offend("postings", f"not a well-formed money event: {error}", ref)
            return
        if not postings:
            return
        self.money_events += 1
        accounts = self._accounts
        total, currency, mixed = 0, postings[0][2], False
        watched: list[tuple[Account, str, str]] = []  # postings to accounts never negative
        for name, amount, in_currency in postings:
            account = accounts.get((name, in_currency))
            if account is None:
                account = self._open_account(name, in_currency)
            account.balance += amount
            account.postings += 1
            line = account.line
            if line is not None:
                line[0] += amount
                line[1] += 1
                line[2] += ref[0]
            if account.watched:
                watched.append((account, name, in_currency))
            total += amount
            mixed |= in_currency != currency
        if total or mixed:  # per currency, then
            sums: dict[str, int] = {}
            for _, amount, in_currency in postings:
                sums[in_currency] = sums.get(in_currency, 0) + amount
            unbalanced = {c: v for c, v in sums.items() if v}
            if unbalanced:
                self.offend("postings", f"postings do not sum to zero: {unbalanced}", ref)
        for account, name, in_currency in watched:  # once all the event's postings are in
            if account.balance < 0:
                message = f"{name} goes to {account.balance} {in_currency}"
                self.offend("balances", message, ref)

    def _open_account(self, name: str, currency: str) -> Account:
        account = self._accounts[(name, currency)] = Account(name.startswith(_NEVER_NEGATIVE))
        if name.startswith("player:"):
            owner, _, balance = name[7:].rpartition(":")
            account.line = self.player_postings.setdefault((owner, balance, currency), [0, 0, 0])
        return account

    def _apply(self, event: Any, ref: Ref) -> None:
        aggregate = self.aggregates.get(event.originator_id)
        checked, self._checked = self._checked, None
        try:
            if aggregate is None:
                if hasattr(event, "originator_topic"):  # else its stream lacks its first event
                    self.aggregates[event.originator_id] = event.mutate(None)
                    self.created[event.originator_id] = ref[0]
                return
            # A pool batch's wins were applied to a working copy as they were checked.
            working = checked[1] if checked is not None and checked[0] is event else None
            if working is None or not apply_checked(aggregate, event, working):
                event.apply(aggregate)
            aggregate.version = event.originator_version
            aggregate.modified_on = event.timestamp
        except Exception as error:
            self.offend("events", f"does not apply to its aggregate: {error!r}", ref)

    # ---- handlers ------------------------------------------------------------------------------

    def _on_wallet_opened(self, event: Any, ref: Ref) -> None:
        facts = WalletFacts(event.player_id, event.currency)
        facts.version, facts.updated = event.originator_version, event.timestamp
        self.wallets[ref[1]] = facts
        self.players[event.player_id] = facts

    def _on_client_seed(self, event: Any, ref: Ref) -> None:
        facts = self.wallets.get(ref[1])
        if facts is not None:
            facts.client_seed = event.client_seed

    def _on_charge(self, event: Any, ref: Ref) -> None:
        facts = self.wallets.get(ref[1])
        if facts is None:
            self.offend("draws", "a draw on a wallet that was never opened", ref)
            return
        charge = Charge(ref, event, facts.player_id, facts.nonce, facts.client_seed)
        if charge.settled:
            facts.nonce = max(facts.nonce, charge.nonce_to)
        self.draws.on_charge(ref, event, charge)

    def _on_draw(self, event: Any, ref: Ref) -> None:
        self._draw_events += 1
        if event.status == "settled":
            self._settled_draws += 1
        self.draws.on_draw(ref, event)

    def _on_batch(self, event: Any, ref: Ref) -> None:
        pool = self.aggregates.get(event.originator_id)
        if pool is not None:
            for name in ("stock", "budgets", "payout_caps"):
                self.findings[name].checked += len(event.wins)
            working = check_wins(pool, event, ref, self.offend)
            if working is not None:
                self._checked = (event, working)
        self.draws.on_batch(ref, event, pool)

    def _on_pool_money(self, event: Any, ref: Ref) -> None:
        money = self.pool_money.setdefault(event.pool_key, [0, 0])
        money[0 if ref[2] == "PrizePool.Funded" else 1] += event.amount_minor

    # ---- the end -------------------------------------------------------------------------------

    def balance(self, account: str, currency: str) -> int:
        found = self._accounts.get((account, currency))
        return found.balance if found else 0

    def accounts(self) -> dict[tuple[str, str], tuple[int, int]]:
        """(account, currency) -> (balance, postings): the trial balance."""
        return {k: (a.balance, a.postings) for k, a in self._accounts.items()}

    def totals(self) -> dict[str, int]:
        """Σ of every account per currency (zero in a sound ledger)."""
        totals: dict[str, int] = {}
        for (_, currency), account in self._accounts.items():
            totals[currency] = totals.get(currency, 0) + account.balance
        return totals

    def finish(self) -> None:
        """The checks that need the whole log: unmatched draws, payment end states, locks,
        pool funds, and the ledger's totals."""
        for name in ("events", "notification_ids", "versions"):
            self.findings[name].checked = self.events
        self.findings["draws"].checked += self._draw_events
        self.findings["draw_inputs"].checked += self._settled_draws
        self.findings["postings"].checked = self.findings["balances"].checked = self.money_events
        self.draws.finish()
        self.payments.finish(self.balance, self._currency_of, self.players)
        self.findings["deposits"].checked += len(self.payments.credits)
        self.findings["withdrawals"].checked += len(self.payments.locks)
        self.findings["locked"].checked += len(self.players)
        for pool_id, pool in self.aggregates.items():
            if type(pool).__name__ != "PrizePool":
                continue
            self.findings["pool_funds"].checked += 1
            ledger = self.balance(f"pool:{pool.pool_key}:prize_fund", pool.currency)
            if pool.fund != ledger:
                message = f"pool {pool.pool_key} holds {pool.fund}; its ledger account {ledger}"
                self.offend("pool_funds", message, (0, str(pool_id), "PrizePool"))
        unbalanced = {c: t for c, t in self.totals().items() if t}
        if unbalanced:
            self.offend("postings", f"the ledger sums to {unbalanced}", (0, "ledger", ""))

    def _currency_of(self, player_id: str) -> str:
        facts = self.players.get(player_id)
        return facts.currency if facts else ""
