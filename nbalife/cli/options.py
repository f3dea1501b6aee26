"""Option types shared by several commands, defined once."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Annotated, Any, Optional

import typer


# Date options stay a year inside the calendar's ends, so that a window's arithmetic (the day
# after --until, the day before --from, a replay's training cut) can never overflow a date.
FIRST_DAY = dt.date(2, 1, 1)
LAST_DAY = dt.date(9998, 12, 31)


def _in_calendar(value: str, day: dt.date) -> dt.date:
    from nbalife.errors import quoted

    if not FIRST_DAY <= day <= LAST_DAY:
        raise typer.BadParameter(f"{quoted(value)} is outside the dates nbalife takes ({FIRST_DAY} to {LAST_DAY})")
    return day


def parse_date(value: str | dt.date | None) -> dt.date | None:
    """An ISO date option; a bad one, or one within a year of the calendar's ends, is a usage
    error (exit 2) naming the value."""
    from nbalife.errors import quoted
    from nbalife.interchange import parse_game_date

    if value is None or isinstance(value, dt.date):  # None, or already parsed by the option
        return value
    day = parse_game_date(value) if len(value.strip()) == 10 else None
    if day is None:
        raise typer.BadParameter(f"{quoted(value)} is not a date (YYYY-MM-DD)")
    return _in_calendar(value, day)



def parse_version_option(value: str | None) -> str | None:
    """A version argument or option (MAJOR.MINOR.PATCH), checked once by nbalife.versions; a bad
    one is a usage error (exit 2) naming the option and the value."""
    from nbalife.errors import BadInput
    from nbalife.versions import checked_version

    try:
        return checked_version(value)
    except BadInput as exc:
        raise typer.BadParameter(str(exc)) from None


def parse_moment(value: str | None) -> dt.datetime | None:
    """A date or an ISO date and time (``parse_game_date``'s rule; naive means UTC); a bad one is
    a usage error (exit 2) naming the value."""
    from nbalife.errors import quoted
    from nbalife.interchange import parse_game_date

    if value is None:
        return None
    if parse_game_date(value) is None:
        raise typer.BadParameter(f"{quoted(value)} is not a date (YYYY-MM-DD) or time (YYYY-MM-DDTHH:MM)")
    moment = dt.datetime.fromisoformat(value.strip())
    _in_calendar(value, moment.date())
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


# The one window parser: every --days (and --hours) of every command goes through
# ``window_length``, so a value that would overflow a date, an inverted or empty window, or a
# non-number is one exit-2 line naming the option and the value, before any work or event.
MAX_WINDOW_DAYS = 36525  # a century: longer than any store holds, far from datetime's limits
ONE_SECOND_DAYS = 1 / 86400
UNIT_DAYS = {"days": 1.0, "hours": 1 / 24}


def window_length(value: Any, *, option: str = "--days", unit: str = "days", low_days: float = ONE_SECOND_DAYS,
                  high_days: float = MAX_WINDOW_DAYS) -> float | None:
    """A window length given in ``unit`` (days or hours), as that number; BadInput (exit 2)
    naming ``option`` and the value as typed unless it is a finite number whose length in days
    lies in [``low_days``, ``high_days``]."""
    from nbalife.errors import BadInput, cut

    if value is None:
        return None
    text = str(value).strip()
    shown = f"{option} {cut(text if text.isprintable() else repr(text), 40)}"
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError, OverflowError):
        raise BadInput(f"{shown}: not a number of {unit}") from None
    if not number > 0:  # zero, negative, NaN
        raise BadInput(f"{shown}: must be a positive number of {unit}")
    days = number * UNIT_DAYS[unit]
    if days > high_days:  # infinity too
        raise BadInput(f"{shown}: longer than {high_days * 24 if unit == 'hours' else high_days:g} {unit} "
                       f"(a window reaches back {high_days / 365.25:g} years at most)")
    if days < low_days:
        least = f"{low_days:g} day" if low_days >= 1 else f"{low_days * 86400:g} second"
        raise BadInput(f"{shown}: shorter than {least}{'s' if not least.startswith('1 ') else ''}"
                       + (" (this window counts whole days)" if low_days >= 1 else ""))
    return number


def window_option(help: str, *, option: str = "--days", unit: str = "days",  # noqa: A002 - typer's name
                  low_days: float = ONE_SECOND_DAYS) -> Any:
    """The typer Option of a window length: parsed by ``window_length``."""
    parser: Callable[[Any], float | None] = lambda value: window_length(  # noqa: E731
        value, option=option, unit=unit, low_days=low_days)
    return typer.Option(option, help=help, parser=parser, metavar=unit.upper())


Since = Annotated[Optional[dt.date], typer.Option(help="First game date (YYYY-MM-DD).", parser=parse_date,
                                                  metavar="DATE")]
Until = Annotated[Optional[dt.date], typer.Option(help="Last game date (YYYY-MM-DD).", parser=parse_date,
                                                  metavar="DATE")]
Season = Annotated[Optional[str], typer.Option(help="Only this season, e.g. 2023-24.")]
