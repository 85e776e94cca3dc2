"""The operator API through the real app on real Postgres and Redis, with the player app on the
same System (so tests can make players, deposits and withdrawals the way players do).

- ``admin_api.operator("finance")`` creates an operator through the use case (as the CLI
  does), enrols and enables TOTP over HTTP, signs in with a code and returns a ``StaffLogin``
  whose ``auth`` headers carry its token.
- ``admin_api.totp(op)`` is a fresh code of that operator. TOTP steps are single use, so each
  call first moves the test clock on by one 30-second step.
- ``admin_api.step_up(op)`` is ``auth`` plus ``X-TOTP-Code`` with a fresh code;
  ``admin_api.change(op, key)`` adds an ``Idempotency-Key`` (the request id) to either.
- ``admin_api.project()`` brings the read models up to date; ``admin_api.players`` (also the
  ``player_api`` fixture) is the player app's ``tests.api.conftest.Api`` on the same System.
"""

from __future__ import annotations

import itertools
import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pyotp
import pytest
from litestar.testing import TestClient

from domain.cause import Cause
from infrastructure.bootstrap import System, bootstrap
from infrastructure.settings import Settings
from interfaces.admin.app import API_PATH, create_admin_app
from interfaces.player.app import create_app
from tests.api.conftest import Api, fast
from tests.conftest import SteppingClock

PASSWORD = "operator passphrase 42"
V1 = API_PATH


@dataclass
class StaffLogin:
    operator_id: str
    email: str
    roles: list[str]
    secret: str
    recovery_codes: list[str]
    token: str = ""
    session_id: str = ""
    password: str = PASSWORD
    permissions: list[str] = field(default_factory=list)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class AdminApi:
    client: TestClient[Any]
    players: Api
    system: System
    clock: SteppingClock

    def project(self) -> None:
        """Bring every read model up to the event log's head."""
        self.players.project()

    def totp(self, op: StaffLogin) -> str:
        """A code of ``op`` that no earlier request used (the clock moves on one step)."""
        self.clock.advance(seconds=30)
        return pyotp.TOTP(op.secret).at(self.clock.now)

    def step_up(self, op: StaffLogin) -> dict[str, str]:
        return {**op.auth, "X-TOTP-Code": self.totp(op)}

    @staticmethod
    def change(headers: dict[str, str], key: str | None = None) -> dict[str, str]:
        """``headers`` with an Idempotency-Key: the request id of the change."""
        return {**headers, "Idempotency-Key": key or uuid.uuid4().hex}

    def create_operator(self, roles: str | list[str], email: str | None = None) -> str:
        """An operator made the way the CLI makes the first admin; returns the e-mail."""
        email = email or f"op{secrets.token_hex(5)}@example.com"
        chosen = [roles] if isinstance(roles, str) else roles
        cause = Cause("system:cli", f"create-{uuid.uuid4().hex}")
        self.system.operators.create(email, PASSWORD, chosen, cause)
        return email

    def login(self, email: str, password: str = PASSWORD, **factor: str) -> dict[str, Any]:
        """POST /auth/login; ``factor`` is ``totp_code=…`` or ``recovery_code=…``."""
        got = self.client.post(
            f"{V1}/auth/login", json={"email": email, "password": password, **factor}
        )
        assert got.status_code == 200, got.text
        body: dict[str, Any] = got.json()
        return body

    def enrol(self, email: str) -> StaffLogin:
        """Sign in before TOTP exists (an enrolment-only session), enrol and enable TOTP."""
        first = self.login(email)
        assert first["enrolment_only"] is True
        auth = {"Authorization": f"Bearer {first['access_token']}"}
        started = self.client.post(f"{V1}/auth/totp", headers=auth)
        assert started.status_code == 201, started.text
        op = StaffLogin(first["operator_id"], email, first["roles"], started.json()["secret"], [])
        confirmed = self.client.post(
            f"{V1}/auth/totp/confirm", json={"code": self.totp(op)}, headers=auth
        )
        assert confirmed.status_code == 200, confirmed.text
        op.recovery_codes = confirmed.json()["recovery_codes"]
        return op

    def sign_in(self, op: StaffLogin) -> StaffLogin:
        """A full session for an enrolled operator (with a fresh code)."""
        body = self.login(op.email, op.password, totp_code=self.totp(op))
        assert body["enrolment_only"] is False
        op.token, op.session_id = body["access_token"], body["session_id"]
        me = self.client.get(f"{V1}/auth/me", headers=op.auth)
        assert me.status_code == 200, me.text
        op.permissions = me.json()["permissions"]
        return op

    def operator(self, roles: str | list[str], email: str | None = None) -> StaffLogin:
        """A signed-in operator with these roles and TOTP enabled."""
        return self.sign_in(self.enrol(self.create_operator(roles, email)))


@pytest.fixture
def admin_api_factory(
    pg_settings: Settings, redis_prefix: tuple[str, str], clock: SteppingClock
) -> Iterator[Callable[..., AdminApi]]:
    """``make(**settings_overrides)``: a System on a Postgres schema of its own, served by the
    operator app and the player app."""
    made: list[tuple[AdminApi, System]] = []
    counter = itertools.count(1)

    def make(**overrides: Any) -> AdminApi:
        settings = fast(pg_settings, redis_prefix, **overrides)
        system = bootstrap(settings, clock=clock, seeds=lambda: f"server-seed-{next(counter):032d}")
        player_client = TestClient(create_app(system, run_workers=False))
        admin_client = TestClient(create_admin_app(system, run_workers=False))
        player_client.__enter__()
        admin_client.__enter__()
        admin = AdminApi(admin_client, Api(player_client, system, clock), system, clock)
        made.append((admin, system))
        return admin

    yield make
    for admin, _ in made:
        admin.client.__exit__(None, None, None)
        admin.players.client.__exit__(None, None, None)


@pytest.fixture
def admin_api(admin_api_factory: Callable[..., AdminApi]) -> AdminApi:
    return admin_api_factory()


@pytest.fixture
def player_api(admin_api: AdminApi) -> Api:
    """The player app on the same System as ``admin_api``."""
    return admin_api.players
