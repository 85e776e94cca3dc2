"""The JSON log line: its timestamp is exactly what ``datetime.isoformat`` gives (the formatter
keeps the second's text and adds the milliseconds), the request id and every ``extra`` field
are on it, in the same order in every process."""

from __future__ import annotations

import json
import logging
import random
from datetime import UTC, datetime

from infrastructure.logs import JsonFormatter, request_id_var


def test_the_timestamp_is_datetimes_to_the_millisecond() -> None:
    formatter = JsonFormatter()
    rng = random.Random(7)
    whole = [rng.randint(1_600_000_000, 1_900_000_000) for _ in range(2_000)]
    # Fractions half a microsecond below each millisecond's end, and at a second's edges:
    # where rounding to the microsecond decides the millisecond (or the second).
    edges = [m / 1000 + 0.0009995 for m in range(1000)] + [0.0, 0.9999995, 0.9999994]
    created = [w + rng.random() for w in whole] + [w + e for w in whole[:20] for e in edges]

    for at in created:
        expected = datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")
        assert formatter._timestamp(at) == expected, at


def test_a_line_has_the_request_id_and_the_extra_fields_sorted() -> None:
    logger = logging.getLogger("prizeledger.test")
    record = logger.makeRecord(
        logger.name,
        logging.INFO,
        __file__,
        0,
        "%s %s",
        ("GET", "/x"),
        None,
        extra={"status": 200, "route": "/x", "ms": 1.5, "_private": 1},
    )
    token = request_id_var.set("r-1")
    try:
        text = JsonFormatter().format(record)
    finally:
        request_id_var.reset(token)

    line = json.loads(text)
    assert line["msg"] == "GET /x"
    assert line["request_id"] == "r-1"
    assert line["ts"] == datetime.fromtimestamp(record.created, UTC).isoformat(
        timespec="milliseconds"
    )
    assert list(line)[-3:] == ["ms", "route", "status"]
    assert "_private" not in line
