"""Auditor tools: the seal over the log (a hash chain with checkpoints, and its
verification) and the export of the sealed log with its database-free replay.
No command-line or web code lives here: the CLI and the console call these."""
