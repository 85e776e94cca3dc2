"""The projector's page size: the command's default is the library default
(``infrastructure.projector.BATCH_SIZE``), which ``System.projector`` uses too."""

from __future__ import annotations

import inspect

from infrastructure.bootstrap import System
from infrastructure.projector import BATCH_SIZE, Projector
from ops import cli


def test_the_command_and_the_system_page_the_log_alike() -> None:
    args = cli.build_parser().parse_args(["projector"])
    assert args.batch == BATCH_SIZE
    assert inspect.signature(System.projector).parameters["batch_size"].default == BATCH_SIZE
    assert inspect.signature(Projector).parameters["batch_size"].default == BATCH_SIZE
