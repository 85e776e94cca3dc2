"""``prizeledger operators create``: the first admin from the command line, on the embedded
store of a temporary data directory."""

from __future__ import annotations

import re
from pathlib import Path

import pyotp
import pytest

from domain.cause import Cause
from infrastructure.bootstrap import bootstrap
from infrastructure.settings import Settings
from ops.cli import main

PASSWORD = "a very long admin password"


class Typist:
    """Stdin of someone who types the password, then reads the printed secret and types the
    code their authenticator app shows for it."""

    def __init__(self, capsys: pytest.CaptureFixture[str], code: str | None = None) -> None:
        self.capsys = capsys
        self.code = code
        self.lines = 0
        self.printed = ""

    def isatty(self) -> bool:
        return False

    def readline(self) -> str:
        self.lines += 1
        if self.lines == 1:
            return f"{PASSWORD}\n"
        self.printed += self.capsys.readouterr().out
        secret = re.search(r"TOTP secret: (\S+)", self.printed)
        assert secret is not None
        return f"{self.code if self.code is not None else pyotp.TOTP(secret[1]).now()}\n"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("PRIZELEDGER_DATA_DIR", str(tmp_path))
    for name in ("TIME_COST", "MEMORY_KIB", "PARALLELISM"):  # fast hashes, like the other tests
        monkeypatch.setenv(f"PRIZELEDGER_ARGON2_{name}", "1" if name != "MEMORY_KIB" else "1024")
    return tmp_path


def create(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, typist: Typist
) -> int:
    monkeypatch.setattr("sys.stdin", typist)
    argv = ["operators", "create", "--email", "Root@Example.com", "--role", "admin"]
    return main([*argv, "--password-stdin"])


def test_create_prints_the_secret_and_the_recovery_codes_once_and_they_sign_in(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    typist = Typist(capsys)

    assert create(capsys, monkeypatch, typist) == 0

    printed = typist.printed + capsys.readouterr().out
    assert "provisioning URI: otpauth://totp/prizeledger:root%40example.com?secret=" in printed
    codes = re.findall(r"^  (\S{5}-\S{5})$", printed, flags=re.MULTILINE)
    assert len(codes) == 10
    system = bootstrap(Settings.from_env())
    try:
        [admin] = system.operators.operators()
        assert (admin.email, admin.roles, admin.totp_enabled) == (
            "root@example.com",
            ["admin"],
            True,
        )
        session = system.operators.login(
            "root@example.com",
            PASSWORD,
            "ip",
            "ua",
            Cause("system:test", "t-1"),
            recovery_code=codes[0],
        )
        assert session.enrolment_only is False
    finally:
        system.close()


def test_a_wrong_code_leaves_totp_pending_and_an_address_is_created_once(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert create(capsys, monkeypatch, Typist(capsys, code="000000")) == 1
    assert "totp_invalid" in capsys.readouterr().err

    assert create(capsys, monkeypatch, Typist(capsys)) == 1
    assert "email_taken" in capsys.readouterr().err
    system = bootstrap(Settings.from_env())
    try:
        [admin] = system.operators.operators()
        assert admin.totp_enabled is False  # enrolled at the first sign-in instead
    finally:
        system.close()
