"""Drill 6, the operator half: schemathesis over the operator API's own OpenAPI schema, sent as
a signed-in admin (every permission) with a fresh Idempotency-Key each. No 5xx; every 4xx is
RFC 9457 problem+json with a ``code`` (the same checks as tests/api/test_fuzz.py, which fuzzes
the player API). Bounded: a fixed number of derandomized examples per operation."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, BaseSchema, Case, GenerationMode
from schemathesis.core.result import Ok

from tests.admin.conftest import (
    V1,
    AdminApi,
    StaffLogin,
    admin_api_factory,  # noqa: F401 - the fixture
)
from tests.api.support import given_pool
from tests.api.test_fuzz import closed_objects, problems_of

pytestmark = [pytest.mark.drills, pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

EXAMPLES = 8
# Signing out would leave every later case unauthenticated (tests/admin covers logout).
SKIPPED = {("POST", "/admin/api/v1/auth/logout")}


def _send(admin: AdminApi, op: StaffLogin, case: Case[Any]) -> httpx.Response:
    kwargs = case.as_transport_kwargs(base_url=str(admin.client.base_url))
    kwargs["headers"].update(op.auth, **{"Idempotency-Key": uuid.uuid4().hex})
    body: dict[str, Any] = {}
    if "json" in kwargs:
        body["json"] = kwargs["json"]
    if "data" in kwargs:
        data = kwargs["data"]
        body["content" if isinstance(data, bytes | str) else "data"] = data
    return admin.client.request(
        kwargs["method"],
        kwargs["url"],
        headers=kwargs["headers"],
        params=kwargs.get("params"),
        **body,
    )


def _fuzz(
    admin: AdminApi, op: StaffLogin, operation: APIOperation[Any, Any, Any, Any]
) -> Callable[[], None]:
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases)
    def run(case: Case[Any]) -> None:
        problems_of(case, _send(admin, op, case))

    return run


def test_operator_api_no_5xx_and_every_4xx_is_problem_json(
    admin_api_factory: Callable[..., AdminApi],  # noqa: F811 - the fixture imported above
) -> None:
    admin = admin_api_factory(rate_ip_per_minute=1_000_000, rate_player_per_minute=1_000_000)
    given_pool(admin.players, "wheel")
    player = admin.players.register()
    admin.players.deposit(player, 50_000)
    op = admin.operator("admin")
    schema: BaseSchema = schemathesis.openapi.from_dict(
        closed_objects(admin.client.get("/schema/openapi.json").json())
    )
    for method, path in SKIPPED:
        schema = schema.exclude(method=method, path=path)
    failures: list[str] = []
    fuzzed = 0
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        fuzzed += 1
        try:
            _fuzz(admin, op, operation)()
        except AssertionError as error:  # every operation runs; all failures are reported
            failures.append(f"{operation.label}: {error}")
    assert fuzzed >= 60
    # Still signed in at the end: the cases really ran as the admin.
    assert admin.client.get(f"{V1}/auth/me", headers=op.auth).status_code == 200
    assert not failures, "\n\n".join(failures)
