"""Moved to adapters/console/i18n.py; kept until the imports are switched."""
from adapters.console.i18n import *  # noqa: F403
