"""Time-based one-time passwords (RFC 6238, via pyotp), the ``TotpCodes`` port's implementation."""

from __future__ import annotations

import hmac
from datetime import datetime

import pyotp

__all__ = ["PyotpCodes"]

ISSUER = "prizeledger"
STEP_SECONDS = 30
DIGITS = 6
# One step either side: a phone clock a little off, or a code typed just as it rolled over.
VALID_WINDOW = 1


class PyotpCodes:
    def new_secret(self) -> str:
        return pyotp.random_base32()

    def provisioning_uri(self, secret: str, account_name: str) -> str:
        return self._totp(secret).provisioning_uri(name=account_name, issuer_name=ISSUER)

    def step_for(self, secret: str, code: str, at: datetime) -> int | None:
        """The matched step, so that the caller can refuse a step used before (a replay)."""
        if len(code) != DIGITS or not code.isascii() or not code.isdigit():
            return None
        totp = self._totp(secret)
        now = totp.timecode(at)
        for step in range(now - VALID_WINDOW, now + VALID_WINDOW + 1):
            if hmac.compare_digest(totp.generate_otp(step), code):
                return step
        return None

    @staticmethod
    def _totp(secret: str) -> pyotp.TOTP:
        return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS, issuer=ISSUER)
