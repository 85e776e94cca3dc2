"""Structured JSON logs on stderr, each line carrying the id of the request it belongs to."""

from __future__ import annotations

import logging
import math
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import msgspec

__all__ = ["JsonFormatter", "configure_logging", "request_id_var"]

request_id_var: ContextVar[str] = ContextVar("request_id", default="")

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
# What JSON has no type for (an exception, a path, a Decimal passed in ``extra``) goes as str().
_ENCODER = msgspec.json.Encoder(enc_hook=str)


class JsonFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        # The timestamp up to the second, for the second it was made for: every request's line
        # needs one, and most lines of a second share it.
        self._second = -1
        self._second_text = ""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": self._timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            line["request_id"] = request_id
        fields = record.__dict__
        # What ``extra`` added: the record's attributes less the standard ones (a set
        # difference instead of a test per attribute), sorted so that every process writes
        # them in the same order.
        for key in sorted(fields.keys() - _STANDARD):
            if not key.startswith("_"):
                line[key] = fields[key]
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return _ENCODER.encode(line).decode()

    def _timestamp(self, created: float) -> str:
        """``datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")``: rounded
        to the microsecond as datetime does, then cut to the millisecond."""
        fraction, whole = math.modf(created)
        second, micros = int(whole), round(fraction * 1_000_000)
        if micros >= 1_000_000:
            second, micros = second + 1, micros - 1_000_000
        if second != self._second:
            at = datetime.fromtimestamp(second, UTC)
            self._second, self._second_text = second, at.isoformat(timespec="seconds")[:-6]
        return f"{self._second_text}.{micros // 1000:03d}+00:00"


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on stderr for the root logger (idempotent)."""
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.handlers = [handler]
    root.setLevel(level)
    # The JSON line has no thread or process names: don't look them up for every record.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
