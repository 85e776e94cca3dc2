"""What every console page shares: rendering in the request's locale, the operator's session
cookie, CSRF on every form (``interfaces.web.cookies``), and refusals as translated messages.

- Session: ``op_session`` holds (operator id, session id) signed with a key derived from the
  operator JWT secret; the app's guard checks the session is open on every request, exactly as
  for a Bearer token (``interfaces.admin.security``). Cookie names differ from the player app's:
  browsers share cookies between ports of one host.
- CSRF: ``op_csrf`` holds the browser's signed secret; each form's ``csrf`` field is bound to
  the session it was rendered in. The guard checks it before anything else runs.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import jinja2
import msgspec
from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.params import URLEncodedBody
from litestar.response import Redirect

from interfaces.i18n import LANG_COOKIE, Translations
from interfaces.problems import ApiError
from interfaces.web.cookies import Csrf, Signer, http_only_cookie
from interfaces.web.pages import environment

__all__ = [
    "ConsoleKit",
    "Form",
    "Req",
    "is_htmx",
    "redirect",
    "refusal",
    "render",
    "sign_in",
    "sign_out",
    "today",
]

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "op_session"
CSRF_COOKIE = "op_csrf"
CSRF_FIELD = "csrf"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
Req = Request[Any, Any, Any]
Connection = ASGIConnection[Any, Any, Any, Any]
Form = URLEncodedBody[dict[str, str]]


@dataclass(frozen=True)
class ConsoleKit:
    """Templates, catalogues, cookie signer and CSRF of the console (``state.cookie_auth``);
    also the guard's ``CookieAuth``."""

    env: jinja2.Environment
    translations: Translations
    signer: Signer
    csrf: Csrf
    session_ttl_s: int

    @classmethod
    def build(cls, admin_jwt_secret: str, session_ttl_s: int) -> ConsoleKit:
        env = environment(HERE / "templates")
        env.filters["bps"] = basis_points
        signer = Signer(admin_jwt_secret)
        translations = Translations(HERE / "locales")
        return cls(env, translations, signer, Csrf(signer, CSRF_COOKIE), session_ttl_s)

    # ---- CookieAuth ---------------------------------------------------------------------------

    def session_of(self, connection: Connection) -> tuple[str, str] | None:
        value = self.signer.unsign(connection.cookies.get(SESSION_COOKIE))
        if value is None:
            return None
        try:
            padded = value + "=" * (-len(value) % 4)
            operator_id, session_id = json.loads(base64.urlsafe_b64decode(padded))
        except ValueError:
            return None
        return str(operator_id), str(session_id)

    async def form_field(self, connection: Connection, name: str) -> str:
        if not isinstance(connection, Request) or connection.method in SAFE_METHODS:
            return ""
        value = (await connection.form()).get(name)
        return value if isinstance(value, str) else ""

    async def check_csrf(self, connection: Connection) -> None:
        if not isinstance(connection, Request) or connection.method in SAFE_METHODS:
            return
        sent = await self.form_field(connection, CSRF_FIELD)
        if not self.csrf.valid(connection, sent, self._session_id(connection)):
            raise ApiError(403, "csrf_failed", "this form is stale or not ours: reload the page")

    def _session_id(self, connection: Connection) -> str:
        session = self.session_of(connection)
        return session[1] if session else ""


def today() -> date:
    """Today (UTC) as the finance read model counts days: by the event store's own timestamps,
    which are wall-clock time (never a test's or a replay's clock)."""
    return datetime.now(UTC).date()


def basis_points(value: int | None, signed: bool = False) -> str:
    """1234 → "12.34 %" (exact: integer arithmetic); None (nothing to show yet) → a dash."""
    if value is None:
        return "\u2013"
    sign = "-" if value < 0 else "+" if signed and value > 0 else ""
    whole, part = divmod(abs(value), 100)
    return f"{sign}{whole}.{part:02d} %"


def _kit(request: Req) -> ConsoleKit:
    kit: ConsoleKit = request.app.state.cookie_auth
    return kit


def locale_of(request: Req) -> str:
    return _kit(request).translations.negotiate(
        request.cookies.get(LANG_COOKIE), request.headers.get("accept-language")
    )


def is_htmx(request: Req) -> bool:
    return request.headers.get("hx-request") == "true"


def render(request: Req, template: str, status_code: int = 200, **context: Any) -> Response[str]:
    """A page (or an htmx fragment template) in the request's locale."""
    kit = _kit(request)
    locale = locale_of(request)

    def t(key: str, **params: object) -> str:
        return kit.translations.message(locale, key, **params)

    staff = request.state.get("staff")
    html = kit.env.get_template(template).render(
        t=t,
        lang=locale,
        locales=kit.translations.locales,
        csrf=kit.csrf.token(request, kit._session_id(request)),
        csrf_field=CSRF_FIELD,
        staff=staff,
        can=staff.permissions if staff else frozenset(),
        path=request.url.path,
        **context,
    )
    response = Response(
        html,
        status_code=status_code,
        media_type="text/html; charset=utf-8",
        headers={"Content-Language": locale, "Vary": "Cookie, Accept-Language"},
    )
    kit.csrf.attach(request, response)
    return response


def redirect(request: Req, url: str) -> Response[Any]:
    """After a successful form: a 303 to ``url`` (htmx follows ``HX-Redirect`` instead)."""
    if is_htmx(request):
        return Response("", status_code=200, headers={"HX-Redirect": url})
    return Redirect(url, status_code=303)


def sign_in(request: Req, response: Response[Any], operator_id: str, session_id: str) -> None:
    value = base64.urlsafe_b64encode(json.dumps([operator_id, session_id]).encode()).decode()
    kit = _kit(request)
    signed = kit.signer.sign(value.rstrip("="))
    response.set_cookie(http_only_cookie(request, SESSION_COOKIE, signed, kit.session_ttl_s))


def sign_out(response: Response[Any]) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def refusal(request: Req, error: Exception) -> str:
    """A refusal as the operator reads it: the catalogue's message for its ``code``."""
    kit = _kit(request)
    locale = locale_of(request)
    if isinstance(error, msgspec.ValidationError):
        return kit.translations.message(locale, "error.validation_failed", detail=str(error))
    code = getattr(error, "code", "internal_error")
    if kit.translations.has(f"error.{code}"):
        return kit.translations.message(locale, f"error.{code}")
    return kit.translations.message(locale, "error.generic", code=code)
