"""The player API through the real app (Litestar's test client) on real Postgres and Redis.

Each test gets its own schema (``pg_settings``) and this run's Redis prefix. The projector is
not a background thread here: ``project()`` catches the read models up when a test reads them,
so tests are deterministic.
"""

from __future__ import annotations

import dataclasses
import itertools
import secrets
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from litestar.testing import TestClient

from infrastructure.bootstrap import System, bootstrap
from infrastructure.settings import Settings
from interfaces.player.app import create_app
from tests.conftest import SteppingClock

PASSWORD = "correct horse battery staple"


@dataclass
class Player:
    email: str
    player_id: str
    token: str
    session_id: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def money(self, key: str | None = None) -> dict[str, str]:
        return {**self.auth, "Idempotency-Key": key or uuid.uuid4().hex}


@dataclass
class Api:
    client: TestClient[Any]
    system: System
    clock: SteppingClock

    def project(self) -> None:
        """Bring every read model up to the event log's head."""
        projector = self.system.projector()
        projector.catch_up()
        stopped = threading.Event()
        stopped.set()
        projector.run(stopped)

    def register(self, email: str | None = None, password: str = PASSWORD) -> Player:
        email = email or f"p{secrets.token_hex(5)}@example.com"
        made = self.client.post(
            "/api/v1/auth/register", json={"email": email, "password": password}
        )
        assert made.status_code == 201, made.text
        return self.login(email, password)

    def login(self, email: str, password: str = PASSWORD) -> Player:
        got = self.client.post("/api/v1/auth/login", json={"email": email, "password": password})
        assert got.status_code == 200, got.text
        body = got.json()
        return Player(email, body["player_id"], body["access_token"], body["session_id"])

    def deposit(self, player: Player, amount: int) -> dict[str, Any]:
        """A deposit paid through the sandbox provider's checkout (its signed webhook)."""
        made = self.client.post(
            "/api/v1/deposits", json={"amount_minor": amount}, headers=player.money()
        )
        assert made.status_code == 201, made.text
        ref = made.json()["checkout"]["provider_ref"]
        paid = self.client.post(
            f"/api/v1/sandbox/checkout/{ref}", json={"outcome": "pay"}, headers=player.auth
        )
        assert paid.status_code == 200, paid.text
        return made.json()


def fast(settings: Settings, redis_prefix: tuple[str, str], **overrides: Any) -> Settings:
    url, prefix = redis_prefix
    values: dict[str, Any] = {
        "redis_url": url,
        "redis_prefix": f"{prefix}{secrets.token_hex(4)}:",
        "argon2_time_cost": 1,
        "argon2_memory_kib": 1024,
        "argon2_parallelism": 1,
    }
    # A test may override any of these too (say redis_url=None for the in-memory stand-ins).
    return dataclasses.replace(settings, **{**values, **overrides})


@pytest.fixture
def api_factory(
    pg_settings: Settings, redis_prefix: tuple[str, str], clock: SteppingClock
) -> Iterator[Callable[..., Api]]:
    made: list[Api] = []
    counter = itertools.count(1)

    def make(**overrides: Any) -> Api:
        settings = fast(pg_settings, redis_prefix, **overrides)
        system = bootstrap(settings, clock=clock, seeds=lambda: f"server-seed-{next(counter):032d}")
        client = TestClient(create_app(system, run_workers=False))
        client.__enter__()
        api = Api(client, system, clock)
        made.append(api)
        return api

    yield make
    for api in made:
        api.client.__exit__(None, None, None)


@pytest.fixture
def api(api_factory: Callable[..., Api]) -> Api:
    return api_factory()
