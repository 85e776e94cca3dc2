"""Notifications: the projection queues exactly one outbox row per notification (also after a
rebuild from position 0), on SQLite and on the real Postgres; the notifier delivers at least
once with backoff, dead-letters, never double-sends with two workers on Postgres; the local
outbox and SMTP senders deliver; enqueueing is idempotent."""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
import signal
import socketserver
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from domain.account import PlayerAccount
from domain.cause import Cause
from infrastructure.bootstrap import System, bootstrap
from infrastructure.live import RedisLiveBus
from infrastructure.mail import (
    LocalOutboxSender,
    Mail,
    MailError,
    SmtpMailSender,
    list_local_mail,
    mail_sender,
)
from infrastructure.notifier import Notifier, Outbox, OutboxRow
from infrastructure.readstore import PostgresReadStore
from infrastructure.rebuild import rebuild
from infrastructure.settings import Settings
from projections.base import iso
from projections.notifications import OUTBOX, format_amount
from projections.store import ReadStore
from tests.conftest import SteppingClock

ALICE = "alice@example.com"
OPS = "operator:ops"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def system(
    request: pytest.FixtureRequest, clock: SteppingClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[System]:
    monkeypatch.setattr("eventsourcing.domain.datetime_now_with_tzinfo", clock)
    if request.param == "sqlite":
        settings = Settings(database_url="sqlite::memory:")
    else:
        settings = request.getfixturevalue("pg_settings")
    built = bootstrap(settings, clock=clock)
    yield built
    built.close()


def catch_up(system: System) -> None:
    """Project everything, and make sure the projection did not stop on an error (a stopped
    projection writes nothing, which would let an outbox check pass for the wrong reason)."""
    projector = system.projector(["notifications"])
    projector.catch_up()
    (status,) = projector.status()
    assert (status.state, status.lag, status.last_error) == ("running", 0, None)


# ---- the projection ------------------------------------------------------------------------------


class Scenario:
    def __init__(self, system: System, clock: SteppingClock) -> None:
        self.system = system
        self.clock = clock
        self.requests = itertools.count(1)

    def cause(self, actor: str) -> Cause:
        return Cause(actor, f"r{next(self.requests)}")

    def account(self, email: str, player_id: str) -> UUID:
        account = PlayerAccount.register(
            email, player_id, "hash-1", self.clock(), self.cause(f"player:{player_id}")
        )
        self.system.ledger.save(account)
        self.system.wallets.open(player_id, self.cause(f"player:{player_id}"))
        return account.id

    def on_account(self, account_id: UUID, act: str, *args: object) -> None:
        account: PlayerAccount = self.system.ledger.repository.get(account_id)
        getattr(account, act)(*args, self.clock(), self.cause("player:p1"))
        self.system.ledger.save(account)

    def log_in(self, account_id: UUID, session: str, agent: str) -> None:
        expires = self.clock() + timedelta(days=1)
        self.on_account(account_id, "log_in", session, "203.0.113.7", agent, expires)

    def funded(self, player_id: str, amount: int) -> None:
        d = self.system.deposits.request(
            player_id, amount, "EUR", "sandbox", self.cause(f"player:{player_id}")
        )
        self.system.deposits.confirm(UUID(d.deposit_id), "psp", self.cause("system:psp"))

    def withdrawal(self, player_id: str, amount: int) -> UUID:
        w = self.system.withdrawals.request(
            player_id, amount, "EUR", f"iban:{player_id}", self.cause(f"player:{player_id}")
        )
        return UUID(w.withdrawal_id)


def _history(system: System, clock: SteppingClock) -> dict[str, UUID]:
    s = Scenario(system, clock)
    wd = system.withdrawals
    alice = s.account(ALICE, "p1")
    s.funded("p1", 500_000)
    system.wallets.open("p2", s.cause("player:p2"))  # a wallet without an account: no mail
    s.funded("p2", 5_000)

    s.log_in(alice, "s1", "Firefox")  # the very first login: not new
    s.log_in(alice, "s2", "Firefox")  # a known device
    s.log_in(alice, "s3", "Curl/8.0")  # new device → mail
    for _ in range(5):  # the fifth failure locks → mail
        s.on_account(alice, "fail_login", "198.51.100.1")
    clock.advance(minutes=20)
    s.on_account(alice, "change_password", "hash-2", "s3")  # → mail
    s.on_account(alice, "request_password_reset", "the-token")
    s.on_account(alice, "reset_password", "the-token", "hash-3")  # → mail

    paid = s.withdrawal("p1", 1_000)  # requested → mail
    wd.approve(paid, s.cause(OPS))  # approved (one approval needed) → mail
    wd.submit(paid, "bank-1", s.cause(OPS))  # → mail
    wd.mark_processing(paid, s.cause(OPS))  # no mail
    wd.mark_paid(paid, s.cause(OPS))  # → mail
    cancelled = s.withdrawal("p1", 2_050)
    wd.cancel(cancelled, s.cause("player:p1"))
    large = s.withdrawal("p1", 150_000)  # two approvals needed
    wd.approve(large, s.cause(OPS))  # not yet approved: no mail
    wd.approve(large, s.cause("operator:second"))  # → approved mail
    wd.reject(large, "internal note: kyc", s.cause(OPS))  # the note is not mailed
    s.withdrawal("p2", 1_000)  # p2 has no account: no mail
    return {"paid": paid, "cancelled": cancelled, "large": large, "alice": alice}


def _positions(system: System) -> dict[tuple[str, str], list[int]]:
    """(originator id, event name) → notification ids, from the event store."""
    found: dict[tuple[str, str], list[int]] = {}
    for n in system.ledger.recorder.select_notifications(start=1, limit=100_000):
        name = n.topic.rpartition(":")[2].partition(".")[2]
        found.setdefault((str(n.originator_id), name), []).append(n.id)
    return found


def _outbox(store: ReadStore) -> list[tuple[Any, ...]]:
    with store.transaction() as tx:
        return tx.fetchall(
            "SELECT id, kind, position, player_id, recipient, subject, body, state"
            f" FROM {OUTBOX} ORDER BY position"
        )


def test_the_projection_queues_one_mail_per_notification(
    system: System, clock: SteppingClock
) -> None:
    ids = _history(system, clock)
    catch_up(system)
    rows = _outbox(system.read_store)
    at = _positions(system)
    alice, paid, cancelled, large = (str(ids[k]) for k in ("alice", "paid", "cancelled", "large"))
    expected = [
        (at[alice, "LoggedIn"][2], "new_device_login"),
        (at[alice, "Locked"][0], "account_locked"),
        (at[alice, "PasswordChanged"][0], "password_changed"),
        (at[alice, "PasswordReset"][0], "password_reset"),
        (at[paid, "Requested"][0], "withdrawal_requested"),
        (at[paid, "ApprovalGiven"][0], "withdrawal_approved"),
        (at[paid, "Submitted"][0], "withdrawal_submitted"),
        (at[paid, "Paid"][0], "withdrawal_paid"),
        (at[cancelled, "Requested"][0], "withdrawal_requested"),
        (at[cancelled, "Cancelled"][0], "withdrawal_cancelled"),
        (at[large, "Requested"][0], "withdrawal_requested"),
        (at[large, "ApprovalGiven"][1], "withdrawal_approved"),
        (at[large, "Rejected"][0], "withdrawal_rejected"),
    ]
    assert [(r[2], r[1]) for r in rows] == expected
    assert [r[0] for r in rows] == [f"{position}:{kind}" for position, kind in expected]
    assert {(r[3], r[4], r[7]) for r in rows} == {("p1", ALICE, "pending")}

    bodies = {r[1]: r[6] for r in rows}  # the last of each kind
    assert "203.0.113.7" in bodies["new_device_login"]
    assert "Curl/8.0" in bodies["new_device_login"]
    assert "2026-01-01 12:15 UTC" in bodies["account_locked"]  # locked for 15 minutes
    assert "2 other session(s)" in bodies["password_changed"]  # s1 and s2, not the kept s3
    assert "10.00 EUR" in bodies["withdrawal_paid"]
    assert "20.50 EUR" in bodies["withdrawal_cancelled"]
    assert "1500.00 EUR" in bodies["withdrawal_rejected"]
    assert "kyc" not in bodies["withdrawal_rejected"]
    assert f"withdrawal {paid}" in bodies["withdrawal_paid"]


def test_a_rebuild_from_position_zero_queues_nothing_twice(
    system: System, clock: SteppingClock
) -> None:
    _history(system, clock)
    catch_up(system)
    before = _outbox(system.read_store)
    sent = Notifier(system.read_store, LocalOutboxSender(system.read_store, clock), clock)
    assert sent.run_once(limit=3) == 3

    assert rebuild(system.ledger, system.read_store, "notifications") == 2
    catch_up(system)  # the live projector on the new version: nothing new either
    after = _outbox(system.read_store)
    assert [r[:7] for r in after] == [r[:7] for r in before]
    assert [r[7] for r in after] == ["sent"] * 3 + ["pending"] * (len(before) - 3)


def test_replaying_the_same_batch_into_a_fresh_view_changes_no_outbox_row(
    system: System, clock: SteppingClock
) -> None:
    """Even a second projector writing the same version from zero (a lost lease) adds none."""
    _history(system, clock)
    catch_up(system)
    before = _outbox(system.read_store)
    with system.read_store.transaction() as tx:
        tx.execute("UPDATE rm_tracking SET position = 0 WHERE projection = 'notifications'")
        for table in ("accounts", "withdrawals"):
            tx.execute(f"DELETE FROM rm_notifications_v1_{table}")
    catch_up(system)
    assert _outbox(system.read_store) == before


def test_amounts_are_written_in_the_currency_s_minor_units() -> None:
    assert format_amount(12_345, "EUR") == "123.45 EUR"
    assert format_amount(5, "EUR") == "0.05 EUR"
    assert format_amount(-1_000, "USD") == "-10.00 USD"
    assert format_amount(1_500, "JPY") == "1500 JPY"
    assert format_amount(1_234, "BHD") == "1.234 BHD"


# ---- the notifier --------------------------------------------------------------------------------


class FailingSender:
    def __init__(self) -> None:
        self.calls = 0

    def send(self, message: Mail) -> None:
        self.calls += 1
        raise MailError(f"mail server says no ({self.calls})")


@dataclass
class RecordingSender:
    sent: list[Mail]

    def send(self, message: Mail) -> None:
        self.sent.append(message)


def test_a_failing_mail_backs_off_then_is_dead_lettered_and_can_be_retried(
    system: System, clock: SteppingClock
) -> None:
    store = system.read_store
    Outbox(store, clock).enqueue("reset:1", ALICE, "Reset your password", "Follow the link")
    failing = FailingSender()
    notifier = Notifier(store, failing, clock, max_attempts=3, jitter=lambda: 1.0)

    def row() -> OutboxRow:
        found = Outbox(store).get("key:reset:1")
        assert found is not None
        return found

    assert notifier.run_once() == 1
    assert (row().attempts, row().state) == (1, "pending")
    assert row().next_attempt_at == iso(clock() + timedelta(seconds=2))
    assert notifier.run_once() == 0  # not due yet
    clock.advance(seconds=2)
    assert notifier.run_once() == 1
    assert row().next_attempt_at == iso(clock() + timedelta(seconds=4))
    clock.advance(seconds=4)
    assert notifier.run_once() == 1
    dead = row()
    assert (dead.attempts, dead.state, dead.next_attempt_at) == (3, "dead", None)
    assert dead.last_error is not None
    assert "mail server says no (3)" in dead.last_error
    clock.advance(hours=1)
    assert notifier.run_once() == 0
    assert failing.calls == 3
    assert notifier.dead_letters() == [dead]

    assert notifier.retry_dead("key:reset:1")
    assert not notifier.retry_dead("key:reset:1")  # no longer dead
    delivered = RecordingSender([])
    assert Notifier(store, delivered, clock).run_once() == 1
    assert delivered.sent == [Mail(ALICE, "Reset your password", "Follow the link", "key:reset:1")]
    assert (row().state, row().attempts) == ("sent", 1)
    assert notifier.dead_letters() == []


def test_retry_delays_double_up_to_the_cap_with_jitter_down_to_half(
    embedded: System, clock: SteppingClock
) -> None:
    store = embedded.read_store
    Outbox(store, clock).enqueue("k", ALICE, "s", "b")
    jitters = iter([0.0, 1.0, 0.5, 0.0, 1.0, 1.0])
    notifier = Notifier(
        store,
        FailingSender(),
        clock,
        max_attempts=10,
        base_delay_s=2,
        max_delay_s=10,
        jitter=lambda: next(jitters),
    )
    delays = []
    for _ in range(6):
        assert notifier.run_once() == 1
        found = Outbox(store).get("key:k")
        assert found is not None
        assert found.next_attempt_at is not None
        due = found.next_attempt_at
        delays.append((datetime.fromisoformat(due) - clock()).total_seconds())
        clock.now = datetime.fromisoformat(due)
    # base·2^attempts: 2, 4, 8, then capped at 10; jitter scales each into [d/2, d].
    assert delays == [1.0, 4.0, 6.0, 5.0, 10.0, 10.0]


def test_stale_mail_is_dead_lettered_instead_of_sent(
    embedded: System, clock: SteppingClock
) -> None:
    store = embedded.read_store
    Outbox(store, clock).enqueue("old", ALICE, "Old news", "...")
    clock.advance(days=3)
    Outbox(store, clock).enqueue("new", ALICE, "News", "...")
    delivered = RecordingSender([])
    notifier = Notifier(store, delivered, clock, stale_after_s=86_400)
    assert notifier.run_once() == 1
    assert [m.key for m in delivered.sent] == ["key:new"]
    (dead,) = notifier.dead_letters()
    assert dead.id == "key:old"
    assert dead.last_error is not None
    assert dead.last_error.startswith("stale")
    assert notifier.retry_dead("key:old")  # an operator decides to send it after all
    assert notifier.run_once() == 1
    assert [m.key for m in delivered.sent] == ["key:new", "key:old"]


def test_enqueueing_the_same_key_twice_keeps_one_row(system: System, clock: SteppingClock) -> None:
    outbox = Outbox(system.read_store, clock)
    first = outbox.enqueue("verify:p1:1", ALICE, "Verify your e-mail", "link 1", "p1")
    second = outbox.enqueue("verify:p1:1", ALICE, "Verify your e-mail", "link 2", "p1")
    assert first == second == "key:verify:p1:1"
    assert len(outbox.rows("pending")) == 1
    row = outbox.get(first)
    assert row is not None
    assert (row.kind, row.body, row.attempts, row.state) == ("direct", "link 1", 0, "pending")


def test_the_local_outbox_lists_what_was_sent(system: System, clock: SteppingClock) -> None:
    store = system.read_store
    outbox = Outbox(store, clock)
    outbox.enqueue("a", ALICE, "First", "one")
    clock.advance(seconds=1)
    outbox.enqueue("b", "bob@example.com", "Second", "two")
    local = LocalOutboxSender(store, clock)
    notifier = Notifier(store, local, clock)
    assert notifier.run_once() == 1 + 1
    clock.advance(seconds=1)
    local.send(Mail(ALICE, "First", "one", "key:a"))  # an at-least-once resend: kept once

    listed = list_local_mail(store)
    assert sorted((m.id, m.to, m.subject, m.body) for m in listed) == [
        ("key:a", ALICE, "First", "one"),
        ("key:b", "bob@example.com", "Second", "two"),
    ]
    assert [m.id for m in list_local_mail(store, to=ALICE)] == ["key:a"]
    assert len(list_local_mail(store, limit=1)) == 1
    assert {r.state for r in outbox.rows("sent")} == {"sent"}


@pytest.mark.postgres
def test_two_notifiers_on_postgres_never_send_a_row_twice(
    pg_settings: Settings, clock: SteppingClock
) -> None:
    assert pg_settings.database_url is not None
    stores = [
        PostgresReadStore(pg_settings.database_url, schema=pg_settings.schema, size=4)
        for _ in range(2)
    ]
    total = 300
    outbox = Outbox(stores[0], clock)
    for n in range(total):
        outbox.enqueue(f"m{n}", f"p{n}@example.com", "Hello", "body")
    sent: list[str] = []
    lock = threading.Lock()

    class SlowSender:
        def send(self, message: Mail) -> None:
            time.sleep(0.001)  # long enough for the workers to interleave
            with lock:
                sent.append(message.key)

    def work(store: ReadStore) -> None:
        notifier = Notifier(store, SlowSender(), clock)
        while notifier.run_once(limit=7):
            pass

    threads = [threading.Thread(target=work, args=(stores[i % 2],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    try:
        counts = Counter(sent)
        assert len(counts) == total
        assert max(counts.values()) == 1
        assert len(outbox.rows("sent", limit=total + 1)) == total
    finally:
        for store in stores:
            store.close()


def test_the_notifier_loop_delivers_until_stopped(embedded: System, clock: SteppingClock) -> None:
    store = embedded.read_store
    delivered = RecordingSender([])
    notifier = Notifier(store, delivered, clock, poll_s=0.01)
    stop = threading.Event()
    worker = threading.Thread(target=notifier.run, args=(stop,))
    worker.start()
    try:
        Outbox(store, clock).enqueue("loop", ALICE, "Hi", "there")
        deadline = time.monotonic() + 5
        while not delivered.sent and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        worker.join(timeout=5)
    assert not worker.is_alive()
    assert [m.key for m in delivered.sent] == ["key:loop"]


# ---- senders -------------------------------------------------------------------------------------


class _SmtpHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP to accept one mail (RFC 5321's happy path)."""

    def reply(self, line: str) -> None:
        self.wfile.write(f"{line}\r\n".encode())

    def handle(self) -> None:
        server: SmtpServer = self.server  # type: ignore[assignment]
        self.reply("220 test ESMTP")
        envelope: list[str] = []
        while raw := self.rfile.readline():
            command = raw.decode().rstrip("\r\n")
            verb = command.split(" ", 1)[0].upper()
            if verb in {"EHLO", "HELO"}:
                self.reply("250 test")
            elif verb in {"MAIL", "RCPT"}:
                envelope.append(command)
                self.reply("250 ok")
            elif verb == "DATA":
                self.reply("354 go ahead")
                lines = []
                while (line := self.rfile.readline().decode()) not in {".\r\n", ""}:
                    lines.append(line)
                server.received.append((envelope, "".join(lines)))
                self.reply("250 queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")


class SmtpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SmtpHandler)
        self.received: list[tuple[list[str], str]] = []


def test_the_smtp_sender_hands_the_mail_to_the_server() -> None:
    server = SmtpServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        sender = SmtpMailSender.from_url(f"smtp://127.0.0.1:{port}", "noreply@prizeledger.test")
        sender.send(Mail(ALICE, "Withdrawal paid", "Your withdrawal has been paid.", "12:paid"))
        with pytest.raises(MailError):  # a header injection is refused before connecting
            sender.send(Mail(f"{ALICE}\r\nBcc: everyone@example.com", "s", "b", "k"))
    finally:
        server.shutdown()
        server.server_close()
    ((envelope, data),) = server.received
    assert [e.lower() for e in envelope] == [
        "mail from:<noreply@prizeledger.test>",
        f"rcpt to:<{ALICE}>",
    ]
    assert f"To: {ALICE}" in data
    assert "Subject: Withdrawal paid" in data
    assert "@prizeledger.test>" in data  # the Message-ID derived from the key
    assert "Your withdrawal has been paid." in data


def test_an_unreachable_mail_server_is_a_mail_error() -> None:
    with socketserver.TCPServer(("127.0.0.1", 0), socketserver.BaseRequestHandler) as probe:
        port = probe.server_address[1]
    sender = SmtpMailSender("127.0.0.1", port, "noreply@prizeledger.test", timeout_s=2)
    with pytest.raises(MailError, match="Connection refused"):
        sender.send(Mail(ALICE, "s", "b", "k"))


def test_the_sender_follows_the_settings(embedded: System, tmp_path: Path) -> None:
    env = {
        "PRIZELEDGER_DATA_DIR": str(tmp_path),
        "PRIZELEDGER_SMTP_URL": "smtp://user:p%40ss@mail.example.com:2525?starttls=1",
        "PRIZELEDGER_MAIL_FROM": "alerts@example.com",
    }
    settings = Settings.from_env(env)
    smtp = mail_sender(settings.smtp_url, settings.mail_from, embedded.read_store)
    assert isinstance(smtp, SmtpMailSender)
    assert (smtp.host, smtp.port, smtp.starttls, smtp.sender) == (
        "mail.example.com",
        2525,
        True,
        "alerts@example.com",
    )
    default = Settings.from_env({"PRIZELEDGER_DATA_DIR": str(tmp_path)})
    assert default.mail_from == "prizeledger@localhost"
    local = mail_sender(default.smtp_url, default.mail_from, embedded.read_store)
    assert isinstance(local, LocalOutboxSender)
    assert SmtpMailSender.from_url("smtps://mail.example.com", "a@b.c").port == 465
    with pytest.raises(ValueError, match="smtp://"):
        SmtpMailSender.from_url("http://mail.example.com", "a@b.c")


# ---- the projector process -----------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
def test_the_projector_process_delivers_mail_and_publishes_live_updates(
    pg_system: System,
    pg_settings: Settings,
    redis_prefix: tuple[str, str],
    clock: SteppingClock,
    tmp_path: Path,
) -> None:
    redis_url, prefix = redis_prefix
    prefix = f"{prefix}cli-{secrets.token_hex(4)}:"
    scenario = Scenario(pg_system, clock)
    scenario.account(ALICE, "p1")
    scenario.funded("p1", 10_000)
    scenario.withdrawal("p1", 1_000)
    assert pg_settings.database_url is not None
    env = {
        **os.environ,
        "DATABASE_URL": pg_settings.database_url,
        "PRIZELEDGER_SCHEMA": pg_settings.schema,
        "REDIS_URL": redis_url,
        "PRIZELEDGER_REDIS_PREFIX": prefix,
        "PRIZELEDGER_DATA_DIR": str(tmp_path),
        "PRIZELEDGER_LOG_LEVEL": "WARNING",
    }
    env.pop("PRIZELEDGER_SMTP_URL", None)  # the local outbox
    root = Path(__file__).resolve().parents[2]
    with open(tmp_path / "projector.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "ops.cli", "projector", "--report-every", "1"],
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        bus = RedisLiveBus(redis_url, prefix)
        try:
            heard = asyncio.run(_live_balance(bus, scenario))
            deadline = time.monotonic() + 30
            while not list_local_mail(pg_system.read_store) and time.monotonic() < deadline:
                time.sleep(0.1)
            mails = list_local_mail(pg_system.read_store, to=ALICE)
        finally:
            bus.close()
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=30)
    assert code == 0, (tmp_path / "projector.log").read_text()
    assert heard["type"] == "balance"
    assert [m.subject for m in mails] == ["Withdrawal request received"]


async def _live_balance(bus: RedisLiveBus, scenario: Scenario) -> dict[str, Any]:
    """A balance message for p1, depositing every half second until one arrives (the feed
    starts at the head it sees once the process is up)."""
    stop = threading.Event()

    def deposits() -> None:
        while not stop.wait(0.5):
            scenario.funded("p1", 100)

    depositor = threading.Thread(target=deposits)
    async with bus.subscription("p1") as sub:
        depositor.start()
        try:
            async with asyncio.timeout(30):
                async for message in sub:
                    if message["type"] == "balance":
                        return message
        finally:
            stop.set()
            await asyncio.to_thread(depositor.join)
    raise AssertionError("the subscription ended")
