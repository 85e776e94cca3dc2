"""Console page: the dashboard — today's money (deposits, withdrawals, draw revenue, house
result, from the finance read model), the reviews waiting, and how far each read model lags."""

from __future__ import annotations

from typing import Any

from litestar import Response, get
from litestar.datastructures import State

from infrastructure.bootstrap import System
from interfaces.admin.console.kit import Req, render, today
from interfaces.admin.security import Staff, StaffCaller

__all__ = ["ROUTES"]

QUEUE_PEEK = 100  # "100+" beyond this: the dashboard counts, the queues list


def _pending(system: System, caller: StaffCaller) -> dict[str, int | None]:
    rm = system.read_models
    if "finance.read" not in caller.permissions:
        return {"withdrawals": None, "deposits": None}
    return {
        "withdrawals": len(rm.withdrawals("requested", None, None, QUEUE_PEEK).rows),
        "deposits": len(rm.deposits("provider_succeeded", None, None, QUEUE_PEEK).rows),
    }


@get("/dashboard", sync_to_thread=True, opt={"signed_in": True})
def dashboard(request: Req, state: State, caller: Staff) -> Response[str]:
    """Today (UTC) at a glance; money only for operators who may read finance."""
    system: System = state.system
    day = today()
    context: dict[str, Any] = {
        "today": day.isoformat(),
        "totals": system.read_models.finance(day, day).totals
        if "finance.read" in caller.permissions
        else None,
        "pending": _pending(system, caller),
        "projections": system.projection_status(),
        "peek": QUEUE_PEEK,
    }
    return render(request, "dashboard.html", **context)


ROUTES = [dashboard]
