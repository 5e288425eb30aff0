"""The records the ledger keeps between commands (``domain/ledger/batch_cache.py``):
a batch that read them before another batch of the same ledger committed never
puts its older reading back over the newer one."""

from __future__ import annotations

from domain.ledger.batch_cache import StateCache

CLAIM = "claim:C1"


def no_changes(first: int, last: int) -> set[str]:
    return set()


def test_a_batch_that_saved_nothing_keeps_the_newer_state_another_batch_committed() -> None:
    cache = StateCache(maxsize=10)
    assert cache.check_head(5, no_changes) is False  # a new cache: nothing is current yet
    # Batch A reads C1 at head 5 (state "v1"); meanwhile batch B commits C1 as "v2"
    # at positions 6..7; then A, which only refused, keeps what it read.
    cache.update({CLAIM: "v2"}, 5, [6, 7], no_changes)
    cache.update({CLAIM: "v1"}, 5, [], no_changes)
    assert cache.get(CLAIM) == (True, "v2")


def test_a_batch_that_saved_nothing_sets_its_reading_aside_when_nothing_newer_is_kept() -> None:
    cache = StateCache(maxsize=10)
    cache.check_head(5, no_changes)
    cache.update({"claim:C2": "w"}, 5, [6], no_changes)
    cache.update({CLAIM: "v1"}, 5, [], no_changes)  # read before position 6
    assert cache.get(CLAIM) == (False, None)
    assert cache.known(CLAIM) == "v1"  # caught up from, before it is used


def test_a_batch_that_saved_nothing_on_a_current_cache_keeps_what_it_read() -> None:
    cache = StateCache(maxsize=10)
    cache.check_head(5, no_changes)
    cache.update({CLAIM: "v1"}, 5, [], no_changes)
    assert cache.get(CLAIM) == (True, "v1")
