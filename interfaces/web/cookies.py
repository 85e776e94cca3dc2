"""Signed cookies and CSRF tokens for server-rendered pages.

- ``Signer``: HMAC-SHA256 signatures for cookie values, with a key derived from an app's JWT
  secret (so a cookie can never be replayed as a token, nor one app's cookie in the other).
- CSRF: a cookie holds a signed random secret; every form carries an HMAC of that secret and
  the session it was rendered in (``Csrf.token``), so a secret planted from a sibling domain,
  or a form from an earlier session, is refused (``Csrf.valid``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from litestar import Request, Response
from litestar.datastructures import Cookie

__all__ = ["Csrf", "Signer", "http_only_cookie"]

Req = Request[Any, Any, Any]
_NEW_SECRET = "csrf_new"  # noqa: S105 - request.state key of a CSRF secret made during this request


class Signer:
    """HMAC-SHA256 signatures for cookie values."""

    def __init__(self, secret: str) -> None:
        self._key = hmac.new(secret.encode(), b"prizeledger web cookies", hashlib.sha256).digest()

    def sign(self, value: str) -> str:
        mac = hmac.new(self._key, value.encode(), hashlib.sha256).hexdigest()
        return f"{value}.{mac}"

    def unsign(self, signed: str | None) -> str | None:
        if not signed:
            return None
        value, _, mac = signed.rpartition(".")
        expected = hmac.new(self._key, value.encode(), hashlib.sha256).hexdigest()
        return value if value and hmac.compare_digest(mac, expected) else None


def _secure(request: Req) -> bool:
    # Secure everywhere but plain http on loopback (a Secure cookie is never sent back there).
    return not (
        request.url.scheme == "http"
        and (request.url.hostname or "") in {"localhost", "127.0.0.1", "::1"}
    )


def http_only_cookie(request: Req, key: str, value: str, max_age: int | None) -> Cookie:
    """A session-grade cookie: HttpOnly, SameSite=Lax, Secure unless on loopback http."""
    return Cookie(
        key=key,
        value=value,
        max_age=max_age,
        path="/",
        httponly=True,
        secure=_secure(request),
        samesite="lax",
    )


@dataclass(frozen=True)
class Csrf:
    """CSRF tokens of one app: ``cookie`` names the cookie holding the browser's secret."""

    signer: Signer
    cookie: str

    def secret(self, request: Req) -> str:
        """The browser's signed secret: the cookie's when it is ours, else a new one (which
        ``attach`` sets on the response)."""
        given = request.cookies.get(self.cookie)
        if given and self.signer.unsign(given):
            return given
        made: str | None = request.state.get(_NEW_SECRET)
        if made is None:
            made = self.signer.sign(secrets.token_hex(16))
            request.state[_NEW_SECRET] = made
        return made

    def token(self, request: Req, session_id: str) -> str:
        """What a form carries: the secret bound to the session it is shown in."""
        bound = f"csrf|{self.secret(request)}|{session_id}"
        return self.signer.sign(bound).rpartition(".")[2]

    def valid(self, request: Req, sent: object, session_id: str) -> bool:
        """Whether an unsafe request's token matches its cookie and session."""
        cookie = request.cookies.get(self.cookie)
        return bool(
            isinstance(sent, str)
            and cookie
            and self.signer.unsign(cookie)
            and hmac.compare_digest(sent, self.token(request, session_id))
        )

    def attach(self, request: Req, response: Response[Any]) -> None:
        """Set the secret made during this request (if any) on its response."""
        made = request.state.get(_NEW_SECRET)
        if made is not None:
            response.set_cookie(http_only_cookie(request, self.cookie, made, None))
