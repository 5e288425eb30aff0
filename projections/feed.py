"""Pages of the log turned into each projection's changes, here or in helper
processes.

A page is read from the log (``log.stored_rows``), each event that some
projection reads (``Projection.events``) decoded once into a ``Fact`` (the
others only counted), and each projection computes its changes from the facts
after its own tracking position. For a long catch-up (a rebuild of a big log)
``Producers`` does the reading and computing in helper processes, page ``k`` in
process ``k % n``, each with its own connection to the log, and hands the pages
back in log order as plain data (``marshal``), so the calling process only
writes. Each helper keeps at most a page in hand and a page in its pipe, so
memory does not grow with the log.

An event that cannot be decoded, or a page whose changes a projection cannot
compute, stops nothing here: that projection's changes are None, and the writer
applies its events one by one to find the event it cannot apply (see
``writer``).
"""

from __future__ import annotations

import marshal
import signal
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection as Pipe
from typing import Any, cast

from eventsourcing.utils import construct_topic

from domain.ledger import Ledger
from domain.ledger.collector import collector_paused
from projections.base import Fact, Projection, decoded
from projections.log import Row, stored_rows
from projections.processes import helper_context
from projections.registry import PROJECTIONS


@dataclass(frozen=True)
class Page:
    last: int
    """The position of the page's last event."""
    count: int
    changes: dict[str, Any]
    """Each projection's changes (a projection with no event in the page has none;
    None: it could not compute them, see ``read_page``)."""


def read_page(ledger: Ledger, projections: dict[str, Projection], positions: dict[str, int],
              after: int, limit: int, stop: int | None = None) -> Page | None:
    """The page of up to ``limit`` events after position ``after`` (up to
    ``stop``), with each projection's changes; None if there is no event. Only
    the events some projection reads (``Projection.events``) are decoded. A
    projection's changes are None if an event it reads cannot be decoded or its
    ``changes`` raises: the writer then applies them one by one."""
    wanted: set[str] | None = set()
    for projection in projections.values():
        if projection.events is None or wanted is None:
            wanted = None
        else:
            wanted |= projection.events
    rows = stored_rows(ledger, after, limit, stop, None if wanted is None else frozenset(wanted))
    if not rows:
        return None
    changes = {}
    batch, unreadable = _decoded([r for r in rows if r[4] is not None])
    for name, projection in projections.items():
        position = positions[name]
        if rows[-1][0] > position:  # (then its tracking moves to the page's end)
            mine = batch if not batch or batch[0].position > position else [
                f for f in batch if f.position > position]
            changes[name] = _changes(projection, mine, [
                event for at, event in unreadable if at > position])
    return Page(rows[-1][0], len(rows), changes)


def reads(projection: Projection, event: str) -> bool:
    return projection.events is None or event in projection.events


def _decoded(rows: list[Row]) -> tuple[list[Fact], list[tuple[int, str]]]:
    """The facts of ``rows``, and the (position, name) of those that cannot be
    decoded (each row is decoded alone only if the page as a whole cannot be)."""
    stored = cast(list[tuple[int, str, int, str, bytes]], rows)
    try:
        return decoded(stored), []
    except Exception:
        found: list[Fact] = []
        unreadable = []
        for row in stored:
            try:
                found.extend(decoded([row]))
            except Exception:
                unreadable.append((row[0], row[3]))
        return found, unreadable


def _changes(projection: Projection, facts: list[Fact], unreadable: list[str]) -> Any:
    """The projection's changes of ``facts``; None if an event it reads was among
    the ``unreadable`` ones or computing them raises."""
    if any(reads(projection, event) for event in unreadable):
        return None
    try:
        return projection.changes(facts)
    except Exception:
        return None


def pages(ledger: Ledger, projections: dict[str, Projection], positions: dict[str, int],
          page_size: int, stop: int | None = None) -> Iterator[Page]:
    """Pages from the smallest position in ``positions`` to the head (or ``stop``),
    read and computed in this process."""
    after = min(positions.values())
    while done := read_page(ledger, projections, positions, after, page_size, stop):
        yield done
        after = done.last


class Producers:
    """``pages`` computed by ``n`` helper processes, up to the head of the log
    when they start (what is appended meanwhile is left for the next call)."""

    def __init__(self, ledger: Ledger, projections: dict[str, Projection],
                 positions: dict[str, int], page_size: int, n: int) -> None:
        env = dict(ledger.env)
        env["CREATE_TABLE"] = "n"
        if "APPLICATION_RECORDER_TOPIC" in env:
            # Named by its own module: a topic registered as an alias in this
            # process (``adapters.seal_store:…``) does not resolve in a new one.
            env["APPLICATION_RECORDER_TOPIC"] = construct_topic(type(ledger.recorder))
        head = ledger.recorder.max_notification_id() or 0
        context = helper_context(__name__)
        self._pipes: list[Pipe] = []
        self._processes = []
        for k in range(n):
            mine, theirs = context.Pipe(duplex=False)
            process = context.Process(
                target=_produce, daemon=True,
                args=(theirs, env, list(projections), positions, page_size, head, k, n))
            process.start()
            theirs.close()
            self._pipes.append(mine)
            self._processes.append(process)

    def __iter__(self) -> Iterator[Page]:
        k = 0
        while True:
            try:
                message = marshal.loads(self._pipes[k % len(self._pipes)].recv_bytes())
            except EOFError:
                msg = "a helper process ended before its last page"
                raise RuntimeError(msg) from None
            if message is None:
                return
            if isinstance(message, str):
                msg = f"a helper process failed:\n{message}"
                raise RuntimeError(msg)
            last, count, changes = message
            if count:  # a gap in the positions can leave a page empty
                yield Page(last, count, changes)
            k += 1

    def close(self) -> None:
        for pipe in self._pipes:
            pipe.close()
        for process in self._processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()


def _produce(pipe: Pipe, env: dict[str, str], names: list[str], positions: dict[str, int],
             page_size: int, head: int, k: int, n: int) -> None:
    """A helper process: pages ``k``, ``k + n``, ``k + 2n``, … of the log up to
    ``head``, then None (or the error's traceback, as text)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the writer to handle
    ledger = Ledger(env, clock=_unused, new_id=_unused)
    try:
        with collector_paused():
            projections = {name: PROJECTIONS[name] for name in names}
            start = min(positions.values())
            number = k
            while (after := start + number * page_size) < head:
                done = read_page(ledger, projections, positions, after, page_size,
                                 stop=min(after + page_size, head)) or Page(after, 0, {})
                pipe.send_bytes(marshal.dumps((done.last, done.count, done.changes), _MARSHAL))
                number += n
            pipe.send_bytes(marshal.dumps(None))
    except (BrokenPipeError, ConnectionResetError):
        pass  # the writer stopped: nobody is listening any more
    except Exception:
        pipe.send_bytes(marshal.dumps(traceback.format_exc()))
    finally:
        ledger.close()


_MARSHAL = 2
"""marshal's format version for pages: version 2 writes no back-references, so
pages are written faster and read as fast (see docs/performance.md)."""


def _unused() -> Any:
    raise NotImplementedError
