"""Fuzzing the operator API from its own OpenAPI schema (issue 10's bad-input drill, the
operator half), sent as a signed-in admin (every permission) with a fresh Idempotency-Key each.
No 5xx; every 4xx is RFC 9457 problem+json with a ``code``: the same cases and checks as
tests/api/test_fuzz.py, which fuzzes the player API, bounded like it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import pytest
import schemathesis
from schemathesis import BaseSchema
from schemathesis.core.result import Ok

from tests.admin.conftest import V1, AdminApi
from tests.api.support import given_pool
from tests.api.test_fuzz import Target, closed_objects, fuzz

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

# Signing out would leave every later case unauthenticated (tests/admin covers logout).
SKIPPED = {("POST", "/admin/api/v1/auth/logout")}


@dataclass(frozen=True)
class _Signed:
    """What tests/api/test_fuzz.py's ``send`` reads of a target's player: the auth headers."""

    auth: dict[str, str]


@dataclass(frozen=True)
class _OperatorTarget:
    """tests/api/test_fuzz.py's Target, pointed at the operator app (``api.client``) and
    signed in as an admin (``player.auth``)."""

    api: AdminApi
    player: _Signed
    schema: BaseSchema


def test_operator_api_no_5xx_and_every_4xx_is_problem_json(
    admin_api_factory: Callable[..., AdminApi],
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
    target = cast(Target, _OperatorTarget(admin, _Signed(op.auth), schema))
    failures: list[str] = []
    fuzzed = 0
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        fuzzed += 1
        try:
            fuzz(target, operation)()
        except AssertionError as error:  # every operation runs; all failures are reported
            failures.append(f"{operation.label}: {error}")
    assert fuzzed >= 60
    # Still signed in at the end: the cases really ran as the admin.
    assert admin.client.get(f"{V1}/auth/me", headers=op.auth).status_code == 200
    assert not failures, "\n\n".join(failures)
