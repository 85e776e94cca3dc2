"""argon2id password hashes (argon2-cffi), the ``PasswordHasher`` port's implementation."""

from __future__ import annotations

import argon2
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = ["Argon2Hasher"]

_DEFAULTS = argon2.profiles.RFC_9106_LOW_MEMORY


class Argon2Hasher:
    """Defaults: RFC 9106's second recommendation (argon2id, t=3, 64 MiB, p=4). Tests pass
    tiny costs; a stored hash carries its own parameters, so raising them later only makes
    ``needs_rehash`` true and the next login rehashes."""

    def __init__(
        self,
        time_cost: int = _DEFAULTS.time_cost,
        memory_kib: int = _DEFAULTS.memory_cost,
        parallelism: int = _DEFAULTS.parallelism,
    ) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            hash_len=_DEFAULTS.hash_len,
            salt_len=_DEFAULTS.salt_len,
            type=argon2.Type.ID,
        )

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(hash, password)
        except (VerificationError, InvalidHashError):
            # VerifyMismatchError is a VerificationError: a wrong password is an answer, not a
            # failure; so is a hash that is not argon2 at all.
            return False

    def needs_rehash(self, hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(hash)
        except (InvalidHashError, ValueError):
            return True
