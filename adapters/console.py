"""Moved to ``adapters.cli.output``; kept until the imports are switched."""

from adapters.cli.output import *  # noqa: F403
