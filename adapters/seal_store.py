"""Moved to ``adapters.storage.sealed_recorders``; kept until the imports are switched."""

from adapters.storage.sealed_recorders import *  # noqa: F403
