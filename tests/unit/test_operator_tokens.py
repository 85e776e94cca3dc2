"""Operator tokens: their own audience and their own key, never interchangeable with a
player's; the key's settings follow the player key's rules."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from infrastructure.settings import Settings, SettingsError
from infrastructure.tokens import OPERATOR_AUDIENCE, PLAYER_AUDIENCE, AccessTokens, TokenRejected

KEY = "k" * 48


def test_a_token_verifies_only_for_its_own_audience() -> None:
    players = AccessTokens(KEY, 900)
    operators = AccessTokens(KEY, 900, OPERATOR_AUDIENCE)  # even under the same key
    # Issued now (verify checks exp against the wall clock): a time taken when the module was
    # collected expired in a suite that ran longer than the tokens' 15 minutes.
    now = datetime.now(UTC)
    player_token = players.issue("p1", "a1", "s1", now)
    operator_token = operators.issue("o1", "o1", "s2", now, "enrolment")

    assert players.audience == PLAYER_AUDIENCE
    with pytest.raises(TokenRejected):
        operators.verify(player_token)
    with pytest.raises(TokenRejected):
        players.verify(operator_token)
    claims = operators.verify(operator_token)
    assert (claims.subject, claims.session_id, claims.scope) == ("o1", "s2", "enrolment")
    assert players.verify(player_token).scope == ""


def test_embedded_the_operator_key_is_generated_once_and_differs_from_the_player_key(
    tmp_path: Path,
) -> None:
    env = {"PRIZELEDGER_DATA_DIR": str(tmp_path)}

    first, again = Settings.from_env(env), Settings.from_env(env)

    assert first.require_admin_jwt_secret() == again.require_admin_jwt_secret()
    assert first.require_admin_jwt_secret() != first.require_jwt_secret()


def test_with_postgres_the_operator_key_must_be_set_long_enough_and_not_the_player_key(
    tmp_path: Path,
) -> None:
    env = {
        "DATABASE_URL": "postgresql://postgres@127.0.0.1/x",
        "PRIZELEDGER_DATA_DIR": str(tmp_path),
        "PRIZELEDGER_JWT_SECRET": KEY,
    }
    with pytest.raises(SettingsError, match="PRIZELEDGER_ADMIN_JWT_SECRET"):
        Settings.from_env(env).require_admin_jwt_secret()
    with pytest.raises(SettingsError, match="at least 32"):
        Settings.from_env({**env, "PRIZELEDGER_ADMIN_JWT_SECRET": "short"})
    same = Settings.from_env({**env, "PRIZELEDGER_ADMIN_JWT_SECRET": KEY})
    with pytest.raises(SettingsError, match="must differ"):
        same.require_admin_jwt_secret()
    other = "o" * 40
    ok = Settings.from_env({**env, "PRIZELEDGER_ADMIN_JWT_SECRET": other})
    assert ok.require_admin_jwt_secret() == other
    assert not list(tmp_path.iterdir())  # nothing generated outside the embedded mode
