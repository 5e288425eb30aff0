"""Adapters: the ways into and out of the ledger (CLI, storage configuration)."""
