"""A dry run decides on the records as the log has them now, also those that
another writer changed since this ledger last read them."""

from __future__ import annotations

from adapters.storage import persistence_env
from domain.commands import parse_command
from domain.errors import AlreadyExists, PayoutRefused
from tests.builders import attach, file_data_media, pay
from tests.harness import given, make_ledger


def test_a_dry_run_decides_on_what_other_writers_stored_since_this_ledger_read(
    db_url: str,
):
    env = persistence_env(db_url)
    ours, rival = make_ledger(env), make_ledger(env)
    given(ours, attach(), file_data_media("C1"), pay("C1", amount=100_000))
    given(rival, pay("C1"), file_data_media("C2"))  # ours has C1 as it was, and no C2
    head = ours.recorder.max_notification_id()
    with ours.dry_run() as decide:
        paid, filed = decide([parse_command(pay("C1")), parse_command(file_data_media("C2"))],
                             actor="t")
    assert isinstance(paid, PayoutRefused) and paid.rule == "payable_on_claim", paid
    assert isinstance(filed, AlreadyExists) and filed.rule == "new_claim", filed
    assert ours.recorder.max_notification_id() == head
