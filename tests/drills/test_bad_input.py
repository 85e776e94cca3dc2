"""Drill 6, the part the API suite does not already spell out: unicode edge cases in every kind
of text a player sends (e-mail, password, payout details and label, currency) - lone and
reversed surrogates, NUL, a right-to-left override, a non-character, an astral emoji, a run of
combining marks. Each is answered 2xx or a 4xx problem+json with a code, never a 5xx; a refusal
records nothing (tests/api covers sizes, media types, amounts, tokens and webhooks)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from infrastructure.bootstrap import System, bootstrap
from infrastructure.settings import Settings
from interfaces.player.app import create_app
from interfaces.problems import PROBLEM_JSON
from tests.conftest import FAST_ARGON2

pytestmark = [pytest.mark.drills]

# JSON escapes as a client can send them (a lone surrogate cannot even be a Python str to encode).
EDGES = {
    "lone high surrogate": r"\ud800",
    "reversed surrogates": r"\udfff\ud800",
    "NUL": r"\u0000",
    "right-to-left override": r"a\u202eb",
    "non-character": r"\uffff",
    "astral emoji": r"\ud83d\ude00",
    "combining marks": r"e\u0301" * 50,
}
PASSWORD = "a long enough passphrase"


@pytest.fixture
def client() -> Iterator[TestClient[Litestar]]:
    system: System = bootstrap(Settings(database_url="sqlite::memory:", **FAST_ARGON2))
    logging.getLogger("prizeledger.access").disabled = True
    with TestClient(create_app(system, run_workers=False)) as test_client:
        yield test_client
    system.close()


def _requests(edge: str) -> list[tuple[str, str]]:
    return [
        (
            "/api/v1/auth/register",
            f'{{"email":"x{edge}@example.com","password":"{PASSWORD}{edge}"}}',
        ),
        ("/api/v1/auth/login", f'{{"email":"x{edge}@example.com","password":"{edge}"}}'),
        (
            "/api/v1/payout-methods",
            '{"kind":"bank_account","details":{"iban":"DE89370400440532013000",'
            f'"holder_name":"Ann{edge}"}},"label":"{edge}"}}',
        ),
        ("/api/v1/deposits", f'{{"amount_minor":100,"currency":"E{edge}"}}'),
    ]


def test_unicode_edge_cases_are_answered_never_a_5xx(client: TestClient[Litestar]) -> None:
    credentials = {"email": "ann@example.com", "password": PASSWORD}
    assert client.post("/api/v1/auth/register", json=credentials).status_code == 201
    token = client.post("/api/v1/auth/login", json=credentials).json()["access_token"]
    seen: dict[str, int] = {}
    for name, edge in EDGES.items():
        for n, (path, raw) in enumerate(_requests(edge)):
            json.loads(raw)  # every body is valid JSON syntax: the edge is in the text only
            headers = {
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "Idempotency-Key": f"edge-{len(seen)}-{n}",
            }
            answer = client.post(path, content=raw.encode(), headers=headers)
            described = f"{name} {path}: {answer.status_code} {answer.text[:300]}"
            assert answer.status_code < 500, described
            if answer.status_code >= 400:
                assert answer.headers["content-type"].startswith(PROBLEM_JSON), described
                assert answer.json()["code"], described
            seen[f"{name} {path}"] = answer.status_code
        # A refused registration made no account: signing in with it is the usual 401.
        if seen[f"{name} /api/v1/auth/register"] != 201:
            login = f'{{"email":"x{edge}@example.com","password":"{PASSWORD}{edge}"}}'
            answer = client.post(
                "/api/v1/auth/login",
                content=login.encode(),
                headers={"Content-Type": "application/json"},
            )
            assert answer.status_code in {400, 401}, (name, answer.text)
    # Text that is not Unicode at all is refused where it enters, not stored.
    assert seen["lone high surrogate /api/v1/auth/register"] == 400
    assert seen["reversed surrogates /api/v1/payout-methods"] == 400
    assert seen["NUL /api/v1/payout-methods"] == 400
