"""Drill 7 (security), the parts the API and web suites do not already cover: a real process
refuses to start outside the embedded mode with a signing secret missing or shorter than 32
characters, and every page of both apps carries the security headers, a script policy without
inline script (and no inline script in the HTML), and HttpOnly/Secure/SameSite cookies."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from infrastructure.bootstrap import System, bootstrap
from infrastructure.passwords import Argon2Hasher
from infrastructure.settings import Settings
from interfaces.admin.app import create_admin_app
from interfaces.player.app import create_app
from tests.conftest import FAST_ARGON2
from tests.drills.deployment import drill_env

pytestmark = [pytest.mark.drills]

SHORT = "s" * 31
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
PAGES = {"player": ["/login", "/register"], "admin": ["/login"]}


@pytest.fixture
def embedded_system() -> Iterator[System]:
    system = bootstrap(Settings(database_url="sqlite::memory:", **FAST_ARGON2))
    yield system
    system.close()


def _app(kind: str, system: System) -> Litestar:
    make = create_app if kind == "player" else create_admin_app
    return make(system, run_workers=False)


@pytest.mark.parametrize("kind", sorted(PAGES))
def test_pages_carry_security_headers_and_no_inline_script(
    kind: str, embedded_system: System
) -> None:
    logging.getLogger("prizeledger.access").disabled = True
    with TestClient(_app(kind, embedded_system), base_url="https://prizeledger.example") as client:
        for path in PAGES[kind]:
            page = client.get(path)
            assert page.status_code == 200, (path, page.text)
            headers = page.headers
            policy = dict(
                part.strip().split(" ", 1) for part in headers["content-security-policy"].split(";")
            )
            assert policy["script-src"] == "'self'", policy
            assert "unsafe" not in headers["content-security-policy"]
            assert policy["frame-ancestors"] == "'none'"
            assert headers["x-frame-options"] == "DENY"
            assert headers["referrer-policy"] in {"no-referrer", "strict-origin-when-cross-origin"}
            assert headers["x-content-type-options"] == "nosniff"
            assert not INLINE_SCRIPT.search(page.text), path
            assert not EVENT_HANDLER.search(page.text), path
            for cookie in page.headers.get_list("set-cookie"):
                flags = {f.strip().lower() for f in cookie.split(";")[1:]}
                assert {"httponly", "secure"} <= flags, cookie
                assert any(f.startswith("samesite=") and f != "samesite=none" for f in flags)


class CountingHasher:
    """The real argon2id hasher, counting the verifications it does."""

    def __init__(self) -> None:
        self._real = Argon2Hasher(time_cost=1, memory_kib=1024, parallelism=1)
        self.verified: list[str] = []

    def hash(self, password: str) -> str:
        return self._real.hash(password)

    def verify(self, hash: str, password: str) -> bool:
        self.verified.append(hash.rpartition("$")[0].rpartition("$")[0])  # parameters, no salt
        return self._real.verify(hash, password)

    def needs_rehash(self, hash: str) -> bool:
        return self._real.needs_rehash(hash)


def test_login_does_the_same_work_whether_the_email_exists_or_not() -> None:
    """Timing is too noisy to assert on a shared machine; the cause of a timing difference is
    not: an unknown e-mail costs one argon2id verification with the same parameters as a wrong
    password for a known one, and both answer the same problem."""
    hasher = CountingHasher()
    system = bootstrap(Settings(database_url="sqlite::memory:"), hasher=hasher)
    logging.getLogger("prizeledger.access").disabled = True
    try:
        with TestClient(create_app(system, run_workers=False)) as client:
            known = {"email": "known@example.com", "password": "a long enough passphrase"}
            assert client.post("/api/v1/auth/register", json=known).status_code == 201
            answers, parameters = [], []
            for email in ("known@example.com", "nobody@example.com"):
                hasher.verified.clear()
                wrong = {"email": email, "password": "not the passphrase"}
                answer = client.post("/api/v1/auth/login", json=wrong)
                body = answer.json()
                answers.append((answer.status_code, body["code"], body["title"], body["detail"]))
                assert len(hasher.verified) == 1, (email, hasher.verified)
                parameters.append(hasher.verified[0])
            assert answers[0] == answers[1]
            assert answers[0][0] == 401
            assert parameters[0] == parameters[1]
            assert parameters[0].startswith("$argon2id$v=19$m=1024,t=1,p=1")
    finally:
        system.close()


REFUSALS = {
    "a short player token key": (
        "interfaces.player.app:create_app",
        {"PRIZELEDGER_JWT_SECRET": SHORT},
        "PRIZELEDGER_JWT_SECRET must be at least 32 characters",
    ),
    "no player token key": (
        "interfaces.player.app:create_app",
        {"PRIZELEDGER_JWT_SECRET": ""},
        "PRIZELEDGER_JWT_SECRET must be set",
    ),
    "a short operator token key": (
        "interfaces.admin.app:create_admin_app",
        {"PRIZELEDGER_ADMIN_JWT_SECRET": SHORT},
        "PRIZELEDGER_ADMIN_JWT_SECRET must be at least 32 characters",
    ),
    "no operator token key": (
        "interfaces.admin.app:create_admin_app",
        {"PRIZELEDGER_ADMIN_JWT_SECRET": ""},
        "PRIZELEDGER_ADMIN_JWT_SECRET must be set",
    ),
    "a short webhook key": (
        "interfaces.player.app:create_app",
        {"PRIZELEDGER_WEBHOOK_SECRET": SHORT},
        "PRIZELEDGER_WEBHOOK_SECRET must be at least 32 characters",
    ),
}


@pytest.mark.postgres
def test_a_missing_or_short_secret_stops_the_process(pg_settings: Settings, tmp_path: Path) -> None:
    """Outside the embedded mode (Postgres), each server process started with one key missing
    or too short exits with an error that names the key, instead of serving."""
    base = drill_env(pg_settings, "", "unused:", tmp_path)
    # Make the event store's tables first: the processes below start at once, and racing
    # CREATE TABLE IF NOT EXISTS in one schema can fail before they reach their secrets.
    bootstrap(pg_settings).close()
    started = {}
    for name, (factory, change, _) in REFUSALS.items():
        env = {**base, **change}
        command = [sys.executable, "-m", "uvicorn", factory, "--factory", "--port", "0"]
        started[name] = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
    try:
        for name, process in started.items():
            output, _ = process.communicate(timeout=60)
            assert process.returncode != 0, (name, output[-2000:])
            assert REFUSALS[name][2] in output, (name, output[-2000:])
    finally:
        for process in started.values():
            if process.poll() is None:
                process.kill()
                process.wait()
            if process.stdout is not None:  # else a failed assertion leaks the pipe into
                process.stdout.close()  # whichever test the garbage collector visits next
