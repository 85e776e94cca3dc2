"""Console pages for finance and audit: the finance report (a chart of the house result per day
and the day-by-day figures, observed against declared RTP per pool), the audit log with filters
and its CSV export, and the runtime settings with their history. The same read models and
queries as the operator API's reports, audit and config routes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from litestar import Response, get
from litestar.datastructures import State
from litestar.params import FromPath, QueryParameter

from infrastructure.bootstrap import System
from interfaces.admin.console.chart import daily_chart
from interfaces.admin.console.kit import Req, is_htmx, render, today
from interfaces.admin.reports import pool_rtp
from interfaces.admin.schemas import csv_download
from interfaces.problems import ApiError

__all__ = ["ROUTES"]

Day = Annotated[date | None, QueryParameter()]
Text = Annotated[str | None, QueryParameter(max_length=200)]
Cursor = Annotated[str | None, QueryParameter(max_length=64)]
DEFAULT_DAYS = 14
MAX_DAYS = 366


def _range(first: date | None, last: date | None) -> tuple[date, date]:
    last = last or today()
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    if last < first or (last - first).days >= MAX_DAYS:
        raise ApiError(400, "invalid_range", f"'to' is on or after 'from', {MAX_DAYS} days at most")
    return first, last


@get("/finance", sync_to_thread=True, opt={"permission": "finance.read"})
def finance(request: Req, state: State, since: Day = None, until: Day = None) -> Response[str]:
    """The house result per day as a chart (and a table), totals, and RTP per pool."""
    system: System = state.system
    first, last = _range(since, until)
    report = system.read_models.finance(first, last)
    currency = system.settings.policy.currency
    by_day = {row.day: row.house_result for row in report.days if row.currency == currency}
    days = [str(first + timedelta(days=n)) for n in range((last - first).days + 1)]
    chart = daily_chart([(day, by_day.get(day, 0)) for day in days])
    context: dict[str, Any] = {
        "first": first.isoformat(),
        "last": last.isoformat(),
        "currency": currency,
        "chart": chart,
        "days": [row for row in report.days if row.currency == currency],
        "totals": report.totals,
        "pools": pool_rtp(system),
    }
    return render(request, "finance.html", **context)


def _audit_filters(
    actor: str | None,
    subject: str | None,
    action: str | None,
    since: date | None,
    until: date | None,
) -> dict[str, Any]:
    return {
        "actor": actor or None,
        "target": subject or None,
        "action": action or None,
        "since": datetime.combine(since, time(), UTC) if since else None,
        "until": datetime.combine(until + timedelta(days=1), time(), UTC) if until else None,
    }


@get("/audit", sync_to_thread=True, opt={"permission": "audit.read"})
def audit(
    request: Req,
    state: State,
    actor: Text = None,
    subject: Text = None,
    action: Text = None,
    since: Day = None,
    until: Day = None,
    cursor: Cursor = None,
) -> Response[str]:
    """Who did what, to what, and why: newest first, filtered (htmx: the rows only)."""
    filters = _audit_filters(actor, subject, action, since, until)
    try:
        page = state.system.read_models.audit(**filters, cursor=cursor, limit=50)
    except ValueError as error:
        raise ApiError(400, "invalid_cursor", str(error)) from None
    query = {
        "actor": actor or "",
        "subject": subject or "",
        "action": action or "",
        "since": since.isoformat() if since else "",
        "until": until.isoformat() if until else "",
    }
    template = "_audit_rows.html" if is_htmx(request) else "audit.html"
    return render(request, template, rows=page.rows, next_cursor=page.next_cursor, query=query)


@get("/audit.csv", sync_to_thread=True, opt={"permission": "audit.export"})
def audit_csv(
    state: State,
    actor: Text = None,
    subject: Text = None,
    action: Text = None,
    since: Day = None,
    until: Day = None,
) -> Response[str]:
    """The filtered audit log as CSV (every matching row)."""
    filters = _audit_filters(actor, subject, action, since, until)
    return csv_download(state.system.read_models.audit_csv(**filters), "audit.csv")


@get("/config", sync_to_thread=True, opt={"permission": "config.read"})
def settings(request: Req, state: State) -> Response[str]:
    """Every runtime setting: its value in force, its default, how often it changed."""
    return render(request, "config.html", settings=state.system.config.settings())


@get("/config/{key:str}", sync_to_thread=True, opt={"permission": "config.read"})
def setting(request: Req, state: State, key: FromPath[str]) -> Response[str]:
    """One setting and every change of it, newest first, with who, why and which change."""
    system: System = state.system
    view = system.config.setting(key)
    return render(request, "setting.html", s=view, history=system.config.history(key))


ROUTES = [finance, audit, audit_csv, settings, setting]
