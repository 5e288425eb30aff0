"""Moved to adapters/console/spreadsheet.py; kept until the imports are switched."""
from adapters.console.spreadsheet import *  # noqa: F403
