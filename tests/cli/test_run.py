"""The long-running processes through the console script: ``prizeledger run`` (embedded, the
demo seeded on first start) and ``prizeledger api`` (the player app alone), each answering its
health checks and stopping cleanly on SIGTERM within a bounded wait."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ops.demo.cast import OPERATORS, PLAYERS
from tests.cli.entry import (
    Server,
    environment,
    free_port,
    get,
    postgres_environment,
    prizeledger,
    unmade_schema,
)

pytestmark = pytest.mark.slow


def embedded(data_dir: Path, player: int, admin: int) -> dict[str, str]:
    return environment(
        PRIZELEDGER_DATA_DIR=str(data_dir),
        PRIZELEDGER_PORT=str(player),
        PRIZELEDGER_ADMIN_PORT=str(admin),
    )


def start_run(env: dict[str, str]) -> tuple[Server, list[str]]:
    """Start ``prizeledger run``; its stdout up to the last demo login, once both apps answer
    (a SIGTERM before the servers have started would end the process without a clean exit)."""
    server = Server(env, "run")
    try:
        lines = server.lines_until(PLAYERS[-1].email, timeout=120)
        for port in ("PRIZELEDGER_PORT", "PRIZELEDGER_ADMIN_PORT"):
            status, body = get(f"http://127.0.0.1:{env[port]}/health/live")
            assert (status, json.loads(body)) == (200, {"status": "ok"})
    except BaseException:
        server.stop()
        raise
    return server, lines


def test_run_seeds_an_empty_store_and_serves_both_apps(tmp_path: Path) -> None:
    player, admin = free_port(), free_port()
    server, lines = start_run(embedded(tmp_path, player, admin))
    try:
        assert lines[0] == f"prizeledger player app: http://127.0.0.1:{player}/"
        assert lines[1].startswith(f"prizeledger operator console: http://127.0.0.1:{admin}/")
        printed = "\n".join(lines[2:])
        for person in (*OPERATORS, *PLAYERS):
            assert f"{person.email}  password: {person.password}" in printed
        assert printed.count("TOTP secret: ") == len(OPERATORS)
        assert printed.count("otpauth://totp/") == len(OPERATORS)
        status, _ = get(f"http://127.0.0.1:{player}/admin/api/v1/operators")
        assert status == 404  # the operator API is on its own port only
    finally:
        code = server.stop()
    assert code == 0, "".join(server.stderr)[-3000:]


def test_run_seeds_only_once(tmp_path: Path) -> None:
    """A second start finds the demo (and prints the same logins); nothing is recorded."""
    env = embedded(tmp_path, free_port(), free_port())
    first, lines = start_run(env)
    assert first.stop() == 0
    count = prizeledger(env, "seed-demo", "--json")
    assert json.loads(count.stdout)["new_events"] == 0
    again, relines = start_run(env)
    assert again.stop() == 0
    assert relines[2:] == lines[2:]


def test_api_refuses_several_workers_on_the_embedded_store(tmp_path: Path) -> None:
    done = prizeledger(environment(PRIZELEDGER_DATA_DIR=str(tmp_path)), "api", "--workers", "2")
    assert done.returncode == 2
    assert "DATABASE_URL" in done.stderr


@pytest.fixture
def schema(postgres_url: str) -> Iterator[str]:
    with unmade_schema(postgres_url, "api") as name:
        yield name


@pytest.mark.postgres
def test_api_serves_the_player_app_with_workers_on_postgres(postgres_url: str, schema: str) -> None:
    port = free_port()
    env = {**postgres_environment(postgres_url, schema), "PRIZELEDGER_PORT": str(port)}
    assert prizeledger(env, "migrate").returncode == 0
    server = Server(env, "api", "--workers", "2")
    try:
        assert server.lines_until("prizeledger player app", timeout=30) == [
            f"prizeledger player app: http://127.0.0.1:{port}/"
        ]
        status, body = get(f"http://127.0.0.1:{port}/health/live")
        assert (status, json.loads(body)) == (200, {"status": "ok"})
        status, body = get(f"http://127.0.0.1:{port}/api/v1/pools")
        assert status == 200, body
        status, _ = get(f"http://127.0.0.1:{port}/admin/api/v1/operators")
        assert status == 404  # the operator API never ships in the player app
    finally:
        code = server.stop()
    assert code == 0, "".join(server.stderr)[-3000:]
