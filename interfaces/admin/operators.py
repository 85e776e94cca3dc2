"""Managing operators (``operators.manage``): list, create, roles, disable/enable, force
logout. The sign-in routes (``interfaces.admin.auth``) come with this router."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Router, get, post, put
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody

from interfaces.admin import auth
from interfaces.admin.auth import Email, OperatorOut, Password, operator_out
from interfaces.admin.security import Staff

__all__ = ["router"]

Role = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
MANAGE = {"permission": "operators.manage"}
MANAGE_STEP_UP = {"permission": "operators.manage", "step_up": True}


class CreateOperatorBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    email: Email
    password: Password
    roles: Annotated[list[Role], msgspec.Meta(min_length=1, max_length=5)]
    reason: str = ""


class RolesBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    roles: Annotated[list[Role], msgspec.Meta(min_length=1, max_length=5)]
    reason: str = ""


class ReasonBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    reason: str = ""


class LoggedOut(msgspec.Struct, frozen=True):
    status: str
    sessions_ended: list[str]


@get("/operators", sync_to_thread=True, opt=MANAGE)
def list_operators(state: State) -> list[OperatorOut]:
    """Every operator, in the order they were created."""
    return [operator_out(v) for v in state.system.operators.operators()]


@get("/operators/{operator_id:str}", sync_to_thread=True, opt=MANAGE)
def get_operator(state: State, operator_id: FromPath[str]) -> OperatorOut:
    """One operator."""
    return operator_out(state.system.operators.operator(operator_id))


@post("/operators", sync_to_thread=True, status_code=201, opt=MANAGE_STEP_UP)
def create_operator(state: State, caller: Staff, data: JSONBody[CreateOperatorBody]) -> OperatorOut:
    """Create an operator (needs X-TOTP-Code). They enrol TOTP at their first sign-in."""
    view = state.system.operators.create(
        data.email, data.password, list(data.roles), caller.cause(data.reason)
    )
    return operator_out(view)


@put("/operators/{operator_id:str}/roles", sync_to_thread=True, opt=MANAGE_STEP_UP)
def change_roles(
    state: State, caller: Staff, operator_id: FromPath[str], data: JSONBody[RolesBody]
) -> OperatorOut:
    """Give another operator these roles (needs X-TOTP-Code; never your own)."""
    view = state.system.operators.change_roles(
        operator_id, list(data.roles), caller.cause(data.reason)
    )
    return operator_out(view)


@post(
    "/operators/{operator_id:str}/disable",
    sync_to_thread=True,
    status_code=200,
    opt=MANAGE_STEP_UP,
)
def disable_operator(
    state: State, caller: Staff, operator_id: FromPath[str], data: JSONBody[ReasonBody]
) -> OperatorOut:
    """Disable another operator (needs X-TOTP-Code): no sign-in, every session ends now."""
    return operator_out(state.system.operators.disable(operator_id, caller.cause(data.reason)))


@post(
    "/operators/{operator_id:str}/enable",
    sync_to_thread=True,
    status_code=200,
    opt=MANAGE_STEP_UP,
)
def enable_operator(
    state: State, caller: Staff, operator_id: FromPath[str], data: JSONBody[ReasonBody]
) -> OperatorOut:
    """Let a disabled operator sign in again (needs X-TOTP-Code)."""
    return operator_out(state.system.operators.enable(operator_id, caller.cause(data.reason)))


@post("/operators/{operator_id:str}/force-logout", sync_to_thread=True, status_code=200, opt=MANAGE)
def force_logout(
    state: State, caller: Staff, operator_id: FromPath[str], data: JSONBody[ReasonBody]
) -> LoggedOut:
    """End every open session of an operator at once (a stolen laptop, say)."""
    ended = state.system.operators.force_logout(operator_id, caller.cause(data.reason))
    return LoggedOut("signed_out", ended)


router = Router(
    "/",
    route_handlers=[
        auth.router,
        list_operators,
        get_operator,
        create_operator,
        change_roles,
        disable_operator,
        enable_operator,
        force_logout,
    ],
    tags=["operators"],
)
