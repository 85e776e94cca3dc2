"""Runtime settings: their values now (with each one's ETag) and each one's history. They change
only through ``config.set`` change requests (/changes), never here."""

from __future__ import annotations

from datetime import datetime

import msgspec
from litestar import Router, get
from litestar.datastructures import State
from litestar.params import FromPath
from litestar.response import Response

from application.config import SettingView
from interfaces.admin.pools import etag_of

__all__ = ["router"]

READ = {"permission": "config.read"}


class SettingOut(msgspec.Struct, frozen=True):
    key: str
    type: str  # bool | amount_minor | per_minute
    description: str
    value: bool | int
    default: bool | int  # the deployment's (environment) value, until an operator changes it
    version: int  # how many times operators changed it
    revision: str  # the ETag: send it as If-Match when drafting a config.set


class SettingChangeOut(msgspec.Struct, frozen=True):
    version: int
    value: bool | int
    previous: bool | int
    change_id: str  # the change request that set it
    actor: str
    reason: str
    request_id: str
    at: datetime


def _out(view: SettingView) -> SettingOut:
    return SettingOut(
        key=view.key,
        type=view.type,
        description=view.description,
        value=view.value,
        default=view.default,
        version=view.version,
        revision=view.revision,
    )


@get("/config", sync_to_thread=True, opt=READ)
def list_settings(state: State) -> list[SettingOut]:
    """Every runtime setting with its value in force, its default and its ETag."""
    return [_out(view) for view in state.system.config.settings()]


@get("/config/{key:str}", sync_to_thread=True, opt=READ)
def get_setting(state: State, key: FromPath[str]) -> Response[SettingOut]:
    """One setting; the ETag header is what a ``config.set`` draft sends as If-Match."""
    view = state.system.config.setting(key)
    return Response(_out(view), headers={"ETag": etag_of(view.revision)})


@get("/config/{key:str}/history", sync_to_thread=True, opt=READ)
def setting_history(state: State, key: FromPath[str]) -> list[SettingChangeOut]:
    """Every change of the setting, newest first, with who changed it, why, and through which
    change request."""
    return [
        SettingChangeOut(
            version=c.version,
            value=c.value,
            previous=c.previous,
            change_id=c.change_id,
            actor=c.actor,
            reason=c.reason,
            request_id=c.request_id,
            at=c.at,
        )
        for c in state.system.config.history(key)
    ]


router = Router("/", route_handlers=[list_settings, get_setting, setting_history], tags=["config"])
