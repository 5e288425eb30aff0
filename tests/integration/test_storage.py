"""`--db` values become the library's persistence settings."""

from __future__ import annotations

import pytest

from adapters.storage import StorageError, open_ledger, persistence_env


def test_a_plain_path_or_sqlite_url_is_an_embedded_sqlite_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = str(tmp_path / "x.db")
    for db in (path, f"sqlite:///{path}"):
        assert persistence_env(db) == {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": path,
            "APPLICATION_RECORDER_TOPIC": "adapters.seal_store:SealedSQLiteRecorder"}


def test_a_postgresql_url_names_server_database_user_and_schema() -> None:
    env = persistence_env("postgresql://alice:s%40cret@db.local:6543/ledger?schema=prod")
    assert {k: env[k] for k in ("PERSISTENCE_MODULE", "POSTGRES_HOST", "POSTGRES_PORT",
                                "POSTGRES_DBNAME", "POSTGRES_USER", "POSTGRES_PASSWORD",
                                "POSTGRES_SCHEMA")} == {
        "PERSISTENCE_MODULE": "eventsourcing.postgres", "POSTGRES_HOST": "db.local",
        "POSTGRES_PORT": "6543", "POSTGRES_DBNAME": "ledger", "POSTGRES_USER": "alice",
        "POSTGRES_PASSWORD": "s@cret", "POSTGRES_SCHEMA": "prod"}
    assert env["POSTGRES_ENABLE_DB_FUNCTIONS"] == "n"
    assert env["APPLICATION_RECORDER_TOPIC"] == "adapters.seal_store:SealedPostgresRecorder"


def test_a_postgresql_url_without_a_database_is_refused() -> None:
    with pytest.raises(StorageError, match="name the database"):
        persistence_env("postgresql://127.0.0.1:5432")


def test_the_unlocked_postgresql_insert_function_is_refused(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("POSTGRES_ENABLE_DB_FUNCTIONS", "y")
    with pytest.raises(StorageError, match="skip events"):
        persistence_env("postgresql://127.0.0.1/test")


def test_an_unreachable_server_is_a_storage_error_naming_the_url(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("POSTGRES_CONNECT_TIMEOUT", "1")
    with pytest.raises(StorageError, match=r"127\.0\.0\.1:1/x"):
        open_ledger("postgresql://nobody@127.0.0.1:1/x")


def test_generated_command_ids_are_32_hex_digits_that_never_repeat_even_after_a_fork(
) -> None:
    import os
    import re

    from adapters.storage import new_command_id

    ids = [new_command_id() for _ in range(1000)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child's next id must not be the parent's next id
        os.write(write, new_command_id().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    assert child != new_command_id() and child not in ids
