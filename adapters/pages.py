"""Moved to adapters/console/pages.py; kept until the imports are switched."""
from adapters.console.pages import *  # noqa: F403
