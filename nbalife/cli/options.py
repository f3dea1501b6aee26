"""Option types shared by several commands, defined once."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Optional

import typer


def parse_date(value: str | None) -> dt.date | None:
    """An ISO date option; a bad one is a usage error (exit 2) naming the value."""
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


Since = Annotated[Optional[str], typer.Option(help="First game date (YYYY-MM-DD).")]
Until = Annotated[Optional[str], typer.Option(help="Last game date (YYYY-MM-DD).")]
Season = Annotated[Optional[str], typer.Option(help="Only this season, e.g. 2023-24.")]
