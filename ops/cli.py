"""The ``prizeledger`` command. It starts without importing the web apps (they load by name)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _run(args: argparse.Namespace) -> int:
    """Run the embedded all-in-one system (SQLite + in-memory stand-ins unless configured)."""
    import uvicorn

    print(f"prizeledger player app: http://{args.host}:{args.port}/health/ready", flush=True)
    uvicorn.run(
        "interfaces.player.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        log_level="info",
    )
    return 0


def _migrate(_: argparse.Namespace) -> int:
    """Create the event store tables (idempotent)."""
    from infrastructure.bootstrap import bootstrap

    system = bootstrap()
    system.close()
    where = "embedded SQLite" if system.settings.embedded else "Postgres"
    print(f"event store ready ({where})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="prizeledger",
        description="Event-sourced reward ledger. Without DATABASE_URL it uses the embedded "
        "SQLite store under PRIZELEDGER_DATA_DIR (default ./var).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help=_run.__doc__)
    run.add_argument("--host", default=os.environ.get("PRIZELEDGER_HOST", "127.0.0.1"))
    run.add_argument("--port", type=int, default=int(os.environ.get("PRIZELEDGER_PORT", "8000")))
    run.set_defaults(handler=_run)
    migrate = commands.add_parser("migrate", help=_migrate.__doc__)
    migrate.set_defaults(handler=_migrate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.handler(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
