"""The ``prizeledger`` command. It starts without importing the web apps (they load by name).

Exit codes: 0 ok, 1 a check failed, 2 usage error.
"""

from __future__ import annotations

import argparse
import getpass
import importlib
import json
import logging
import os
import signal
import sys
import threading
import uuid
from collections.abc import Sequence
from dataclasses import asdict

from ops.audit.cli import register as register_audit_commands
from ops.demo.cli import register as register_demo_commands

__all__ = ["main"]


def _run(args: argparse.Namespace) -> int:
    """Run the embedded all-in-one system (SQLite + in-memory stand-ins unless configured):
    the player app and the operator app in one process, sharing one System. An empty store
    gets the demo data first; the demo's logins are printed after the two URLs."""
    from infrastructure.bootstrap import bootstrap
    from ops.demo.cli import logins, on_first_start

    system = bootstrap()
    try:
        demo = on_first_start(system)
    finally:
        system.close()  # the apps build their own (one System per process, in serve)
    print(f"prizeledger player app: http://{args.host}:{args.port}/", flush=True)
    print(
        f"prizeledger operator console: http://{args.admin_host}:{args.admin_port}/",
        flush=True,
    )
    if demo is not None:
        print(logins(demo), flush=True)
    # By name: the CLI does not import the web apps (import-linter contract).
    serve = importlib.import_module("interfaces.serve").serve
    serve(args.host, args.port, args.admin_host, args.admin_port)
    return 0


def _api(args: argparse.Namespace) -> int:
    """Run the player app alone (production: several workers behind the reverse proxy; the
    projector runs as its own process)."""
    import uvicorn

    from infrastructure.settings import Settings

    if args.workers > 1 and Settings.from_env().embedded:
        print(
            "prizeledger api: the embedded SQLite store takes one process; set DATABASE_URL"
            " for more workers",
            file=sys.stderr,
        )
        return 2
    print(f"prizeledger player app: http://{args.host}:{args.port}/", flush=True)
    uvicorn.run(
        "interfaces.player.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        # uvloop and httptools: the C event loop and HTTP parser (about a third less CPU per
        # request than asyncio + h11); named, not "auto", so a missing one fails at start.
        loop="uvloop",
        http="httptools",
        log_level="info",
        timeout_graceful_shutdown=args.graceful_s,
    )
    return 0


def _admin(args: argparse.Namespace) -> int:
    """Run the operator app alone (its own process and port; keep it off the public network)."""
    import uvicorn

    print(
        f"prizeledger operator console: http://{args.admin_host}:{args.admin_port}/",
        flush=True,
    )
    uvicorn.run(
        "interfaces.admin.app:create_admin_app",
        factory=True,
        host=args.admin_host,
        port=args.admin_port,
        log_level="info",
    )
    return 0


def _read_password(args: argparse.Namespace) -> str | None:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        return None
    first = getpass.getpass("password: ")
    return first if getpass.getpass("again: ") == first else None


def _read_code(args: argparse.Namespace) -> str:
    """A code from the authenticator app: prompted on a terminal, else the next stdin line
    (none: TOTP stays pending and the operator enrols it at the first sign-in)."""
    if args.password_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().strip()
    return input("code from the authenticator app: ").strip()


def _operators_create(args: argparse.Namespace) -> int:
    """Create an operator (the first admin, say). Prints the TOTP secret and its otpauth://
    URI, reads a code from the authenticator app, then prints the recovery codes: once."""
    from domain.cause import Cause
    from domain.errors import DomainError
    from infrastructure.bootstrap import bootstrap

    password = _read_password(args)
    if not password:
        print("prizeledger operators create: no password (--password-stdin, or type it twice)")
        return 2
    system = bootstrap()
    operators = system.operators

    def cause() -> Cause:
        return Cause("system:cli", f"cli-{uuid.uuid4().hex}", "operators create")

    try:
        view = operators.create(args.email, password, args.role, cause())
        enrolment = operators.start_totp(view.operator_id, cause())
        print(f"operator {view.email} ({view.operator_id}), roles {', '.join(view.roles)}")
        print(f"TOTP secret: {enrolment.secret}")
        print(f"provisioning URI: {enrolment.provisioning_uri}", flush=True)
        code = _read_code(args)
        if not code:
            print("TOTP not enabled: the operator enrols it at the first sign-in")
            return 0
        issued = operators.enable_totp(view.operator_id, code, cause())
    except DomainError as error:
        print(f"prizeledger operators create: {error.code}: {error.message}", file=sys.stderr)
        return 1
    finally:
        system.close()
    print("TOTP enabled. Recovery codes (shown once; each signs in once instead of a code):")
    for recovery in issued.codes:
        print(f"  {recovery}")
    return 0


def _migrate(args: argparse.Namespace) -> int:
    """Create or update the event store, every read model and the outboxes (idempotent: a
    second run creates nothing)."""
    from infrastructure.migrate import migrate

    done = migrate()
    if args.json:
        print(json.dumps(asdict(done), indent=2))
        return 0
    print(f"event store and read models ready ({done.where}): {len(done.tables)} tables")
    print(f"created: {', '.join(done.created)}" if done.created else "nothing to create")
    for stale in done.behind:
        print(f"read model behind the code ({stale}): prizeledger projections rebuild NAME")
    return 0


def _projector(args: argparse.Namespace) -> int:
    """Run projections until SIGTERM/SIGINT: catch up in batches, then follow new events.
    Also delivers the notification outbox, expires stale requests and auto-freezes risky
    players (the sweeper), and, with Redis, publishes live updates."""
    from infrastructure.bootstrap import bootstrap
    from infrastructure.heap import settle_projector_heap

    system = bootstrap()
    try:
        projector = system.projector(args.names or None, batch_size=args.batch)
    except ValueError as error:
        print(f"prizeledger projector: {error}", file=sys.stderr)
        system.close()
        return 2
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    workers = [threading.Thread(target=projector.run, args=(stop,), name="projector")]
    if not args.no_mail:  # safe in every projector process: workers claim different rows
        workers.append(threading.Thread(target=system.notifier().run, args=(stop,), name="mail"))
    # The reward centre grants what its read model says is due (idempotent: safe anywhere).
    granter = system.reward_granter()
    workers.append(threading.Thread(target=granter.run, args=(stop,), name="rewards"))
    if not args.no_sweep:  # one sweeper per deployment acts (a lease); the others stand by
        workers.append(threading.Thread(target=system.sweeper().run, args=(stop,), name="sweep"))
    # Live updates reach the API processes through Redis only (embedded, the app runs its own
    # feed); one feed per deployment publishes, the others wait for its advisory lock.
    settings = system.settings
    live = not (args.no_live or settings.embedded or settings.redis_url is None)
    feed = system.live_feed() if live else None
    # Start-up is done: what it made lives as long as the process (the catch-up's pages are
    # freed by reference counting; see infrastructure.heap).
    settle_projector_heap()
    for worker in workers:
        worker.start()
    if feed is not None:
        feed.start()
    while not stop.wait(args.report_every):
        for status in projector.status():
            logging.getLogger("prizeledger.projector").info(json.dumps(asdict(status)))
    for worker in workers:
        worker.join()
    if feed is not None:
        feed.stop()
    system.close()
    return 0


def _status(args: argparse.Namespace) -> int:
    """Position, lag, state and last error of every projection (exit 1 if one failed or lags)."""
    from infrastructure.bootstrap import bootstrap

    system = bootstrap()
    rows = system.projector().status()
    system.close()
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=2))
    else:
        for r in rows:
            error = f"  {r.last_error}" if r.last_error else ""
            print(
                f"{r.name:<16} v{r.version}  {r.state:<8} position {r.position:>10}"
                f"  lag {r.lag:>8}{error}"
            )
    return 1 if any(r.lag > args.max_lag or r.state == "failed" for r in rows) else 0


def _rebuild(args: argparse.Namespace) -> int:
    """Project NAME into a new version from the start while the old one serves, then switch."""
    from infrastructure.bootstrap import bootstrap
    from infrastructure.rebuild import RebuildFailed, rebuild

    system = bootstrap()
    tty = sys.stderr.isatty()

    def progress(position: int, head: int) -> None:
        if tty:
            print(f"\r{args.name}: {position}/{head}", end="", file=sys.stderr, flush=True)

    try:
        version = rebuild(system.ledger, system.read_store, args.name, progress)
    except ValueError as error:
        print(f"prizeledger projections rebuild: {error}", file=sys.stderr)
        return 2
    except RebuildFailed as error:
        print(f"prizeledger projections rebuild: {error}", file=sys.stderr)
        return 1
    finally:
        system.close()
    if tty:
        print(file=sys.stderr)
    print(f"{args.name}: version {version} is now active")
    return 0


def _bench(args: argparse.Namespace) -> int:
    """Every benchmark side by side on DATABASE_URL and REDIS_URL: prizeledger vs a row-lock
    baseline, HTTP, projections, verify, memory, growth; one JSON report (exit 1 unless ok)."""
    from ops.bench.suite import run

    return run(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="prizeledger",
        description="Event-sourced reward ledger. Without DATABASE_URL it uses the embedded "
        "SQLite store under PRIZELEDGER_DATA_DIR (default ./var).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help=_run.__doc__)
    _player_address(run)
    _admin_address(run)
    run.set_defaults(handler=_run)
    api = commands.add_parser("api", help=_api.__doc__)
    _player_address(api)
    api.add_argument("--workers", type=int, default=1, help="worker processes (Postgres only)")
    api.add_argument(
        "--graceful-s", type=int, default=10, help="seconds open requests get on SIGTERM"
    )
    api.set_defaults(handler=_api)
    admin = commands.add_parser("admin", help=_admin.__doc__)
    _admin_address(admin)
    admin.set_defaults(handler=_admin)
    operators = commands.add_parser("operators", help="manage operator accounts")
    staff = operators.add_subparsers(dest="action", required=True)
    create = staff.add_parser("create", help=_operators_create.__doc__)
    create.add_argument("--email", required=True)
    create.add_argument(
        "--role",
        action="append",
        required=True,
        help="viewer, support, risk, finance or admin (repeat for several)",
    )
    create.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin (and the TOTP code from the next)",
    )
    create.set_defaults(handler=_operators_create)
    migrate = commands.add_parser("migrate", help=_migrate.__doc__)
    migrate.add_argument("--json", action="store_true")
    migrate.set_defaults(handler=_migrate)
    register_demo_commands(commands)  # seed-demo
    projector = commands.add_parser("projector", help=_projector.__doc__)
    projector.add_argument("names", nargs="*", help="projections to run (default: all)")
    projector.add_argument(  # infrastructure.projector.BATCH_SIZE (not imported to parse)
        "--batch", type=int, default=4_000, help="events per transaction (default 4,000)"
    )
    projector.add_argument(
        "--report-every", type=float, default=10.0, help="seconds between status log lines"
    )
    projector.add_argument("--no-mail", action="store_true", help="do not deliver the outbox")
    projector.add_argument("--no-live", action="store_true", help="do not publish live updates")
    projector.add_argument(
        "--no-sweep", action="store_true", help="do not expire requests nor auto-freeze"
    )
    projector.set_defaults(handler=_projector)
    projections = commands.add_parser("projections", help="inspect or rebuild read models")
    sub = projections.add_subparsers(dest="action", required=True)
    status = sub.add_parser("status", help=_status.__doc__)
    status.add_argument("--json", action="store_true")
    status.add_argument("--max-lag", type=int, default=10_000, help="lag that counts as failed")
    status.set_defaults(handler=_status)
    rebuild = sub.add_parser("rebuild", help=_rebuild.__doc__)
    rebuild.add_argument("name")
    rebuild.set_defaults(handler=_rebuild)
    register_audit_commands(commands)  # verify, verify-draw, replay, events, export
    bench = commands.add_parser("bench", help=_bench.__doc__)
    bench.add_argument("--quick", action="store_true", help="short windows, 100,000 events")
    bench.add_argument("--json", action="store_true", help="the JSON report on stdout")
    bench.set_defaults(handler=_bench)
    return parser


def _player_address(parser: argparse.ArgumentParser) -> None:
    env = os.environ
    parser.add_argument("--host", default=env.get("PRIZELEDGER_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env.get("PRIZELEDGER_PORT", "8000")))


def _admin_address(parser: argparse.ArgumentParser) -> None:
    env = os.environ
    parser.add_argument("--admin-host", default=env.get("PRIZELEDGER_ADMIN_HOST", "127.0.0.1"))
    parser.add_argument(
        "--admin-port", type=int, default=int(env.get("PRIZELEDGER_ADMIN_PORT", "8001"))
    )


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=os.environ.get("PRIZELEDGER_LOG_LEVEL", "INFO"),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    args = build_parser().parse_args(argv)
    result: int = args.handler(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
