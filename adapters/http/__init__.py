"""The JSON API: ``app`` builds it (``create_app``, ``build``), ``routes`` answers
commands and reads, ``deps`` gives the routes their service, caller and body,
``problems`` turns every error into problem+json, ``middleware`` limits bodies,
``answers`` holds the API's own answer models (the read rows are
``projections.rows``) and ``openapi`` writes the document's hand-made parts."""

from adapters.http.app import build, create_app
from adapters.service import Service

__all__ = ["Service", "build", "create_app"]
