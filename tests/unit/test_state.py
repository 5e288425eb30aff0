"""``changed``: a state copied with some fields changed, as ``dataclasses.replace``
would give, and unknown fields refused."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, dataclass, replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.state import changed


@dataclass(frozen=True)
class Sample:
    name: str
    count: int = 0
    tags: tuple[str, ...] = ()


@given(st.text(), st.integers(), st.lists(st.text()).map(tuple), st.integers())
def test_a_changed_copy_equals_what_replace_gives(name: str, count: int,
                                                  tags: tuple[str, ...], new: int) -> None:
    state = Sample(name, count, tags)
    copy = changed(state, count=new)
    assert copy == replace(state, count=new)
    assert state == Sample(name, count, tags)  # the original is untouched
    assert copy is not state


def test_an_unknown_field_is_refused() -> None:
    with pytest.raises(TypeError, match="Sample has no field cuont"):
        changed(Sample("a"), cuont=1)


def test_a_changed_copy_is_still_frozen() -> None:
    with pytest.raises(FrozenInstanceError):
        changed(Sample("a"), count=1).count = 2  # type: ignore[misc]
