"""Moved to adapters/console/routes.py; kept until the imports are switched."""
from adapters.console.routes import *  # noqa: F403
