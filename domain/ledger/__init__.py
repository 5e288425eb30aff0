"""The ledger service (moved from domain/ledger.py; split up next)."""

from domain.ledger.application import *  # noqa: F403
from domain.ledger.application import _BatchCollection, _content  # noqa: F401
