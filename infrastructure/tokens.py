"""Access tokens: short-lived HS256 JWTs naming a subject, its account and session.

Players and operators get tokens from separate instances (separate secrets and audiences:
``prizeledger-player`` and ``prizeledger-operator``), so a token of one is never accepted by
the other app, whatever its claims say.

The token only proves who signed in and when; whether the session behind it is still open is
checked on every request (a revoked session's tokens stop working even before they expire).
The accepted algorithm is pinned, so ``alg: none`` or an RS/HS confusion can never verify.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

__all__ = [
    "OPERATOR_AUDIENCE",
    "PLAYER_AUDIENCE",
    "AccessClaims",
    "AccessTokens",
    "TokenRejected",
]

ALGORITHM = "HS256"
PLAYER_AUDIENCE = "prizeledger-player"
OPERATOR_AUDIENCE = "prizeledger-operator"
ISSUER = "prizeledger"


class TokenRejected(Exception):
    """The token is missing, malformed, tampered with, expired or for someone else."""

    code = "token_invalid"


@dataclass(frozen=True, slots=True)
class AccessClaims:
    subject: str  # the player id, or the operator id
    account_id: str
    session_id: str
    expires_at: int
    scope: str = ""  # "" is full access; operators' enrolment-only sessions say "enrolment"

    @property
    def player_id(self) -> str:
        return self.subject


class AccessTokens:
    def __init__(self, secret: str, ttl_s: int, audience: str = PLAYER_AUDIENCE) -> None:
        self._secret = secret
        self._ttl = timedelta(seconds=ttl_s)
        self.audience = audience

    def issue(
        self, subject: str, account_id: str, session_id: str, now: datetime, scope: str = ""
    ) -> str:
        claims = {
            "sub": subject,
            "acc": account_id,
            "sid": session_id,
            "iat": int(now.timestamp()),
            "exp": int((now + self._ttl).timestamp()),
            "aud": self.audience,
            "iss": ISSUER,
        }
        if scope:
            claims["scp"] = scope
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    @property
    def ttl_s(self) -> int:
        return int(self._ttl.total_seconds())

    def verify(self, token: str) -> AccessClaims:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "aud", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRejected("the access token has expired") from None
        except jwt.PyJWTError:
            raise TokenRejected("the access token is not valid") from None
        fields = (claims.get("sub"), claims.get("acc"), claims.get("sid"))
        if not all(isinstance(value, str) and value for value in fields):
            raise TokenRejected("the access token is not valid")
        scope = claims.get("scp", "")
        if not isinstance(scope, str):
            raise TokenRejected("the access token is not valid")
        return AccessClaims(
            str(fields[0]), str(fields[1]), str(fields[2]), int(claims["exp"]), scope
        )
