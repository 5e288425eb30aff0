"""How an aggregate's state changes: a copy of a frozen dataclass with some
fields changed.

``dataclasses.replace`` does the same by calling the class's ``__init__`` again.
States here have no ``__post_init__``, so a copy of the instance's fields is the
same result, without that call on every event replayed; unknown field names are
still refused.
"""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")


def changed(state: T, **fields: Any) -> T:
    """A copy of ``state`` (a frozen dataclass) with ``fields`` changed."""
    values = state.__dict__
    if not fields.keys() <= values.keys():
        unknown = sorted(fields.keys() - values.keys())
        msg = f"{type(state).__name__} has no field {', '.join(unknown)}"
        raise TypeError(msg)
    copy = object.__new__(type(state))
    copy.__dict__.update(values)
    copy.__dict__.update(fields)
    return copy
