"""Moved to ``adapters.audit.seal``; kept until the imports are switched."""

from adapters.audit.seal import *  # noqa: F403
