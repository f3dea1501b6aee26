"""Times in the store are naive UTC, so SQLite and PostgreSQL agree."""

from __future__ import annotations

import datetime as dt


def to_db_time(moment: dt.datetime) -> dt.datetime:
    """Store times as naive UTC so SQLite and PostgreSQL agree."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return moment


def from_db_time(moment: dt.datetime | None) -> dt.datetime | None:
    """Naive UTC from the store back to an aware datetime."""
    return None if moment is None else moment.replace(tzinfo=dt.timezone.utc)
