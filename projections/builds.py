"""A generation's life on the write side: start a build into new tables (or
resume the one left half-built), finish it by indexing it and switching readers
to it, and drop a generation no reader uses any more.

``ReadModels.catch_up`` and ``rebuild`` fill the tables in between.
"""

from __future__ import annotations

from sqlalchemy import Connection
from sqlalchemy.schema import CreateTable

from projections.base import Projection
from projections.store import (
    Generations,
    ReadStore,
    clear_stall,
    generations,
    lock,
    set_generations,
    tracking_name,
)
from projections.tracking import SQLTrackingRecorder


def start_build(store: ReadStore, tracking: SQLTrackingRecorder, projection: Projection,
                restart: bool) -> int:
    """The generation to build ``projection`` into: the one being built, unless
    ``restart`` (it is then dropped), or else a new one with empty tables."""
    with store.writer.begin() as conn:
        lock(conn, f"state:{projection.name}")
        state = generations(conn, projection.name)
        if state.building is not None and not restart:
            return state.building
        if state.building is not None:
            drop(conn, tracking, projection, state.building)
        generation = state.newest + 1
        for table in projection.tables(generation):
            table.drop(conn, checkfirst=True)
            # The table alone: its indexes are created when the build is
            # complete (an Index object also names its table, and
            # ``table.create`` would create it now).
            conn.execute(CreateTable(table))
        tracking.forget(conn, tracking_name(projection.name, generation))
        set_generations(conn, projection.name, Generations(
            state.active, generation, state.schema_version))
        return generation


def finish_build(store: ReadStore, tracking: SQLTrackingRecorder, projection: Projection,
                 generation: int) -> None:
    """Index the built generation and switch readers to it."""
    with store.writer.begin() as conn:
        if store.is_sqlite:
            conn.exec_driver_sql("PRAGMA threads=2")  # sort for each index on 2 cores
        for index in projection.indexes(generation, conn.dialect.name):
            index.create(conn, checkfirst=True)
    with store.writer.begin() as conn:
        lock(conn, f"state:{projection.name}")
        state = generations(conn, projection.name)
        # Keep the generation readers used until now (a reader may have just
        # looked it up); drop the ones before it.
        for old in range(1, state.active or 0):
            drop(conn, tracking, projection, old)
        set_generations(conn, projection.name, Generations(
            generation, None, projection.schema_version))


def drop(conn: Connection, tracking: SQLTrackingRecorder, projection: Projection,
         generation: int) -> None:
    """Drop a generation's tables, its tracking position and its stall."""
    for table in reversed(projection.tables(generation)):
        table.drop(conn, checkfirst=True)
    tracking.forget(conn, tracking_name(projection.name, generation))
    clear_stall(conn, projection.name, generation)
