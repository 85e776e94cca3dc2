"""The player web pages through the real app (Litestar's test client) on real Postgres and
Redis, like tests/api: each test has its own schema and Redis prefix, and ``project()`` catches
the read models up when a test reads them.

The client talks to http://127.0.0.1: the session cookies are Secure everywhere else, and a
Secure cookie is never sent back over plain http."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from domain.cause import Cause
from domain.prizes import PoolControls, Prize
from infrastructure.bootstrap import System
from tests.api import conftest as api_tests
from tests.api.conftest import PASSWORD, Api

OP = "operator:admin"
api_factory = api_tests.api_factory  # the API tests' fixture, visible to these tests too
HIDDEN = re.compile(r'name="(?P<name>key|csrf)" value="(?P<value>[^"]+)"')


@dataclass
class Web:
    api: Api  # the same app and System as the API tests; pages through its client

    @property
    def client(self) -> TestClient[Any]:
        return self.api.client

    @property
    def system(self) -> System:
        return self.api.system

    def project(self) -> None:
        """Bring every read model up to the event log's head. A busy Postgres may refuse the
        projector's lease connection, and the projector then skips its projections for that
        pass: try again until every read model is at the head."""
        for _ in range(50):
            self.api.project()
            if all(status.lag == 0 for status in self.system.projection_status()):
                return
            time.sleep(0.2)
        pytest.fail(f"read models behind the head: {self.system.projection_status()}")

    def page(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(path, follow_redirects=False, **kwargs)

    def hidden(self, path: str) -> dict[str, str]:
        """The hidden fields (csrf, idempotency key) of the form on a page."""
        got = self.page(path)
        assert got.status_code == 200, got.text
        return {m["name"]: m["value"] for m in HIDDEN.finditer(got.text)}

    def submit(
        self, path: str, data: dict[str, str], *, page: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        """Post a form as a browser would: with the hidden fields of the page it is on."""
        fields = self.hidden(page or path)
        return self.client.post(path, data={**fields, **data}, follow_redirects=False, **kwargs)

    def register(self, email: str | None = None) -> str:
        """Register and stay signed in (the cookie session); returns the player id."""
        email = email or f"p{secrets.token_hex(5)}@example.com"
        done = self.submit("/register", {"email": email, "password": PASSWORD})
        assert done.status_code == 303, done.text
        # The player id is in no page: ask the API, as a second session of the same account.
        login = self.client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        return str(login.json()["player_id"])

    def top_up(self, amount: str) -> None:
        started = self.submit("/deposit", {"amount": amount})
        assert started.status_code == 303, started.text
        checkout = started.headers["location"]
        paid = self.submit(checkout, {"outcome": "pay"})
        assert paid.status_code == 200, paid.text


def given_pool(system: System, key: str = "wheel", cost: int = 100) -> None:
    pools = system.pools
    pools.create(key, "The wheel", cost, PoolControls(), Cause(OP, f"create-{key}"))
    pools.add_prize(key, Prize("gem", "Gem", "cash", 150, 30), Cause(OP, f"gem-{key}"))
    pools.add_prize(key, Prize("coin", "Coin", "bonus", 20, 30), Cause(OP, f"coin-{key}"))
    pools.fund(key, 1_000_000, Cause(OP, f"fund-{key}"))


@pytest.fixture
def web_factory(api_factory: Callable[..., Api]) -> Callable[..., Web]:
    def make(**overrides: Any) -> Web:
        api = api_factory(**overrides)
        api.client.base_url = httpx.URL("http://127.0.0.1")
        return Web(api)

    return make


@pytest.fixture
def web(web_factory: Callable[..., Web]) -> Web:
    return web_factory()
