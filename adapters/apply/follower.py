"""Catching the read models up while ``apply``'s workers append: a helper
process follows the log and applies it to the read models a few thousand events
to a commit, so that only the tail is left for the catch-up after the run.

It runs at the same CPU priority as the workers: at a lower one, on a busy
machine it could be kept off the CPU while it holds the database's write lock,
and the workers would wait for it. It never builds a read model to the
end (the catch-up after the run indexes a new generation once, when it is
full), and it is best effort: it stops when told, between two of its commits,
and whatever it did not apply, or could not (an error is reported, not
raised), the catch-up after the run applies. Each of its commits is a page
with its tracking rows, so a stop, an error or a kill at any point loses and
repeats nothing.
"""

from __future__ import annotations

import contextlib
import marshal
import signal
from multiprocessing.connection import Connection as Pipe
from typing import Any

from adapters.storage import open_ledger
from projections.processes import helper_context
from projections.read_models import ReadModels
from projections.store import open_store

PAGE = 5_000
"""Events per commit: a commit holds the database's write lock (on SQLite the
log's too, when the read models share its file) only briefly."""
PAUSE = 0.05
"""Seconds to wait when the read models have caught up with the log."""
STOP_WAIT = 60.0
"""Seconds a stop waits for the follower's answer before ending it."""


class Follower:
    """The helper process. Use as a context manager: it stops on exit."""

    def __init__(self, db: str, read_db: str) -> None:
        context = helper_context(__name__)
        self.pipe, theirs = context.Pipe()
        self.process = context.Process(target=_follow, daemon=True,
                                       args=(theirs, db, read_db))
        self.process.start()
        theirs.close()
        self.error: str | None = None
        """Why the follower stopped early, if it did (the catch-up after the run
        then applies what it left)."""
        self.applied = 0

    def __enter__(self) -> Follower:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Ask the follower to stop after its current commit and wait for it."""
        if self.pipe.closed:
            return  # (stopped before)
        with contextlib.suppress(OSError):  # it has ended: its answer may still be in the pipe
            self.pipe.send_bytes(b"stop")
        try:
            if self.pipe.poll(STOP_WAIT):
                status, payload = marshal.loads(self.pipe.recv_bytes())
                if status == "failed":
                    self.error = payload
                else:
                    self.applied = payload
            else:
                self.error = f"the read models' follower did not stop within {STOP_WAIT:.0f} s"
        except (EOFError, OSError):
            self.error = "the read models' follower ended without an answer"
        finally:
            self.pipe.close()
            self.process.join(timeout=5)
            if self.process.is_alive():
                self.process.kill()
                self.process.join()


class _Stopped(Exception):
    """The router asked the follower to stop."""


def _follow(pipe: Pipe, db: str, read_db: str) -> None:
    """The follower process: catch the read models up again and again until the
    router says stop; answer how many events it applied (or why it failed)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the router to handle
    answer: tuple[str, Any]
    models: ReadModels | None = None
    applied = [0, 0]  # before this catch-up, in it

    def check(done: int, _total: int) -> None:
        applied[1] = done
        if pipe.poll():
            raise _Stopped

    try:
        models = ReadModels(open_ledger(db), open_store(read_db), page_size=PAGE, workers=1)
        while not pipe.poll(0 if applied[1] else PAUSE):
            applied = [sum(applied), 0]
            models.catch_up(progress=check, finish=False)
        answer = ("stopped", sum(applied))
    except _Stopped:
        answer = ("stopped", sum(applied))
    except Exception as exc:
        answer = ("failed", f"{type(exc).__name__}: {(str(exc) or '-').splitlines()[0]}")
    finally:
        if models is not None:
            models.close()
            models.ledger.close()
    with contextlib.suppress(OSError):  # the router stopped: nobody is listening any more
        pipe.send_bytes(marshal.dumps(answer))
