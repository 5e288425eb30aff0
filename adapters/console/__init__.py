"""The auditor console: read-only HTML pages under ``/console`` that the API's
app serves (``mount``). ``routes`` answers the requests, ``sessions`` signs
browsers in and checks their forms, ``pages`` gathers and renders each page
(with ``i18n`` wording, ``svg`` charts and the ``templates``), and
``spreadsheet`` writes CSV that spreadsheets open safely."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from adapters.service import Service

__all__ = ["mount"]


def mount(app: FastAPI, service: Service) -> None:
    """Serve the console's pages from ``app`` (the API's), on ``service``."""
    # Imported here: importing the package (for its pages, say) need not load the routes.
    from adapters.console import routes

    routes.mount(app, service)
