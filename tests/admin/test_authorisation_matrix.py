"""The authorisation matrix, generated from the operator app's route table: every route by every
role (and an enrolment-only session, a player's token, and no token) is allowed or refused
exactly as the route's declared access says. A route added later is covered without a change
here; a route that declares no access fails ``test_every_route_declares_its_access``.

The operator console's pages are in the table too (``"console": True``): with a token they are
authorised like the API; without one, a form without its CSRF token is refused first.

Allowed means the answer is neither 401 nor 403 (the request itself is nonsense — dummy ids,
empty bodies — so 400/404/409/422 are expected); refused means exactly 401/403 with the code
of the rule that refused it. A step-up route is also tried without ``X-TOTP-Code``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar, Router, get
from litestar.handlers.http_handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute
from litestar.testing import TestClient

import interfaces.admin.app as admin_app
from domain.staff import PERMISSIONS, ROLE_PERMISSIONS
from interfaces.admin.security import authorise, declared_access
from tests.admin.conftest import V1, AdminApi, StaffLogin

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

DUMMY_BY_TYPE: dict[type, Any] = {int: 987_654, uuid.UUID: uuid.UUID(int=1), Path: "matrix.txt"}
BODY_METHODS = {"POST", "PUT", "PATCH"}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: HTTPRouteHandler

    @property
    def access(self) -> str:
        return declared_access(self.handler)

    @property
    def step_up(self) -> bool:
        return self.handler.opt.get("step_up") is True

    @property
    def console(self) -> bool:
        return self.handler.opt.get("console") is True

    @property
    def enrolment(self) -> bool:
        return self.handler.opt.get("enrolment") is True

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def endpoints(app: Litestar) -> Iterator[Endpoint]:
    """Every (method, handler) of the app, with dummy values in the path. The OPTIONS
    handlers Litestar adds by itself are left out (they are refused, having no access)."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        values = {
            name: DUMMY_BY_TYPE.get(param.type, "matrix-unknown")
            for name, param in route.path_parameters.items()
        }
        path = route.path_format.format(**values)
        for handler in route.route_handlers:
            for method in sorted(handler.http_methods - {"OPTIONS"}):
                yield Endpoint(method, path, handler)


@dataclass
class Principal:
    name: str
    headers: Callable[[], dict[str, str]]
    permissions: frozenset[str] | None = None  # None: not a fully signed-in operator
    refusal: tuple[int, str] | None = None  # how every non-public route refuses it
    renew: Callable[[], None] | None = None  # after a request that may have ended the session
    op: StaffLogin | None = None


def expected(endpoint: Endpoint, who: Principal) -> tuple[int, str] | None:
    """None for allowed, else (status, code)."""
    access = endpoint.access
    if (
        endpoint.console
        and endpoint.method in BODY_METHODS
        and "Authorization" not in who.headers()
    ):
        # A console page without a token authenticates by cookie: its forms need their CSRF
        # token, checked before anything else (no cookie, no token here).
        return (403, "csrf_failed")
    if access == "public":
        return None
    if who.refusal is not None:
        if who.refusal[1] == "totp_enrolment_required" and endpoint.enrolment:
            return None
        return who.refusal
    assert who.permissions is not None
    if access == "signed_in" or access in who.permissions:
        return None
    return (403, "permission_denied")


def call(admin: AdminApi, endpoint: Endpoint, headers: dict[str, str]) -> tuple[int, str]:
    body: dict[str, Any] | None = {} if endpoint.method in BODY_METHODS else None
    got = admin.client.request(endpoint.method, endpoint.path, headers=headers, json=body)
    is_problem = got.headers.get("content-type", "").startswith("application/problem+json")
    return got.status_code, got.json().get("code", "") if is_problem and got.content else ""


def operator_principal(admin: AdminApi, role: str) -> Principal:
    op = admin.operator(role)

    def renew() -> None:
        if admin.system.operators.session(op.operator_id, op.session_id) is None:
            admin.sign_in(op)

    return Principal(role, lambda: op.auth, ROLE_PERMISSIONS[role], renew=renew, op=op)


def enrolment_principal(admin: AdminApi) -> Principal:
    email = admin.create_operator("admin")
    session: dict[str, str] = {}

    def renew() -> None:
        if session and admin.system.operators.session(session["id"], session["sid"]):
            return
        body = admin.login(email)
        session.update(id=body["operator_id"], sid=body["session_id"], token=body["access_token"])

    renew()
    return Principal(
        "admin before TOTP enrolment",
        lambda: {"Authorization": f"Bearer {session['token']}"},
        refusal=(403, "totp_enrolment_required"),
        renew=renew,
    )


def principals(admin: AdminApi) -> list[Principal]:
    player = admin.players.register()
    return [
        Principal("no token", dict, refusal=(401, "unauthenticated")),
        Principal("a player's token", lambda: player.auth, refusal=(401, "token_invalid")),
        enrolment_principal(admin),
        *(operator_principal(admin, role) for role in ROLE_PERMISSIONS),
    ]


def with_step_up(admin: AdminApi, who: Principal, endpoint: Endpoint) -> dict[str, str]:
    if endpoint.step_up and who.op is not None:
        return admin.step_up(who.op)
    return who.headers()


def test_every_route_is_allowed_or_refused_as_declared(admin_api: AdminApi) -> None:
    who_all = principals(admin_api)
    table = list(endpoints(admin_api.client.app))
    assert any(e.access == "operators.manage" for e in table)  # the table is the real one
    wrong: list[str] = []
    for endpoint in table:
        for who in who_all:
            want = expected(endpoint, who)
            if want is None and endpoint.step_up and who.op is not None:
                got = call(admin_api, endpoint, who.headers())
                if got != (403, "step_up_required"):
                    wrong.append(f"{endpoint} as {who.name} without a code: got {got}")
            got = call(admin_api, endpoint, with_step_up(admin_api, who, endpoint))
            allowed = got[0] not in {401, 403}
            if (want is None and not allowed) or (want is not None and got != want):
                wrong.append(f"{endpoint} as {who.name}: expected {want or 'allowed'}, got {got}")
            if who.renew is not None:
                who.renew()
    assert wrong == [], "\n".join(wrong)


def test_every_route_declares_its_access(admin_api: AdminApi) -> None:
    app = admin_api.client.app
    assert authorise in app.guards
    undeclared = [str(e) for e in endpoints(app) if not e.access]
    assert undeclared == [], f"declare opt permission/signed_in/public on: {undeclared}"
    unknown = {
        e.handler.opt["permission"]
        for e in endpoints(app)
        if "permission" in e.handler.opt and e.handler.opt["permission"] not in PERMISSIONS
    }
    assert unknown == set()


@get("/forgotten", sync_to_thread=False)
def forgotten() -> dict[str, str]:
    """A route whose author forgot to declare its access."""
    return {"secret": "data"}


def test_a_route_that_declares_nothing_is_refused_even_to_an_admin(
    admin_api: AdminApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = admin_api.operator("admin")
    monkeypatch.setattr(
        admin_app, "ROUTERS", [*admin_app.ROUTERS, Router("/", route_handlers=[forgotten])]
    )
    with TestClient(admin_app.create_admin_app(admin_api.system, run_workers=False)) as client:
        got = client.get(f"{V1}/forgotten", headers=admin.auth)
        assert got.status_code == 403
        assert got.json()["code"] == "permission_denied"
        assert "secret" not in got.text
        assert [str(e) for e in endpoints(client.app) if not e.access] == [f"GET {V1}/forgotten"]
