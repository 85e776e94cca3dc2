"""What the drills share: the player API as a real uvicorn process whose Postgres and Redis go
through a ``TcpProxy`` each, a client that retries a request with the same Idempotency-Key until
it gets an answer, and the checks on the raw events afterwards."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import httpx

from infrastructure.bootstrap import System
from infrastructure.settings import Settings
from ops.bench.http_deployment import server_command
from tests.drills.proxy import TcpProxy

__all__ = [
    "ApiProcess",
    "Answer",
    "DrillClient",
    "Failure",
    "Sent",
    "Load",
    "assert_503s_only",
    "failures",
    "players",
    "Stack",
    "count_events",
    "drill_env",
    "stack",
]

START_TIMEOUT_S = 60.0
PASSWORD = "drill correct horse battery staple"
UNLIMITED = "100000000"
IBAN = "DE89370400440532013000"


def _via(url: str, port: int) -> str:
    parsed = urlparse(url)
    host = parsed.hostname or "127.0.0.1"
    netloc = parsed.netloc.replace(f"{host}:{parsed.port}", f"127.0.0.1:{port}")
    return urlunparse(parsed._replace(netloc=netloc))


def drill_env(
    settings: Settings, redis_url: str, prefix: str, data_dir: Path, **extra: str
) -> dict[str, str]:
    """The environment a production process reads (secrets of 48 characters, limits that the
    drills' load never reaches unless ``extra`` says otherwise)."""
    assert settings.database_url is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PRIZELEDGER_", "POSTGRES_"))}
    env.update(
        DATABASE_URL=settings.database_url,
        REDIS_URL=redis_url,
        PRIZELEDGER_SCHEMA=settings.schema,
        PRIZELEDGER_REDIS_PREFIX=prefix,
        PRIZELEDGER_DATA_DIR=str(data_dir),
        PRIZELEDGER_JWT_SECRET=secrets.token_urlsafe(36),
        PRIZELEDGER_ADMIN_JWT_SECRET=secrets.token_urlsafe(36),
        PRIZELEDGER_WEBHOOK_SECRET=secrets.token_urlsafe(36),
        PRIZELEDGER_SANDBOX_PAYMENTS="1",
        PRIZELEDGER_RATE_IP_PER_MIN=UNLIMITED,
        PRIZELEDGER_RATE_PLAYER_PER_MIN=UNLIMITED,
        PRIZELEDGER_MAX_ACCOUNTS_PER_IP=UNLIMITED,
        PRIZELEDGER_ACCESS_TOKEN_TTL_S="3600",
        PRIZELEDGER_ARGON2_TIME_COST="1",
        PRIZELEDGER_ARGON2_MEMORY_KIB="1024",
        PRIZELEDGER_ARGON2_PARALLELISM="1",
        POSTGRES_CONNECT_TIMEOUT="2",
        PRIZELEDGER_LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


class ApiProcess:
    """``uvicorn interfaces.player.app:create_app --factory`` on a free port; restartable."""

    def __init__(self, env: dict[str, str], log: Path, port: int | None = None) -> None:
        self.env = env
        self.log = log
        with contextlib.closing(socket.create_server(("127.0.0.1", 0))) as probe:
            self.port: int = port or probe.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        command = server_command(self.port, workers=1)  # as the HTTP bench runs it
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(command, env=self.env, stdout=out, stderr=out)
        self.starts += 1
        self._wait_live()

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, open requests die mid-way."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def _wait_live(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the API exited:\n{self.log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.base_url}/health/live", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"the API did not come up:\n{self.log.read_text()[-3000:]}")


@dataclass
class Stack:
    """The API process(es) behind the proxies, and a System of the test's own that talks to
    Postgres directly (setup and the checks afterwards)."""

    system: System
    postgres: TcpProxy
    redis: TcpProxy
    env: dict[str, str]
    direct_env: dict[str, str]
    logs: Path
    apis: list[ApiProcess] = field(default_factory=list)

    def api(self, **extra: str) -> ApiProcess:
        started = ApiProcess({**self.env, **extra}, self.logs / f"api-{len(self.apis)}.log")
        self.apis.append(started)
        started.start()
        return started


@contextlib.contextmanager
def stack(
    settings: Settings, system: System, redis_url: str, prefix: str, **extra: str
) -> Iterator[Stack]:
    """Proxies up; on exit every API process stopped (killed if it does not stop)."""
    assert settings.database_url is not None
    pg_port = urlparse(settings.database_url).port or 5432
    redis_port = urlparse(redis_url).port or 6379
    logs = Path(tempfile.mkdtemp(prefix="drill-"))
    with TcpProxy(pg_port) as pg, TcpProxy(redis_port) as rd:
        direct = drill_env(settings, redis_url, prefix, logs, **extra)
        proxied = {
            **direct,
            "DATABASE_URL": _via(settings.database_url, pg.port),
            "REDIS_URL": _via(redis_url, rd.port),
        }
        drill = Stack(system, pg, rd, proxied, direct, logs)
        try:
            yield drill
        finally:
            for api in drill.apis:
                api.stop()


# ---- the client ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    attempts: int  # 1: answered at once; more: a crash or outage came in between
    at: float = field(default_factory=time.monotonic, compare=False)  # when it was answered


@dataclass(frozen=True)
class Failure:
    """A 5xx as the client saw it."""

    status: int
    content_type: str
    code: str | None
    retry_after: str | None

    @classmethod
    def of(cls, response: httpx.Response) -> Failure:
        content_type = response.headers.get("content-type", "")
        code = response.json().get("code") if "json" in content_type else None
        return cls(response.status_code, content_type, code, response.headers.get("retry-after"))


@dataclass
class DrillClient:
    """One player over HTTP. ``call`` retries the same request (same Idempotency-Key) after a
    transport error or a 5xx until it gets another answer or the deadline passes."""

    base_url: str
    email: str
    token: str = ""
    player_id: str = ""
    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: int = 0
    retried: Counter[str] = field(default_factory=Counter)  # 409s waited out, by code
    codes: Counter[str] = field(default_factory=Counter)  # the problem codes of 4xx answers
    failures: list[Failure] = field(default_factory=list)  # every 5xx answered

    def call(
        self, method: str, path: str, body: Any = None, key: str | None = None, deadline_s=60.0
    ) -> Answer:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        if key is not None:
            headers["Idempotency-Key"] = key
        stop = time.monotonic() + deadline_s
        attempts = 0
        with httpx.Client(base_url=self.base_url, timeout=10) as http:
            while time.monotonic() < stop:
                attempts += 1
                try:
                    response = http.request(method, path, json=body, headers=headers)
                except httpx.TransportError:
                    self.transport_errors += 1
                    time.sleep(0.2)
                    continue
                self.statuses[response.status_code] += 1
                retry = _retryable(response)
                if retry is not None:
                    # In flight: a request with this key is running, or died with its process
                    # (the lock lapses after IN_FLIGHT_TTL_S). Conflict: the optimistic retries
                    # ran out of time. Either way the same key later gets the one outcome.
                    self.retried[retry] += 1
                    time.sleep(float(response.headers["retry-after"]))
                    continue
                if response.status_code < 500:
                    body = response.json()
                    if response.status_code >= 400:
                        self.codes[str(body.get("code"))] += 1
                    return Answer(response.status_code, body, attempts)
                self.failures.append(Failure.of(response))
                time.sleep(0.2)
        raise AssertionError(f"{method} {path} got no answer within {deadline_s} s")

    def enrol(self) -> None:
        credentials = {"email": self.email, "password": PASSWORD}
        made = self.call("POST", "/api/v1/auth/register", credentials)
        assert made.status in {201, 409}, made
        login = self.call("POST", "/api/v1/auth/login", credentials)
        assert login.status == 200, login
        self.token, self.player_id = login.body["access_token"], login.body["player_id"]

    def payout_method(self) -> str:
        added = self.call(
            "POST",
            "/api/v1/payout-methods",
            {"kind": "bank_account", "details": {"iban": IBAN, "holder_name": "Ann Example"}},
        )
        assert added.status == 201, added
        return str(added.body["method_id"])


@dataclass
class Sent:
    """What one player was answered, by Idempotency-Key."""

    client: DrillClient
    payout_method: str = ""
    answers: dict[str, tuple[str, str, dict[str, object], Answer]] = field(default_factory=dict)

    def send(self, kind: str, path: str, body: dict[str, object]) -> Answer:
        """POST with a fresh Idempotency-Key, retried until answered; kept by key."""
        key = secrets.token_hex(8)
        answer = self.client.call("POST", path, body, key)
        self.answers[key] = (kind, path, body, answer)
        return answer

    def deposit(self, amount: int) -> Answer:
        """Start a deposit and pay it at the sandbox checkout (the checkout's webhook event is
        deduplicated: paying twice credits once)."""
        started = self.send("deposit", "/api/v1/deposits", {"amount_minor": amount})
        if started.status == 201:
            ref = started.body["checkout"]["provider_ref"]
            paid = self.client.call("POST", f"/api/v1/sandbox/checkout/{ref}", {"outcome": "pay"})
            assert paid.status == 200, paid
        return started

    def draw(self, pool: str) -> Answer:
        return self.send("draw", f"/api/v1/pools/{pool}/draws", {"count": 1})

    def withdraw(self, amount: int) -> Answer:
        if not self.payout_method:
            self.payout_method = self.client.payout_method()
        body = {"amount_minor": amount, "payout_method_id": self.payout_method}
        return self.send("withdrawal", "/api/v1/withdrawals", body)

    def answered(self, kind: str, status: int = 201) -> list[Answer]:
        return [a for k, _, _, a in self.answers.values() if k == kind and a.status == status]


def players(base_url: str, count: int, tag: str) -> list[Sent]:
    """``count`` players registered and signed in over HTTP."""
    sents = []
    for i in range(count):
        client = DrillClient(base_url, f"{tag}-{i}-{secrets.token_hex(3)}@example.com")
        client.enrol()
        sents.append(Sent(client))
    return sents


def failures(sents: list[Sent]) -> list[Failure]:
    return [f for s in sents for f in s.client.failures]


def assert_503s_only(sents: list[Sent]) -> None:
    """Any 5xx the players saw was a 503 problem+json with a Retry-After (never a 500)."""
    for failure in failures(sents):
        assert failure.status == 503, failure
        assert failure.content_type.startswith("application/problem+json"), failure
        assert failure.retry_after is not None, failure
        assert int(failure.retry_after) > 0, failure


RETRYABLE = {"idempotency_key_in_flight", "concurrency_conflict"}


def _retryable(response: httpx.Response) -> str | None:
    """The code of a 409 that asks to retry the same request later, else None."""
    if response.status_code != 409:
        return None
    code = response.json().get("code")
    return str(code) if code in RETRYABLE else None


def count_events(system: System, *names: str) -> Counter[tuple[str, str]]:
    """(event class qualname, originator id) → how many such events the raw store holds."""
    counts: Counter[tuple[str, str]] = Counter()
    recorder, mapper = system.ledger.recorder, system.ledger.mapper
    start = 1
    while True:
        page = recorder.select_notifications(start=start, limit=1_000)
        for notification in page:
            if notification.topic.rpartition(":")[2] in names:
                event = mapper.to_domain_event(notification)
                counts[(type(event).__qualname__, str(event.originator_id))] += 1
        if len(page) < 1_000:
            return counts
        start = page[-1].id + 1


def run_verify(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``prizeledger verify --json`` against the store, as an auditor runs it."""
    return subprocess.run(
        [sys.executable, "-m", "ops.cli", "verify", "--json"],
        check=False,
        # A shared server under other test runs can be slow to hand out a connection.
        env={**env, "POSTGRES_CONNECT_TIMEOUT": "20"},
        capture_output=True,
        text=True,
        timeout=120,
    )


class Load:
    """One thread per player running ``step(sent)`` in a loop until the block ends; a step's
    exception fails the drill (raised when the block ends)."""

    def __init__(self, sents: list[Sent], step: Callable[[Sent], None]) -> None:
        self._stop = threading.Event()
        self._errors: list[BaseException] = []
        self._threads = [threading.Thread(target=self._run, args=(s, step)) for s in sents]

    def _run(self, sent: Sent, step: Callable[[Sent], None]) -> None:
        try:
            while not self._stop.is_set():
                step(sent)
        except BaseException as error:
            self._errors.append(error)

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=90)
        assert not any(t.is_alive() for t in self._threads), "a player did not stop"
        assert not self._errors, self._errors
