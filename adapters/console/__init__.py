"""The auditor console: read-only HTML pages under ``/console`` that the API's
app serves (``mount``). ``routes`` answers the requests, ``sessions`` signs
browsers in and checks their forms, ``pages`` gathers and renders each page
(with ``i18n`` wording, ``svg`` charts and the ``templates``), and
``spreadsheet`` writes CSV that spreadsheets open safely."""

from __future__ import annotations

from typing import TYPE_CHECKING

# Until the imports are switched: this package took the name of the terminal
# helpers' adapters/console.py (now adapters/terminal.py, bound for
# adapters/cli/output.py), which the CLI, apply and the tests import from here.
from adapters.service.times import MAX_POSITION, BadTime, parse_time
from adapters.terminal import Progress, table, whole_number, yen

if TYPE_CHECKING:
    from fastapi import FastAPI

    from adapters.service import Service

__all__ = ["MAX_POSITION", "BadTime", "Progress", "mount", "parse_time", "table",
           "whole_number", "yen"]


def mount(app: FastAPI, service: Service) -> None:
    """Serve the console's pages from ``app`` (the API's), on ``service``."""
    # Imported here: `apply`'s worker processes import this package for the
    # terminal helpers above, and should not load the web stack.
    from adapters.console import routes

    routes.mount(app, service)
