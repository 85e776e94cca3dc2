"""The auditor's subcommands of ``prizeledger``: verify, verify-draw, replay, events tail,
export. ``register`` adds them to the main parser; each command's module is imported only when
it runs, so the CLI stays quick to start.

Human output by default, ``--json`` for machines; logs and progress on stderr; exit codes
0 ok, 1 a check failed, 2 usage error. Every command reads the store named by the environment
(``DATABASE_URL`` selects Postgres) through the composition root, and writes nothing to it.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from typing import Any

from ops.audit.rules import RULES

__all__ = ["EXPORT_KINDS", "REPLAY_KINDS", "TAIL_LAST", "register"]

REPLAY_KINDS = ["account", "deposit", "draw", "pool", "wallet", "withdrawal"]
EXPORT_KINDS = {
    "audit": "operator actions and security-relevant events (audit.csv)",
    "postings": "every posting of every event (postings.csv)",
    "draws": "draw requests (draws.csv) and each draw's fairness trace (draw_results.csv)",
    "finance": "money in and out per UTC day, currency and pool (finance.csv)",
}
TAIL_LAST = 20


def _lazy(target: str) -> Callable[[argparse.Namespace], int]:
    """The handler ``module:function``, imported when the command runs."""
    module, _, function = target.partition(":")

    def handler(args: argparse.Namespace) -> int:
        result: int = getattr(importlib.import_module(module), function)(args)
        return result

    return handler


def _verify(commands: Any) -> None:
    checks = "; ".join(f"{name}: {rule}" for name, rule in RULES.items())
    parser = commands.add_parser(
        "verify",
        help="check every double-entry invariant on the raw events, then every read model"
        " against them (exit 1 on any violation)",
        description="Reads the raw event store without the read models and checks: "
        f"{checks}. The fold always starts at notification 1 (balances need the whole"
        " history); read models are compared at their own tracked positions, and their lag is"
        " reported rather than counted as a mismatch.",
    )
    parser.add_argument(
        "--from", dest="first", type=int, default=1, metavar="N",
        help="report findings about notifications from N on (default 1)",
    )  # fmt: skip
    parser.add_argument(
        "--to", dest="last", type=int, default=None, metavar="N",
        help="fold up to notification N (default: the head when the audit starts)",
    )  # fmt: skip
    parser.add_argument(
        "--show",
        type=int,
        default=10,
        metavar="N",
        help="offending events listed per check (default 10)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON report on stdout")
    parser.set_defaults(handler=_lazy("ops.audit.verify:run"))


def _verify_draw(commands: Any) -> None:
    parser = commands.add_parser(
        "verify-draw",
        help="recompute draws from the revealed server seed, client seed, nonce and weights in"
        " their traces",
        description="Recomputes each draw's outcome from its epoch's revealed server seed and"
        " its trace. Exit 1 if one does not match, or if a single DRAW_ID's epoch is not"
        " revealed yet; with --all, draws of an unrevealed epoch are counted as pending and do"
        " not fail the run.",
    )
    parser.add_argument("draw_id", nargs="?", metavar="DRAW_ID", help="one draw's id")
    parser.add_argument("--all", action="store_true", help="every draw of --pool")
    parser.add_argument("--pool", metavar="P", help="the pool key (with --all)")
    parser.add_argument("--epoch", type=int, metavar="E", help="only draws of epoch E")
    parser.add_argument("--verbose", action="store_true", help="with --all, list every draw")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.set_defaults(handler=_lazy("ops.audit.draw_proofs:run"))


def _replay(commands: Any) -> None:
    parser = commands.add_parser(
        "replay",
        help="an aggregate's state at a version or time, folded from its raw events",
        description="Folds the aggregate's own events (no snapshot, no cache). ID is its UUID,"
        " or a player id (wallet), a pool key (pool) or an e-mail address (account). Secrets"
        " (a pool's unrevealed server seed, password and token hashes, TOTP secrets) are shown"
        " as <secret>.",
    )
    parser.add_argument("kind", choices=REPLAY_KINDS)
    parser.add_argument("id", metavar="ID")
    at = parser.add_mutually_exclusive_group()
    at.add_argument(
        "--as-of", metavar="ISO_TIME",
        help="after the last event at or before this time (no offset: UTC)",
    )  # fmt: skip
    at.add_argument("--to-version", type=int, metavar="N", help="at version N")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.set_defaults(handler=_lazy("ops.audit.replay:run"))


def _events(commands: Any) -> None:
    events = commands.add_parser("events", help="read the raw notification log")
    actions = events.add_subparsers(dest="action", required=True)
    parser = actions.add_parser(
        "tail",
        help="print notifications (id, event, aggregate, version, decoded attributes)",
        description="Prints notifications with their decoded attributes; secrets (a pool's"
        f" unrevealed server seed, hashes, TOTP secrets) are hidden. Without --from: the last"
        f" --limit (default {TAIL_LAST}), then with --follow everything new. With --from N:"
        " from N on, at most --limit in all (with or without --follow).",
    )
    parser.add_argument("--from", dest="first", type=int, metavar="N", help="first notification")
    parser.add_argument("--limit", type=int, metavar="N", help="how many to print at most")
    parser.add_argument("--follow", action="store_true", help="wait for new notifications")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.set_defaults(handler=_lazy("ops.audit.tail:run"))


def _export(commands: Any) -> None:
    parser = commands.add_parser("export", help="CSV exports with a manifest, and their check")
    kinds = parser.add_subparsers(dest="kind", required=True)
    for kind, what in EXPORT_KINDS.items():
        sub = kinds.add_parser(
            kind,
            help=what,
            description=f"Writes {what} for the events whose timestamp is in [--from, --to),"
            " plus trial_balance.csv (the postings of those events per account) and"
            " manifest.json (rows and SHA-256 of each file, notification ids scanned and"
            " included, trial-balance totals). Amounts are integers in minor units.",
        )
        sub.add_argument(
            "--from", dest="since", metavar="ISO",
            help="events at or after this time (no offset: UTC; default: the first)",
        )  # fmt: skip
        sub.add_argument(
            "--to", dest="until", metavar="ISO",
            help="events before this time (no offset: UTC; default: up to the head)",
        )  # fmt: skip
        sub.add_argument(
            "--format", choices=["csv", "parquet"], default="csv",
            help="csv (default) or parquet (the data files; trial_balance stays csv)",
        )  # fmt: skip
        sub.add_argument(
            "--out", required=True, metavar="DIR",
            help="where to write (created if missing; refused if it already holds an export)",
        )  # fmt: skip
        sub.add_argument("--json", action="store_true", help="print the manifest as JSON")
        sub.set_defaults(handler=_lazy("ops.audit.export:run_export"))
    check = kinds.add_parser(
        "verify",
        help="re-read an export and check it against its manifest (exit 1 on a mismatch)",
        description="Checks each file's presence, row count and SHA-256 against manifest.json,"
        " the trial balance against the manifest's totals, and that the postings (postings"
        " exports) sum to the trial balance.",
    )
    check.add_argument("dir", metavar="DIR")
    check.add_argument("--json", action="store_true", help="one JSON document on stdout")
    check.set_defaults(handler=_lazy("ops.audit.export:run_verify"))


def register(commands: Any) -> None:
    """Add the auditor's commands to ``prizeledger``'s subparsers."""
    for add in (_verify, _verify_draw, _replay, _events, _export):
        add(commands)
