"""Ports: what the use cases need from the outside world, implemented in infrastructure.

The application layer may not import argon2 or pyotp (import-linter); it names the capability
here and the composition root passes an implementation (tests may pass a fast one).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

__all__ = ["PasswordHasher", "RegistrationsByIp", "TotpCodes"]


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str:
        """A salted, slow, self-describing hash of ``password``."""
        ...

    def verify(self, hash: str, password: str) -> bool:
        """Whether ``password`` matches ``hash``; False (never an error) for a mismatch or a
        hash that cannot be parsed."""
        ...

    def needs_rehash(self, hash: str) -> bool:
        """Whether ``hash`` was made with other parameters than the current ones."""
        ...


class TotpCodes(Protocol):
    def new_secret(self) -> str:
        """A fresh random shared secret (base32)."""
        ...

    def provisioning_uri(self, secret: str, account_name: str) -> str:
        """The ``otpauth://`` URI an authenticator app scans (as a QR code)."""
        ...

    def step_for(self, secret: str, code: str, at: datetime) -> int | None:
        """The time-step ``code`` belongs to, within one step either side of ``at``, or None."""
        ...


class RegistrationsByIp(Protocol):
    def accounts_registered_from(self, ip: str) -> int:
        """How many accounts were registered from ``ip`` (a read model: it may lag a little)."""
        ...
