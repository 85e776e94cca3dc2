"""``prizeledger run``: the player app and the operator app in one process, around ONE System.

The embedded store is a SQLite file: two processes writing it would each keep their own
aggregate cache and fight over its lock, so both apps share one System (and one set of
embedded workers, run by the player app) and are served by two uvicorn servers on one event
loop, each on its own port. The CLI starts this module by name (it may not import the apps).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator

import uvicorn
import uvloop

from infrastructure.bootstrap import bootstrap
from interfaces.admin.app import create_admin_app
from interfaces.player.app import create_app

__all__ = ["serve"]


class _Server(uvicorn.Server):
    """A server that leaves the signals to ``serve`` (two servers would each take over the
    handlers and re-raise the signal the other already handled)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def serve(player_host: str, player_port: int, admin_host: str, admin_port: int) -> None:
    """Serve both apps until SIGINT/SIGTERM; when one server stops, the other stops too."""
    system = bootstrap()
    player = create_app(system)  # runs the embedded workers and closes the System at the end
    admin = create_admin_app(system, run_workers=False)
    servers = [
        _Server(
            uvicorn.Config(
                app, host=host, port=port, http="httptools", loop="uvloop", log_level="info"
            )
        )
        for app, host, port in ((player, player_host, player_port), (admin, admin_host, admin_port))
    ]
    # The loop is ours, not uvicorn's (two servers share it): uvloop, as ``prizeledger api``.
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(_serve_all(servers))


async def _serve_all(servers: list[_Server]) -> None:
    def stop(*_: object) -> None:
        for server in servers:
            server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    tasks = [asyncio.create_task(server.serve()) for server in servers]
    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    stop()  # one stopped (a port in use, say): stop the other as well
    await asyncio.gather(*tasks)
    for task in done:
        task.result()
