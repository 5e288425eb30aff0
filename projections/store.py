"""The read-model database: engines, generations of tables, and the switch.

Read models live in the events' database by default or in another one named by
URL. Every projection's tables carry a generation number (``rm_limits_g3``);
``projection_state`` says which generation readers use (``active``) and which
one a rebuild is filling (``building``). A rebuild fills a new generation and
switches readers to it in one transaction, so nobody sees a half-built model;
the generation before is dropped at the next switch, not at once, so a reader
that looked up the old generation a moment before the switch still finds it.
``projection_stalls`` records a generation that stopped at an event it cannot
apply (``Stall``), for every process to report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import parse_qs, urlparse

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    text,
)
from sqlalchemy.pool import NullPool, QueuePool

STATE = MetaData()
projection_state = Table(
    "projection_state",
    STATE,
    Column("name", String(64), primary_key=True),
    Column("active", Integer, nullable=True),
    Column("building", Integer, nullable=True),
    Column("schema_version", Integer, nullable=True),
)
projection_stalls = Table(
    "projection_stalls",
    STATE,
    Column("name", String(64), primary_key=True),
    Column("generation", Integer, primary_key=True),
    Column("position", BigInteger, nullable=False),
    Column("event_name", String(128), nullable=False),
    Column("error", Text, nullable=False),
)
TRACKING = MetaData()
tracking_table = Table(
    "projection_tracking",
    TRACKING,
    Column("application_name", String(128), primary_key=True),
    Column("notification_id", BigInteger, primary_key=True),
)
"""How far each generation of a read model has read the log (see ``tracking``)."""


def tracking_name(name: str, generation: int) -> str:
    """The tracking row's name of one generation of a read model."""
    return f"{name}:g{generation}"


def positions(conn: Connection) -> dict[str, int]:
    """The position of every tracking name, in one statement (driver SQL, as
    ``generations``)."""
    rows = conn.exec_driver_sql("SELECT application_name, MAX(notification_id) "
                                "FROM projection_tracking GROUP BY application_name")
    return {name: int(position) for name, position in rows}


def sqlalchemy_url(db: str) -> tuple[str, dict[str, Any]]:
    """A SQLAlchemy URL and connect arguments for a ``--db``/``--read-db`` value."""
    if db.startswith(("postgresql://", "postgres://")):
        url = urlparse(db)
        schema = parse_qs(url.query).get("schema")
        base = url._replace(scheme="postgresql+psycopg", query="").geturl()
        args: dict[str, Any] = {"connect_timeout": 5}
        if schema:
            args["options"] = f"-csearch_path={schema[0]}"
        return base, args
    path = db.removeprefix("sqlite:///")
    # uri: so that ATTACH takes a ``file:…?mode=ro`` URI (a plain path still
    # names a file).
    return f"sqlite+pysqlite:///{path}", {"timeout": 30, "uri": True}


@dataclass
class ReadStore:
    """Engines for the read models: ``writer`` takes the write lock when a
    transaction begins (so a batch and its tracking row commit as one), ``reader``
    reads a consistent snapshot, and ``single`` runs reads whose statements
    each stand alone without a transaction around them (on PostgreSQL in
    autocommit: no round trips for BEGIN and COMMIT)."""

    writer: Engine
    reader: Engine
    single: Engine

    @property
    def is_sqlite(self) -> bool:
        return self.writer.dialect.name == "sqlite"

    def close(self) -> None:
        self.writer.dispose()
        self.reader.dispose()


def _sqlite_engine(url: str, args: dict[str, Any], begin: str, *, pooled: bool) -> Engine:
    # A reader's connections are kept between reads (opening one, with its
    # pragmas, cost more than an indexed read); any number may be open at once.
    engine = (create_engine(url, connect_args={**args, "check_same_thread": False},
                            poolclass=QueuePool, max_overflow=-1)
              if pooled else create_engine(url, connect_args=args, poolclass=NullPool))

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _: Any) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy's begin event decides
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # Read models are rebuilt from the log: a crash may lose the last commits
        # but never splits rows from their tracking row.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql(begin)

    return engine


def open_store(db: str) -> ReadStore:
    url, args = sqlalchemy_url(db)
    if url.startswith("sqlite"):
        reader = _sqlite_engine(url, args, "BEGIN", pooled=True)
        store = ReadStore(
            writer=_sqlite_engine(url, args, "BEGIN IMMEDIATE", pooled=False),
            reader=reader, single=reader,
        )
    else:
        engine = create_engine(url, connect_args=args, pool_pre_ping=True)
        store = ReadStore(writer=engine, reader=engine,
                          single=engine.execution_options(isolation_level="AUTOCOMMIT"))
    with store.writer.begin() as conn:
        lock(conn, "schema")  # processes starting together must not race on DDL
        STATE.create_all(conn)
    return store


def insert_rows(conn: Connection, table: Table, rows: Sequence[Sequence[Any]]) -> None:
    """Insert many rows, each in the table's column order, with the driver's own
    ``executemany`` (the hot path of every projection)."""
    if rows:
        conn.exec_driver_sql(_insert_sql(table, conn.dialect.paramstyle), _tuples(rows))


def execute_many(conn: Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """Run ``sql`` (written with ``?`` marks) once per row, with the driver's own
    ``executemany``."""
    if rows:
        conn.exec_driver_sql(_marks(sql, conn.dialect.paramstyle), _tuples(rows))


def _tuples(rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
    if isinstance(rows, list) and isinstance(rows[0], tuple):
        return rows
    return [tuple(r) for r in rows]


def chunks(items: list[Any], size: int) -> list[list[Any]]:
    """``items`` in runs of at most ``size`` (to keep ``IN (...)`` lists short)."""
    return [items[i : i + size] for i in range(0, len(items), size)]


@cache
def _insert_sql(table: Table, paramstyle: str) -> str:
    names = ", ".join(f'"{c.name}"' for c in table.columns)
    marks = ", ".join("?" for _ in table.columns)
    return _marks(f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})', paramstyle)


@cache
def _marks(sql: str, paramstyle: str) -> str:
    return sql if paramstyle == "qmark" else sql.replace("?", "%s")


def lock(conn: Connection, name: str) -> None:
    """Serialise writers of one projection for the rest of the transaction.

    SQLite writers hold the database write lock from ``BEGIN IMMEDIATE``; on
    PostgreSQL a transaction-scoped advisory lock does the same per name."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:n))"), {"n": name})


@dataclass(frozen=True)
class Generations:
    """Which generation of a projection's tables readers use, and which one is
    being built (with the schema version the active one was built with)."""

    active: int | None = None
    building: int | None = None
    schema_version: int | None = None

    @property
    def newest(self) -> int:
        return max(self.active or 0, self.building or 0)


def generations(conn: Connection, name: str) -> Generations:
    # Driver SQL: every read starts here, and building the statement with
    # SQLAlchemy's expression language cost more than running it.
    row = conn.exec_driver_sql(_marks(
        "SELECT active, building, schema_version FROM projection_state WHERE name = ?",
        conn.dialect.paramstyle), (name,)).first()
    if row is None:
        return Generations()
    return Generations(*row)


def set_generations(conn: Connection, name: str, state: Generations) -> None:
    conn.execute(projection_state.delete().where(projection_state.c.name == name))
    conn.execute(
        projection_state.insert().values(
            name=name,
            active=state.active,
            building=state.building,
            schema_version=state.schema_version,
        )
    )


@dataclass(frozen=True)
class Stall:
    """A generation of a read model stopped before the event at ``position``: it
    applied every event before it and cannot apply this one (``error``, one line)."""

    name: str
    generation: int
    position: int
    event: str
    error: str

    def __str__(self) -> str:
        return (f"the {self.name} read model stopped at position {self.position - 1}: it "
                f"cannot apply the event at position {self.position} ({self.event}): "
                f"{self.error}")

    def as_json(self) -> dict[str, Any]:
        return {"read_model": self.name, "generation": self.generation,
                "stopped_at": self.position - 1, "event_position": self.position,
                "event": self.event, "error": self.error}


def one_line(exc: BaseException) -> str:
    """An error in one printable line of at most 300 characters: the driver's own
    message, without the statement SQLAlchemy adds."""
    reason = getattr(exc, "orig", None) or exc
    words = str(reason).strip().splitlines()
    text = f"{type(reason).__name__}: {words[0]}" if words else type(reason).__name__
    return printable(text)[:300]


def printable(text: str) -> str:
    """``text`` with each character that does not print written as its escape."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def stalls(conn: Connection) -> dict[tuple[str, int], Stall]:
    """Every recorded stall, by read model and generation (driver SQL, as
    ``generations``: every catch-up starts here)."""
    rows = conn.exec_driver_sql(
        "SELECT name, generation, position, event_name, error FROM projection_stalls")
    return {(name, generation): Stall(name, generation, position, event, error)
            for name, generation, position, event, error in rows}


def record_stall(conn: Connection, stall: Stall) -> None:
    clear_stall(conn, stall.name, stall.generation)
    conn.execute(projection_stalls.insert().values(
        name=stall.name, generation=stall.generation, position=stall.position,
        event_name=stall.event, error=stall.error))


def clear_stall(conn: Connection, name: str, generation: int) -> None:
    conn.execute(projection_stalls.delete().where(projection_stalls.c.name == name,
                                                  projection_stalls.c.generation == generation))


def reading_state(conn: Connection, name: str
                  ) -> tuple[int | None, int | None, Stall | None]:
    """The generation readers use, the schema version it was built for, and the
    stall of that generation (or, with none built yet, of the one being built),
    in one statement: every read starts here."""
    row = conn.exec_driver_sql(_marks(
        "SELECT s.active, s.schema_version, x.generation, x.position, x.event_name, x.error "
        "FROM projection_state s LEFT JOIN projection_stalls x "
        "ON x.name = s.name AND x.generation = COALESCE(s.active, s.building) "
        "WHERE s.name = ?", conn.dialect.paramstyle), (name,)).first()
    if row is None:
        return None, None, None
    active, schema, generation, position, event, error = row
    return active, schema, (None if generation is None
                            else Stall(name, generation, position, event, error))
