"""The service every way in shares: the ledger, its read models caught up on
demand, and the bearer tokens. The HTTP API, the console and the benchmark use
it; it knows nothing of HTTP.

Submodules: ``group_commit`` (the shared writer), ``reads`` (limits, claims,
explanations, histories, as-of replays), ``feed`` (the event feed) and
``log_watch`` (waiting for its next event), ``auth`` (tokens and roles) and
``times`` (the time arguments every way in parses).

Importing the package imports none of them, nor the ledger: a command line
that reads one submodule (a time argument, the roles) pays for that alone.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adapters.service.auth import Tokens
    from domain.commands import Command
    from domain.errors import LedgerError
    from domain.ledger import Ledger, Outcome
    from projections.read_models import ReadModels


class Service:
    """The ledger and its read models, shared by the request handlers."""

    def __init__(self, ledger: Ledger, models: ReadModels, tokens: Tokens) -> None:
        from adapters.service.group_commit import GroupCommit
        from adapters.service.log_watch import LogWatch

        self.ledger, self.models, self.tokens = ledger, models, tokens
        self._catch_up = threading.Lock()
        self.writer = GroupCommit(ledger)
        self.watch = LogWatch(ledger)

    def fresh(self) -> ReadModels:
        """The read models, caught up with every acknowledged command."""
        with self._catch_up:
            self.models.catch_up()
        return self.models

    async def execute(self, data: dict[str, Any], actor: str) -> Outcome:
        """One command, committed together with whatever else is arriving."""
        import asyncio

        from domain.commands import parse_command

        return await asyncio.wrap_future(self.writer.submit(parse_command(data), actor))

    def execute_many(self, commands: list[Command], actor: str) -> list[Outcome | LedgerError]:
        """Many commands, one commit (see ``Ledger.execute_many``)."""
        if not commands:
            return []
        return self.ledger.execute_many(commands, actor=actor)

    def dry_run(self, commands: list[Command], actor: str) -> list[Outcome | LedgerError]:
        """What ``execute_many`` would answer for the commands now, each decided
        on the state the ones before it left; nothing is appended (see
        ``Ledger.dry_run``)."""
        with self.ledger.dry_run() as decide:
            return decide(commands, actor=actor)
