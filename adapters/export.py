"""Moved to ``adapters.audit.export``; kept until the imports are switched."""

from adapters.audit.export import *  # noqa: F403
