"""What every player web page shares: rendering (Jinja, the request's locale), the cookie
session, CSRF, the signed-in player, and refusals turned into translated inline messages.

- Session: ``pl_session`` holds the account session (account, session, player ids) signed with
  a key derived from the JWT secret; every request checks that the session is still open,
  exactly like a Bearer token's (revoking it ends both). HttpOnly, SameSite=Lax, Secure unless
  served over plain http on localhost.
- CSRF: ``pl_csrf`` (HttpOnly) holds a signed random secret; every form carries, in its
  ``csrf`` field, an HMAC of that secret and the session it was rendered in; ``check_csrf``
  refuses any unsafe request whose field does not match.
  The API's Bearer routes live outside the web router and are never CSRF-checked.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import jinja2
import msgspec
from litestar import Request, Response
from litestar.datastructures import State
from litestar.params import URLEncodedBody
from litestar.response import Redirect

from domain.errors import DomainError
from interfaces.i18n import LANG_COOKIE, Translations
from interfaces.player.security import IDEMPOTENCY_KEY, Authenticator, Caller
from interfaces.problems import ApiError
from interfaces.web.cookies import Csrf, Signer, http_only_cookie
from interfaces.web.pages import environment

__all__ = [
    "CSRF_FIELD",
    "Form",
    "CsrfRefused",
    "SignInRequired",
    "WebKit",
    "check_csrf",
    "fragment",
    "fresh_key",
    "is_htmx",
    "money_key",
    "as_struct",
    "redirect",
    "refusal",
    "render",
    "session_of",
    "sign_in",
    "sign_out",
    "web_caller",
]

HERE = Path(__file__).resolve().parent.parent
SESSION_COOKIE = "pl_session"
CSRF_COOKIE = "pl_csrf"
CSRF_FIELD = "csrf"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
Req = Request[Any, Any, Any]
Form = URLEncodedBody[dict[str, str]]  # a submitted HTML form
T = TypeVar("T")


class SignInRequired(Exception):
    """No open session behind the request's cookie."""


class CsrfRefused(Exception):
    """An unsafe request without the form's CSRF token."""


@dataclass(frozen=True)
class WebKit:
    """The web pages' shared machinery, built once per app (``state.web``)."""

    env: jinja2.Environment
    translations: Translations
    signer: Signer
    session_ttl_s: int
    currency: str
    csrf: Csrf

    @classmethod
    def build(cls, jwt_secret: str, session_ttl_s: int, currency: str) -> WebKit:
        env = environment(HERE / "templates")
        signer = Signer(jwt_secret)
        translations = Translations(HERE / "locales")
        return cls(env, translations, signer, session_ttl_s, currency, Csrf(signer, CSRF_COOKIE))


def _kit(request: Req) -> WebKit:
    kit: WebKit = request.app.state.web
    return kit


def locale_of(request: Req) -> str:
    return _kit(request).translations.negotiate(
        request.cookies.get(LANG_COOKIE), request.headers.get("accept-language")
    )


def message(request: Req, key: str, **params: object) -> str:
    return _kit(request).translations.message(locale_of(request), key, **params)


def is_htmx(request: Req) -> bool:
    return request.headers.get("hx-request") == "true"


def fresh_key() -> str:
    """An idempotency key for a money form, made when the form is rendered: submitting the
    same form twice sends the same key, and the ledger runs the command once."""
    return uuid.uuid4().hex


def money_key(key: str) -> str:
    """The idempotency key a money form carries (made by ``fresh_key``; checked like the
    API's header, since a browser can send anything)."""
    if not IDEMPOTENCY_KEY.match(key):
        raise ApiError(400, "idempotency_key_invalid", "the form's key is malformed")
    return key


def csrf_token(request: Req) -> str:
    """What a form carries: the cookie's secret bound to the session it is shown in, so a
    cookie planted from a sibling domain is no use without the victim's own session."""
    caller = session_of(request)
    return _kit(request).csrf.token(request, caller.session_id if caller else "")


async def check_csrf(request: Req) -> None:
    """``before_request`` of the web router: every unsafe request must carry the token."""
    if request.method in SAFE_METHODS:
        return
    form = await request.form()
    sent = form.get(CSRF_FIELD) or request.headers.get("x-csrf-token")
    caller = session_of(request)
    if not _kit(request).csrf.valid(request, sent, caller.session_id if caller else ""):
        raise CsrfRefused


def render(
    request: Req,
    template: str,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Response[str]:
    """Render a page (or, for htmx, a fragment template) in the request's locale."""
    locale = locale_of(request)
    response = Response(
        fragment(request, template, **context),
        status_code=status_code,
        media_type="text/html; charset=utf-8",
        headers={"Content-Language": locale, "Vary": "Cookie, Accept-Language", **(headers or {})},
    )
    _kit(request).csrf.attach(request, response)
    return response


def fragment(request: Req, template: str, **context: Any) -> str:
    """A template as HTML in the request's locale (a page, or a fragment for htmx or SSE)."""
    kit = _kit(request)
    locale = locale_of(request)

    def t(key: str, **params: object) -> str:
        return kit.translations.message(locale, key, **params)

    return kit.env.get_template(template).render(
        t=t,
        lang=locale,
        locales=kit.translations.locales,
        csrf=csrf_token(request),
        csrf_field=CSRF_FIELD,
        signed_in=request.state.get("caller") is not None,
        path=request.url.path,
        currency=kit.currency,
        **context,
    )


def redirect(request: Req, url: str) -> Response[Any]:
    """After a successful form: a 303 to ``url`` (htmx follows ``HX-Redirect`` instead)."""
    if is_htmx(request):
        return Response("", status_code=200, headers={"HX-Redirect": url})
    return Redirect(url, status_code=303)


def sign_in(request: Req, response: Response[Any], caller: Caller) -> None:
    ids = json.dumps([caller.account_id, caller.session_id, caller.player_id])
    value = base64.urlsafe_b64encode(ids.encode()).decode().rstrip("=")
    kit = _kit(request)
    signed = kit.signer.sign(value)
    response.set_cookie(http_only_cookie(request, SESSION_COOKIE, signed, kit.session_ttl_s))


def sign_out(request: Req, response: Response[Any]) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def session_of(request: Req) -> Caller | None:
    value = _kit(request).signer.unsign(request.cookies.get(SESSION_COOKIE))
    if value is None:
        return None
    try:
        padded = value + "=" * (-len(value) % 4)
        account_id, session_id, player_id = json.loads(base64.urlsafe_b64decode(padded))
    except ValueError:
        return None
    return Caller(str(player_id), str(account_id), str(session_id))


async def web_caller(request: Req, state: State) -> Caller:
    """The signed-in player behind the session cookie, with the same session check and
    per-player budget as an API request; else ``SignInRequired``."""
    caller = session_of(request)
    authenticator: Authenticator = state.authenticator
    if caller is None or not await authenticator.is_open(caller):
        raise SignInRequired
    await state.limits.spend_player(request, caller)
    request.state["caller"] = caller
    return caller


def refusal(request: Req, error: Exception) -> str:
    """A refusal as the player reads it: the catalogue's message for the problem's ``code``."""
    code = getattr(error, "code", "internal_error")
    if isinstance(error, msgspec.ValidationError):
        return message(request, "error.validation_failed", detail=str(error))
    key = f"error.{code}"
    if _kit(request).translations.has(key):
        return message(request, key)
    return message(request, "error.generic", code=code)


def as_struct(fields: dict[str, Any], struct: type[T]) -> T:
    """A form's fields as the API's request struct (its validation, its limits)."""
    return msgspec.convert(fields, struct, strict=False)


RefusalError = (DomainError, ApiError, msgspec.ValidationError)
