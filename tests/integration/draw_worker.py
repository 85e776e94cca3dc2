"""A second OS process drawing the same pool (used by test_draw_concurrency).

Prints one JSON line: {"acknowledged": [draw ids], "conflicts": n, "errors": n}.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time

from application.errors import ConcurrencyConflict
from domain.cause import Cause
from infrastructure.bootstrap import bootstrap
from infrastructure.settings import Settings


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--schema", required=True)
    parser.add_argument("--pool", required=True)
    parser.add_argument("--players", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    args = parser.parse_args()
    system = bootstrap(Settings(database_url=args.url, schema=args.schema, pool_size=4))
    rng = random.Random(7)
    acknowledged: list[str] = []
    conflicts = errors = 0
    stop_at = time.monotonic() + args.seconds
    n = 0
    while time.monotonic() < stop_at:
        n += 1
        player = f"player-{rng.randrange(args.players)}"
        try:
            outcome = system.draws.draw(
                player, args.pool, rng.randint(1, 3), Cause(f"player:{player}", f"proc2-{n}")
            )
            acknowledged.append(outcome.draw_id)
        except ConcurrencyConflict:
            conflicts += 1
        except Exception:  # reported, and the test fails on any
            errors += 1
    system.close()
    print(json.dumps({"acknowledged": acknowledged, "conflicts": conflicts, "errors": errors}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
