"""Performance sums over the counted predictions, aggregated in the database (SQL GROUP BY)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, ColumnElement, Date, Subquery, and_, case, cast, func, literal, select

from nbalife.store.predictions import Arms, latest_rows
from nbalife.store.times import from_db_time

GROUPINGS = ("version", "arm", "day", "week", "segment")
SEGMENTS = ("close", "medium", "blowout", "unknown")
CLOSE_MAX, MEDIUM_MAX = 5, 12  # |d18| points: close <= 5 < medium <= 12 < blowout


@dataclass(frozen=True)
class Sums:
    """Raw sums of one group; the service turns them into means."""

    group: str
    n: int
    abs_error: float
    sq_error: float
    error: float
    covered: int
    width: float
    dejavu_n: int
    dejavu_abs: float | None
    lstm_n: int
    lstm_abs: float | None
    persistence_n: int
    persistence_abs: float | None
    first: dt.datetime | None
    last: dt.datetime | None


def day_bucket(day: ColumnElement, unit: str, dialect: str) -> ColumnElement:
    """The day, or the Monday of its ISO week, of the date ``day`` as ``YYYY-MM-DD``."""
    if dialect == "postgresql":
        return func.to_char(func.date_trunc(unit, day), "YYYY-MM-DD")
    if unit == "week":  # SQLite: forward to Sunday (or stay), then back six days
        return func.date(day, "weekday 0", "-6 days")
    return func.date(day)


def game_day(latest: Subquery) -> ColumnElement:
    """A counted prediction's day: its game's date (the league's calendar, as the schedule dates
    games), or the UTC date it was made for a prediction whose game is no longer stored."""
    return func.coalesce(latest.c.game_date, cast(latest.c.created_at, Date))


def _segment(d18: ColumnElement) -> ColumnElement:
    return case(
        (d18.is_(None), "unknown"),
        (func.abs(d18) <= CLOSE_MAX, "close"),
        (func.abs(d18) <= MEDIUM_MAX, "medium"),
        else_="blowout",
    )


def window_sums(
    conn: Connection,
    *,
    since: dt.datetime | None,
    until: dt.datetime | None,
    by: str | None = None,
    version: str | tuple[str, ...] | None = None,
    arm: Arms = None,
    last: int | None = None,
) -> list[Sums]:
    """One ``Sums`` per group (``by`` in GROUPINGS, or None for the whole window), ordered by group.

    ``last`` keeps the newest ``last`` counted rows of the window (a window in games). Days and
    weeks are game dates (see ``game_day``). An empty window gives no rows when grouped, and one
    row with n = 0 when not.
    """
    latest = latest_rows(since=since, until=until, version=version, arm=arm, last=last)
    c = latest.c
    keys = {
        None: literal("all"),
        "version": c.version,
        "arm": c.arm,
        "day": day_bucket(game_day(latest), "day", conn.dialect.name),
        "week": day_bucket(game_day(latest), "week", conn.dialect.name),
        "segment": _segment(c.d18),
    }
    key = keys[by].label("grp")
    covered = case((and_(c.actual >= c.lower, c.actual <= c.upper), 1), else_=0)
    query = select(
        key,
        func.count().label("n"),
        func.sum(func.abs(c.error)).label("abs_error"),
        func.sum(c.error * c.error).label("sq_error"),
        func.sum(c.error).label("error"),
        func.sum(covered).label("covered"),
        func.sum(c.upper - c.lower).label("width"),
        func.count(c.dejavu).label("dejavu_n"),
        func.sum(func.abs(c.actual - c.dejavu)).label("dejavu_abs"),
        func.count(c.lstm).label("lstm_n"),
        func.sum(func.abs(c.actual - c.lstm)).label("lstm_abs"),
        func.count(c.d18).label("persistence_n"),
        func.sum(func.abs(c.actual - c.d18)).label("persistence_abs"),
        func.min(c.created_at).label("first"),
        func.max(c.created_at).label("last"),
    )
    if by is not None:
        query = query.group_by(key).order_by(key)
    rows = conn.execute(query).all()
    sums = [
        Sums(str(r.grp), int(r.n), float(r.abs_error or 0.0), float(r.sq_error or 0.0), float(r.error or 0.0),
             int(r.covered or 0), float(r.width or 0.0), int(r.dejavu_n), _float(r.dejavu_abs), int(r.lstm_n),
             _float(r.lstm_abs), int(r.persistence_n), _float(r.persistence_abs),
             from_db_time(r.first), from_db_time(r.last))
        for r in rows
    ]
    if by == "segment":
        sums.sort(key=lambda s: SEGMENTS.index(s.group))
    return sums


def _float(value: object) -> float | None:
    return None if value is None else float(value)
