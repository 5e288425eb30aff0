"""Integration tier: the ledger, read models, seal, export and batch apply on real
SQLite and PostgreSQL, driven from this process (a few tests start helper
processes to race it)."""
