"""``prizeledger seed-demo`` and what ``prizeledger run`` shows of the demo.

Human output by default (the logins first), ``--json`` for machines (the same report: logins,
pools, draws, withdrawals and how many events this run recorded). Exit 0 ok, 1 a use case
refused a step, 2 the deployment cannot make the demo (no sandbox payment provider).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the System and the seed load when a command runs: the CLI starts fast
    from infrastructure.bootstrap import System
    from ops.demo.seed import DemoReport

__all__ = ["describe", "logins", "on_first_start", "register", "seed_demo"]

log = logging.getLogger("prizeledger.demo")


def register(commands: Any) -> None:
    """Add ``seed-demo`` to the main parser's subcommands."""
    parser = commands.add_parser(
        "seed-demo",
        help=seed_demo.__doc__,
        description="Two operators (admin, finance) with TOTP, four players (one frozen, one "
        "flagged by the risk read model), two pools, sandbox deposits, draws over two fairness "
        "epochs (the first revealed), withdrawals in every review state and operator actions "
        "with reasons, all through the use cases. Running it again replays every request and "
        "records nothing.",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(handler=seed_demo)


def seed_demo(args: argparse.Namespace) -> int:
    """Make realistic demo data through the real use cases and print the logins (idempotent)."""
    from domain.errors import DomainError
    from infrastructure.bootstrap import bootstrap
    from ops.demo.seed import DemoUnavailable, seed

    system = bootstrap()
    try:
        report = seed(system)
        # The console reads the read models: bring them up to date now (a running projector
        # holds their leases and does it instead; nothing is applied twice either way).
        system.projector().catch_up()
    except DemoUnavailable as error:
        print(f"prizeledger seed-demo: {error}", file=sys.stderr)
        return 2
    except DomainError as error:
        print(f"prizeledger seed-demo: {error.code}: {error}", file=sys.stderr)
        return 1
    finally:
        system.close()
    if args.json:
        print(json.dumps({"created": report.created, **asdict(report)}, default=str, indent=2))
    else:
        print(describe(report))
    return 0


def on_first_start(system: System) -> DemoReport | None:
    """What ``prizeledger run`` does before serving: seed an empty store; on a store that holds
    the demo, replay it (creating nothing) to show its logins; leave any other store alone."""
    from domain.errors import DomainError
    from ops.demo.seed import DemoUnavailable, holds_demo, seed

    empty = not system.ledger.recorder.max_notification_id()
    if not empty and not holds_demo(system):
        return None
    try:
        return seed(system)
    except (DemoUnavailable, DomainError) as error:  # the apps still start, without the demo
        log.warning("no demo data: %s", error)
        return None


def describe(report: DemoReport) -> str:
    """The report for people: what happened, then the logins."""
    if report.created:
        head = f"demo data created ({report.new_events} events)"
    else:
        head = "demo data already present: nothing new recorded"
    states = ", ".join(f"{w.name} {w.state}" for w in report.withdrawals)
    body = [
        head,
        f"pools: {', '.join(report.pools)}; {len(report.draws)} draw requests",
        f"withdrawals: {states}",
        logins(report),
    ]
    return "\n".join(body)


def logins(report: DemoReport) -> str:
    """The demo's e-mails, passwords and TOTP secrets (operators sign in with a code)."""
    lines = ["operator console logins (password, then a code from an authenticator app):"]
    for op in report.operators:
        lines.append(f"  {op.email}  password: {op.password}  roles: {', '.join(op.roles)}")
        lines.append(f"    TOTP secret: {op.totp_secret}  ({op.duty})")
        lines.append(f"    {op.otpauth_uri}")
    lines.append("player logins:")
    for player in report.players:
        lines.append(f"  {player.email}  password: {player.password}  ({player.story})")
        if player.totp_secret:
            lines.append(f"    TOTP secret (large withdrawals): {player.totp_secret}")
    return "\n".join(lines)
