"""Moved to adapters/service/auth.py; kept until the imports are switched."""
from adapters.service.auth import *  # noqa: F403
