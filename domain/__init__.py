"""The claims-ledger domain: product terms, aggregates, decisions and the ledger service.

Pure: depends only on the standard library, ``eventsourcing`` and ``pydantic``.
"""
