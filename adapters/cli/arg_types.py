"""The values of the command line's options that need a check of their own:
times, log positions, yen, days, actor names and seconds. A refusal says the
rule it breaks; a check imports the limit it needs only when it runs."""

from __future__ import annotations

import argparse
import math
from datetime import datetime

from adapters.cli.output import whole_number


def time_value(text: str, end_of_day: bool = True) -> datetime:
    """A TIME option's value; a refusal names its rule (``date_format`` or
    ``date_range``)."""
    from adapters.service.times import BadTime, parse_time

    try:
        return parse_time(text, end_of_day=end_of_day)
    except BadTime as exc:
        raise argparse.ArgumentTypeError(f"{exc} [{exc.rule}]") from None


def from_time(text: str) -> datetime:
    return time_value(text, end_of_day=False)


def position(text: str) -> int:
    """A log position (a cursor): a whole number from 0 to the largest position."""
    from adapters.service.times import MAX_POSITION

    return whole_number(0, MAX_POSITION)(text)


def yen(text: str) -> int:
    """An amount of yen, from 0 to the most the ledger records."""
    from domain.money import MAX_YEN

    return whole_number(0, MAX_YEN)(text)


def days(text: str) -> int:
    """A token's lifetime in days, from 1 to the longest a token may live."""
    from adapters.service.token_file import MAX_DAYS

    return whole_number(1, MAX_DAYS)(text)


def actor_name(text: str) -> str:
    """An actor's name (NAME of ``authority``): printable text, not blank."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must name an actor, not be blank [required]")
    if not text.isprintable():
        raise argparse.ArgumentTypeError(
            "must be printable text, without control characters [printable]")
    return text


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= 60:  # (NaN is refused too)
        msg = f"must be a number of seconds above 0 and at most 60, not {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value
