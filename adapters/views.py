"""Moved to adapters/service/reads.py; kept until the imports are switched."""
from adapters.service.reads import *  # noqa: F403
