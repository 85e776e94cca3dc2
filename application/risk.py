"""Risk auto-freeze: a process manager that freezes the withdrawals of players whose risk score
(``projections.reads.risk``) reaches the configured threshold.

The freeze is an ordinary command under a deterministic request id (``autofreeze:{player}``,
actor ``system:risk``), so a player is frozen by it at most once whatever replays: an operator
who reviewed and unfroze the player is not overruled by the same evidence. Its reason names the
score and the signals behind it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from application.commands import Commands
from application.wallets import Wallets
from domain.cause import Cause
from domain.errors import DomainError
from domain.wallet import FreezeScope

__all__ = ["AUTOFREEZE_SCOPE", "RISK_ACTOR", "AutoFreeze", "Suspect", "Suspects"]

log = logging.getLogger(__name__)

RISK_ACTOR = "system:risk"
# Money leaving is what a fraudster wants; the player can still log in, play and be asked.
AUTOFREEZE_SCOPE = FreezeScope.WITHDRAWAL


class Suspect(Protocol):
    @property
    def player_id(self) -> str: ...

    @property
    def score(self) -> int: ...

    @property
    def frozen(self) -> list[str]: ...

    def describe(self) -> str:
        """The signals behind the score, in words."""
        ...


class Suspects(Protocol):
    def risk_scores(
        self, min_score: int = 1, player_id: str | None = None, limit: int = 100
    ) -> Sequence[Suspect]:
        """Players scoring at least ``min_score``, highest first."""
        ...


class AutoFreeze:
    def __init__(
        self, commands: Commands, wallets: Wallets, suspects: Suspects, threshold: int | None
    ) -> None:
        """``threshold`` None: off."""
        self._commands = commands
        self._wallets = wallets
        self._suspects = suspects
        self._threshold = threshold

    def run_once(self, limit: int = 100) -> list[str]:
        """Freeze who is due now; returns the players this run froze."""
        if self._threshold is None:
            return []
        frozen = []
        for suspect in self._suspects.risk_scores(self._threshold, limit=limit):
            if {AUTOFREEZE_SCOPE.value, FreezeScope.ACCOUNT.value} & set(suspect.frozen):
                continue
            reason = f"risk score {suspect.score} reached {self._threshold}: {suspect.describe()}"
            cause = Cause(RISK_ACTOR, f"autofreeze:{suspect.player_id}", reason)
            if self._commands.already_ran(cause):
                continue  # frozen by this manager before: an operator has had the last word
            try:
                self._wallets.freeze(suspect.player_id, AUTOFREEZE_SCOPE, reason, cause)
            except DomainError as error:
                log.info("not frozen %s: %s", suspect.player_id, error.code)
                continue
            frozen.append(suspect.player_id)
        return frozen
