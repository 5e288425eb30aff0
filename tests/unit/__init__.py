"""Unit tier: no database. Pure functions, and the ledger on the library's
in-memory recorder; ``make check`` runs this tier."""
