"""The read side: SQL read models that follow the event log, and their jobs.

Dependencies point inward: projections read the domain's events; the domain
knows nothing of projections.
"""
