"""Moved to ``adapters.apply`` (and the wording of a line's result to
``adapters.cli.output``); kept until the imports are switched."""

from adapters.apply import *  # noqa: F403
from adapters.apply.pool import _work as _work
from adapters.cli.output import describe as describe
from adapters.cli.output import render_json as render_json
from adapters.cli.output import render_text as render_text
