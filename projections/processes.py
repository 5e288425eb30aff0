"""Where helper processes come from: apply's workers and the read side's page
producers are forked from one fork server per process that has imported their
modules once, rather than each starting a new interpreter that imports
everything again (about half a second of a core each). Like "spawn", a helper
inherits no connection of this process: the server is a new interpreter that
opens none, and forks only after importing."""

from __future__ import annotations

import multiprocessing
from multiprocessing.context import ForkServerContext

_PRELOAD: set[str] = {"__main__"}
"""The modules the fork server imports before its first fork (``__main__``: the
program's own script, which a helper would otherwise run again)."""


def helper_context(*preload: str) -> ForkServerContext:
    """The context to start helper processes with; ``preload`` names modules
    their work needs, imported once by the fork server when it starts (the
    first helper of this process starts it). A module named only after that is
    imported by each helper that needs it, as with "spawn"."""
    context = multiprocessing.get_context("forkserver")
    if not _PRELOAD.issuperset(preload):
        _PRELOAD.update(preload)
        context.set_forkserver_preload(sorted(_PRELOAD))
    return context
