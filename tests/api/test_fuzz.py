"""Fuzzing the player API from its own OpenAPI schema (schemathesis 4): valid and invalid
requests for every operation, sent as a signed-in player with a fresh Idempotency-Key each. No
answer may be a 5xx, and every 4xx must be RFC 9457 problem+json with a ``code``.

The schema is fetched from the running app (``/schema/openapi.json``) and each generated case is
sent through the same Litestar test client as the other API tests, so it reaches the real app
over real Postgres and Redis. Bounded: a fixed number of examples per operation, derandomized.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, BaseSchema, Case, GenerationMode
from schemathesis.core.result import Ok

from interfaces.problems import PROBLEM_JSON
from tests.api.conftest import Api, Player
from tests.api.support import add_bank_account, given_pool

# Not fuzzed: the event stream never ends (tests/api/test_live.py covers it), and logging out
# would leave every later case unauthenticated (tests/api/test_auth.py covers it).
SKIPPED = {("GET", "/api/v1/events"), ("POST", "/api/v1/auth/logout")}
EXAMPLES = 25
KNOWN = {"pool_key": "wheel", "provider": "sandbox"}


@dataclass
class Target:
    api: Api
    player: Player
    schema: BaseSchema


def closed_objects(schema: dict[str, Any]) -> dict[str, Any]:
    """Every body Struct refuses unknown fields (``forbid_unknown_fields``), which the schema
    does not say: without this most 'valid' cases would only meet that refusal."""
    for component in schema.get("components", {}).get("schemas", {}).values():
        if component.get("type") == "object" and "additionalProperties" not in component:
            component["additionalProperties"] = False
    return schema


@pytest.fixture
def fuzz_target(api_factory: Callable[..., Api]) -> Target:
    api = api_factory(rate_ip_per_minute=1_000_000, rate_player_per_minute=1_000_000)
    given_pool(api, "wheel")
    player = api.register()
    api.deposit(player, 50_000)
    assert add_bank_account(api, player).status_code == 201
    raw = api.client.get("/schema/openapi.json").json()
    schema: BaseSchema = schemathesis.openapi.from_dict(closed_objects(raw))
    for method, path in SKIPPED:
        schema = schema.exclude(method=method, path=path)
    return Target(api, player, schema)


def send(target: Target, case: Case[Any]) -> httpx.Response:
    """The case through the test client, as the signed-in player."""
    kwargs = case.as_transport_kwargs(base_url=str(target.api.client.base_url))
    # The real token, whatever the case made of the security scheme (missing and forged tokens
    # are tests/api/test_auth.py's), and a fresh key so that no case replays another.
    kwargs["headers"].update(target.player.auth, **{"Idempotency-Key": uuid.uuid4().hex})
    body: dict[str, Any] = {}
    if "json" in kwargs:
        body["json"] = kwargs["json"]
    if "data" in kwargs:
        data = kwargs["data"]
        body["content" if isinstance(data, bytes | str) else "data"] = data
    return target.api.client.request(
        kwargs["method"],
        kwargs["url"],
        headers=kwargs["headers"],
        params=kwargs.get("params"),
        **body,
    )


def problems_of(case: Case[Any], response: httpx.Response) -> None:
    described = f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text}"
    assert response.status_code < 500, described
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith(PROBLEM_JSON), described
        problem = response.json()
        assert problem["status"] == response.status_code, described
        assert isinstance(problem["code"], str), described
        assert problem["code"], described
        assert problem["request_id"] == response.headers["x-request-id"], described


def fuzz(target: Target, operation: APIOperation[Any, Any, Any, Any]) -> Callable[[], None]:
    """A Hypothesis test of one operation: cases that fit its schema and cases that do not."""
    strategies = [
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    ]
    # Random keys mostly meet "not found": some cases also name what exists, to get further in.
    known = {
        name: KNOWN[name] for name in re.findall(r"\{(\w+)\}", operation.path) if name in KNOWN
    }
    if known:
        strategies.append(operation.as_strategy(GenerationMode.POSITIVE, path_parameters=known))
    cases = st.one_of(*strategies)

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases)
    def run(case: Case[Any]) -> None:
        problems_of(case, send(target, case))

    return run


def test_no_5xx_and_every_4xx_is_problem_json(fuzz_target: Target) -> None:
    failures: list[str] = []
    fuzzed = 0
    for result in fuzz_target.schema.get_all_operations():
        assert isinstance(result, Ok), result  # a part of the schema it cannot read fails
        operation = result.ok()
        fuzzed += 1
        try:
            fuzz(fuzz_target, operation)()
        except AssertionError as error:  # every operation runs; all failures are reported
            failures.append(f"{operation.label}: {error}")
    assert fuzzed >= 30
    assert not failures, "\n\n".join(failures)
