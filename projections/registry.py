"""The read models by name: the one list every job, check and command chooses from.

It sits below the page pipeline (``feed``) and the orchestrator (``read_models``),
so a helper process can look a projection up by name without importing either.
"""

from __future__ import annotations

from collections.abc import Iterable

from projections.audit_trail import AuditTrailProjection
from projections.base import Projection
from projections.claims import ClaimsProjection
from projections.limits import LimitsProjection

PROJECTIONS: dict[str, Projection] = {
    p.name: p for p in (LimitsProjection(), ClaimsProjection(), AuditTrailProjection())
}


def names(requested: Iterable[str] | None) -> list[str]:
    """The read models ``requested`` (None or empty: all of them, in registry order);
    raises ``ValueError`` naming any that does not exist."""
    chosen = list(requested) if requested else list(PROJECTIONS)
    unknown = [n for n in chosen if n not in PROJECTIONS]
    if unknown:
        msg = f"unknown read model {', '.join(unknown)}; expected: {', '.join(PROJECTIONS)}"
        raise ValueError(msg)
    return chosen
