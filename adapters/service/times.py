"""Time arguments: the one reading of a date or date-time that the CLI, the API
and the console all take (``as_of``, ``from``, ``to``), and the largest cursor."""

from __future__ import annotations

from datetime import datetime, timedelta
from datetime import time as clock_time

from domain.terms import JST

EARLIEST = datetime(2000, 1, 1, tzinfo=JST)
LATEST = datetime(2100, 12, 31, 23, 59, 59, 999_999, tzinfo=JST)
"""The times a time argument may name (Japan time, both ends included). The
ledger records only times it has seen, so no recorded time lies outside them,
and every time inside converts to UTC and back without leaving what
``datetime`` can represent."""
MAX_POSITION = 2**63 - 1
"""The largest log position (a signed 64-bit column): the most a cursor may be."""


class BadTime(ValueError):
    """A time argument refused: ``rule`` is ``date_format`` (not a date or
    date-time) or ``date_range`` (outside ``EARLIEST`` to ``LATEST``)."""

    def __init__(self, message: str, rule: str) -> None:
        super().__init__(message)
        self.rule = rule


def parse_time(text: str, *, end_of_day: bool = False) -> datetime:
    """An ISO 8601 date or date-time; without an offset it is Japan time (JST).

    A bare date means the start of that day, or its end with ``end_of_day``.
    Raises ``BadTime`` for text that is not one, or a time outside the range
    the ledger records (``EARLIEST`` to ``LATEST``)."""
    try:
        if len(text) == 10:
            day = datetime.fromisoformat(text).date()
            when = datetime.combine(day, clock_time(), JST)
        else:
            when = datetime.fromisoformat(text)
    except ValueError:
        msg = f"{text!r} is not a date (YYYY-MM-DD) or date-time (YYYY-MM-DDTHH:MM[:SS][+09:00])"
        raise BadTime(msg, "date_format") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=JST)
    # Compared before any arithmetic: an aware comparison cannot overflow.
    if not EARLIEST <= when <= LATEST:
        msg = (f"{text!r} is outside the times the ledger records: 2000-01-01 to "
               "2100-12-31, Japan time")
        raise BadTime(msg, "date_range")
    if len(text) == 10 and end_of_day:
        return when + timedelta(days=1) - timedelta(microseconds=1)
    return when
