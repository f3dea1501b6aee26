"""Option types shared by several commands, defined once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, Optional

import typer

from nbalife.window import ONE_SECOND_DAYS, window_length


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


# The one window parser (nbalife.window.window_length) behind every --days of every command.
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
