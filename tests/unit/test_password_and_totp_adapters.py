"""The argon2id hasher and the TOTP codes behind the application's ports, and their settings."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest

from infrastructure.passwords import Argon2Hasher
from infrastructure.settings import Settings
from infrastructure.totp import PyotpCodes
from tests.unit.conftest import T0

FAST = {"time_cost": 1, "memory_kib": 1024, "parallelism": 1}


def test_a_hash_verifies_its_password_only():
    hasher = Argon2Hasher(**FAST)
    stored = hasher.hash("correct horse battery")

    assert stored.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    assert hasher.verify(stored, "correct horse battery") is True
    assert hasher.verify(stored, "correct horse batterY") is False
    assert hasher.hash("correct horse battery") != stored  # salted


@pytest.mark.parametrize("stored", ["", "not a hash", "$argon2id$v=19$m=1024,t=1,p=1$broken"])
def test_an_unusable_hash_verifies_nothing_and_needs_a_rehash(stored):
    hasher = Argon2Hasher(**FAST)
    assert hasher.verify(stored, "correct horse battery") is False
    assert hasher.needs_rehash(stored) is True


def test_needs_rehash_when_the_parameters_changed():
    old = Argon2Hasher(**FAST).hash("correct horse battery")

    assert Argon2Hasher(**FAST).needs_rehash(old) is False
    assert Argon2Hasher(time_cost=2, memory_kib=1024, parallelism=1).needs_rehash(old) is True


def test_the_default_cost_is_rfc_9106_low_memory():
    assert Argon2Hasher().hash("x" * 10).startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_settings_read_the_argon2_costs_and_the_session_ttl():
    # A Postgres URL: the embedded mode would write generated secrets into ./var.
    server = {"DATABASE_URL": "postgresql://postgres@127.0.0.1/prizeledger"}
    default = Settings.from_env(server)
    assert (default.argon2_time_cost, default.argon2_memory_kib, default.argon2_parallelism) == (
        3,
        65_536,
        4,
    )
    assert default.session_ttl == timedelta(days=7)

    custom = Settings.from_env(
        {
            **server,
            "PRIZELEDGER_ARGON2_TIME_COST": "2",
            "PRIZELEDGER_ARGON2_MEMORY_KIB": "2048",
            "PRIZELEDGER_ARGON2_PARALLELISM": "1",
            "PRIZELEDGER_SESSION_TTL_S": "3600",
        }
    )
    assert (custom.argon2_time_cost, custom.argon2_memory_kib, custom.argon2_parallelism) == (
        2,
        2048,
        1,
    )
    assert custom.session_ttl == timedelta(hours=1)


def test_a_code_matches_its_step_one_step_either_side():
    codes = PyotpCodes()
    secret = codes.new_secret()
    totp = pyotp.TOTP(secret)
    step = totp.timecode(T0)

    for offset in (-1, 0, 1):
        code = totp.generate_otp(step + offset)
        assert codes.step_for(secret, code, T0) == step + offset
    for offset in (-2, 2):
        assert codes.step_for(secret, totp.generate_otp(step + offset), T0) is None


FULLWIDTH_DIGITS = "".join(chr(0xFF10 + d) for d in range(1, 7))  # isdigit() yet not ASCII


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", FULLWIDTH_DIGITS])
def test_a_code_that_is_not_six_ascii_digits_matches_nothing(code):
    codes = PyotpCodes()
    assert codes.step_for(codes.new_secret(), code, T0) is None


def test_each_secret_is_new_and_the_uri_names_the_issuer_and_account():
    codes = PyotpCodes()
    secret = codes.new_secret()

    assert secret != codes.new_secret()
    assert len(secret) == 32
    uri = codes.provisioning_uri(secret, "ann@example.org")
    assert uri == (
        f"otpauth://totp/prizeledger:ann%40example.org?secret={secret}&issuer=prizeledger"
    )
    parsed = pyotp.parse_uri(uri)
    assert isinstance(parsed, pyotp.TOTP)
    assert codes.step_for(secret, parsed.at(T0), T0) is not None
