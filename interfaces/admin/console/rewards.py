"""Console pages of the reward centre: the missions with a form that proposes a new mission, new
terms or a retirement as a change request (approved and published by another operator on the
change request pages, like the pool editor's), and the marketing budget — funded, spent and
remaining, what each mission paid, the latest grants and refusals. The same use cases and read
models as the operator API's missions, changes and rewards routes."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Response, get, post
from litestar.datastructures import State
from litestar.params import QueryParameter

from domain.changes import ChangeKind
from domain.errors import DomainError
from domain.missions import Cadence, MissionKind
from infrastructure.bootstrap import System
from interfaces.admin.console.changes import propose
from interfaces.admin.console.kit import Form, Req, redirect, refusal, render
from interfaces.admin.security import Staff
from interfaces.problems import ApiError

__all__ = ["ROUTES"]

READ = {"permission": "pools.read"}
WRITE = {"permission": "pools.write"}
REPORTS = {"permission": "finance.read"}
CHANGES = ("create", "change", "retire")  # what the form proposes: mission.<change>
TERMS = ("title", "kind", "target", "cadence", "award", "reward_kind", "reward_minor")
WINDOW = ("starts_at", "ends_at")  # optional, ISO-8601 with a timezone
NUMBERS = ("target", "reward_minor")
RECENT = 20
Edit = Annotated[str | None, QueryParameter(max_length=64)]


def _missions(system: System, **extra: Any) -> dict[str, Any]:
    return {
        "rows": system.read_models.missions(include_retired=True),
        "kinds": [k.value for k in MissionKind],
        "cadences": [c.value for c in Cadence],
        "changes": CHANGES,
        "currency": system.settings.policy.currency,
        "form": {"change": "create"},
        "revision": "",
        "error": None,
        **extra,
    }


def _editing(system: System, mission_key: str) -> dict[str, Any]:
    """The form filled with a mission's terms and the revision they are at."""
    view = system.missions.get(mission_key)
    form = {name: str(getattr(view, name)) for name in TERMS}
    for name in WINDOW:
        moment = getattr(view, name)
        form[name] = moment.isoformat() if moment else ""
    revision = system.changes.revision(ChangeKind.MISSION_CHANGE, mission_key)
    return {"form": {**form, "mission_key": mission_key, "change": "change"}, "revision": revision}


@get("/missions", sync_to_thread=True, opt=READ)
def missions(request: Req, state: State, edit: Edit = None) -> Response[str]:
    """Every mission; ``edit`` fills the proposal form with one mission's terms."""
    system: System = state.system
    extra = _editing(system, edit) if edit else {}
    return render(request, "missions.html", **_missions(system, **extra))


def _payload(change: str, data: dict[str, str]) -> dict[str, Any]:
    """The change request's payload: the mission's terms (nothing to retire it)."""
    if change not in CHANGES:
        raise ApiError(400, "bad_request", "unknown mission change")
    if change == "retire":
        return {}
    payload: dict[str, Any] = {name: data.get(name, "").strip() for name in TERMS}
    for name in NUMBERS:
        if not payload[name].isascii() or not payload[name].isdigit():
            raise ApiError(400, "invalid_number", f"{name} must be a whole number")
        payload[name] = int(payload[name])
    payload |= {name: data[name].strip() for name in WINDOW if data.get(name, "").strip()}
    return payload


@post("/missions/changes", sync_to_thread=True, opt=WRITE)
def draft(request: Req, state: State, caller: Staff, data: Form) -> Response[Any]:
    """Propose a mission, new terms or its retirement (against the revision the form showed)
    and submit it for another operator's approval."""
    system: System = state.system
    change = data.get("change", "")
    try:
        cause = caller.cause(data.get("reason", ""))
        payload = _payload(change, data)
        revision = (data.get("revision") or None) if change != "create" else None
        key = data.get("mission_key", "").strip()
        submitted = propose(system, f"mission.{change}", key, payload, revision, cause)
    except (DomainError, ApiError) as error:
        context = _missions(
            system, error=refusal(request, error), form=data, revision=data.get("revision", "")
        )
        return render(request, "missions.html", 422, **context)
    return redirect(request, f"/changes/{submitted.change_id}")


@get("/rewards", sync_to_thread=True, opt=REPORTS)
def budget(request: Req, state: State) -> Response[str]:
    """The marketing budget (funded, spent, remaining), what each source paid from it, and the
    latest grants and refusals."""
    system: System = state.system
    reads = system.read_models
    context: dict[str, Any] = {
        "budget": system.rewards.budget(),
        "totals": reads.reward_totals(),
        "grants": reads.reward_grants(None, RECENT, None).rows,
        "refusals": reads.reward_refusals(None, RECENT).rows,
    }
    return render(request, "rewards.html", **context)


ROUTES = [missions, draft, budget]
