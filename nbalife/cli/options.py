"""Option types shared by several commands, defined once."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Optional

import typer


def parse_date(value: str | None) -> dt.date | None:
    """An ISO date option; a bad one is a usage error (exit 2) naming the value."""
    from nbalife.errors import quoted
    from nbalife.interchange import parse_game_date

    if value is None:
        return None
    day = parse_game_date(value) if len(value.strip()) == 10 else None
    if day is None:
        raise typer.BadParameter(f"{quoted(value)} is not a date (YYYY-MM-DD)")
    return day



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
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


Since = Annotated[Optional[str], typer.Option(help="First game date (YYYY-MM-DD).")]
Until = Annotated[Optional[str], typer.Option(help="Last game date (YYYY-MM-DD).")]
Season = Annotated[Optional[str], typer.Option(help="Only this season, e.g. 2023-24.")]
