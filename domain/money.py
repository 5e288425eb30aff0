"""Money: the ``Yen`` value type, whole yen only."""

from __future__ import annotations

from functools import partial
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

MAX_YEN = 10**13
"""The largest amount the ledger accepts (ten trillion yen): far above any limit,
and well inside a signed 64-bit column."""


_new_int = int.__new__
_add = int.__add__
_sub = int.__sub__


class NegativeYen(ValueError):
    """Raised when a subtraction would leave a negative amount of yen."""


class Yen(int):
    """A non-negative whole number of yen.

    Arithmetic stays in ``Yen``: ``+`` adds, ``-`` refuses to go below zero
    (use :meth:`less` to floor at zero), ``min`` and comparisons are ``int``'s.
    """

    __slots__ = ()

    def __new__(cls, value: int = 0) -> Yen:
        if isinstance(value, bool) or not isinstance(value, int):
            msg = f"yen must be an integer, not {type(value).__name__}"
            raise TypeError(msg)
        if value < 0:
            msg = f"yen cannot be negative: {value}"
            raise NegativeYen(msg)
        return _new_int(cls, value)

    # The arithmetic below is on the hot path of every decision: it works on the
    # int values directly and builds the result without re-checking its type.

    def __add__(self, other: int) -> Yen:
        total = _add(self, int(other))
        if total < 0:
            return Yen(total)  # refused with the usual message
        return _new_int(Yen, total)

    def __sub__(self, other: int) -> Yen:
        difference = _sub(self, int(other))
        if difference < 0:
            return Yen(difference)  # refused with the usual message
        return _new_int(Yen, difference)

    def less(self, other: int) -> Yen:
        """``self - other``, floored at zero (a deductible larger than the loss)."""
        difference = _sub(self, int(other))
        return _new_int(Yen, difference) if difference > 0 else ZERO

    def __repr__(self) -> str:
        return f"Yen({int(self)})"

    def __str__(self) -> str:
        return f"{int(self):,}円"

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        # From a number: the int schema checks it, then it becomes a Yen without
        # ``__new__``'s checks again (a C call, no Python frame). A Yen already
        # (the domain's own arithmetic, and every event the ledger builds) is
        # taken as it is: a Yen is whole and non-negative by construction, and
        # the number path costs a Python-level call per field.
        from_number = core_schema.no_info_after_validator_function(
            partial(_new_int, cls),
            core_schema.int_schema(strict=True, ge=0, le=MAX_YEN),
        )
        return core_schema.json_or_python_schema(
            json_schema=from_number,
            python_schema=core_schema.union_schema(
                [core_schema.is_instance_schema(cls), from_number],
                mode="left_to_right"),
            # Written as the plain JSON integer it is, by pydantic's own int
            # serializer (no Python call per field).
            serialization=core_schema.simple_ser_schema("int"),
        )


ZERO = Yen(0)
