"""Request and response shapes that several operator routers share: a reason-only body,
keyset-paginated listings, and ids in paths."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable, Sequence
from typing import Annotated, Any

import msgspec
from litestar.params import QueryParameter
from litestar.response import Response

from interfaces.problems import ApiError

__all__ = ["Cursor", "Limit", "Listing", "ReasonBody", "csv_download", "csv_text", "uuid_of"]

Cursor = Annotated[str | None, QueryParameter(max_length=64, description="next_cursor of a page")]
Limit = Annotated[int, QueryParameter(ge=1, le=500)]


class ReasonBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    reason: str = ""  # required (400 reason_required): the audit log keeps it


class Listing(msgspec.Struct, frozen=True):
    rows: list[Any]
    next_cursor: str | None  # pass as ``cursor`` for the next page; None: no more


def uuid_of(value: str, what: str) -> uuid.UUID:
    """A path id, or 404 (a malformed id names nothing)."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ApiError(404, "not_found", f"{what} {value} not found") from None


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """CSV with a header row first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def csv_download(text: str, name: str) -> Response[str]:
    """CSV text as a download named ``name``."""
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
