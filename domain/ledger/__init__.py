"""The application layer over the domain model: the ledger service.

``application`` is the ``Ledger`` (commands in, events out, aggregates
replayed); ``log_reads`` its reads of the log itself; ``deciding`` the pure
decide step it runs for each command; ``idempotency`` a command id applied
once; ``outcome`` what a command did; ``batch_cache`` what a batch decides on;
``collector`` the process's policy for Python's cycle collector; ``mapper`` how
events are stored. The model modules beside this package never import it.
"""

from domain.ledger.application import Ledger
from domain.ledger.outcome import AppendedEvent, Outcome

__all__ = ["AppendedEvent", "Ledger", "Outcome"]
