"""Queries on the prediction log."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable

from sqlalchemy import Connection, Subquery, and_, insert, or_, select, update

from nbalife.store import schema
from nbalife.store.times import from_db_time, to_db_time


@dataclass(frozen=True)
class Prediction:
    """One logged forecast of one game by one model arm."""

    game_id: str
    arm: str
    model_version: str
    forecast: float
    lower: float
    upper: float
    dejavu: float | None
    lstm: float | None
    d18: float | None
    created_at: dt.datetime
    actual: float | None = None
    error: float | None = None
    context: str | None = None  # "ratings", "unknown-team" or "none" (pattern-only)


def log_predictions(conn: Connection, predictions: list[Prediction]) -> int:
    """Append predictions (unresolved: no actual, no error) to the log; returns how many rows
    were written. One executemany with bound parameters."""
    if not predictions:
        return 0
    db_times = {moment: to_db_time(moment) for moment in {p.created_at for p in predictions}}
    rows = [{**p.__dict__, "created_at": db_times[p.created_at], "actual": None, "error": None}
            for p in predictions]
    conn.execute(insert(schema.predictions), rows)
    return len(rows)


def _chunks(ids: Iterable[str], size: int = 500) -> Iterable[list[str]]:
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), size):
        yield unique[start : start + size]


def already_logged(conn: Connection, game_ids: Iterable[str], arm: str) -> set[str]:
    """The game ids among ``game_ids`` that already have a prediction for ``arm``."""
    table = schema.predictions
    found: set[str] = set()
    for chunk in _chunks(game_ids):
        found.update(conn.execute(
            select(table.c.game_id).where(table.c.arm == arm, table.c.game_id.in_(chunk)).distinct()
        ).scalars())
    return found


def logged_game_ids(conn: Connection, game_ids: Iterable[str]) -> set[str]:
    """The game ids among ``game_ids`` with at least one logged prediction (any arm)."""
    table = schema.predictions
    found: set[str] = set()
    for chunk in _chunks(game_ids):
        found.update(conn.execute(select(table.c.game_id).where(table.c.game_id.in_(chunk)).distinct()).scalars())
    return found


def unresolved_game_ids(conn: Connection, game_ids: list[str] | None = None) -> list[str]:
    """Game ids with at least one prediction still missing its outcome."""
    table = schema.predictions
    query = select(table.c.game_id).where(table.c.actual.is_(None)).distinct()
    if game_ids:
        query = query.where(table.c.game_id.in_(game_ids))
    return list(conn.execute(query).scalars())


def resolve(conn: Connection, *, now: dt.datetime, game_ids: list[str] | None = None) -> int:
    """Fill ``actual`` and ``error`` from the games table for every unresolved prediction.

    One UPDATE with correlated sub-queries, so it is idempotent and runs the same on
    SQLite and PostgreSQL; returns the number of predictions resolved.
    """
    predictions, games = schema.predictions, schema.games
    halftime = (
        select(games.c.d24).where(games.c.game_id == predictions.c.game_id).scalar_subquery()
    )
    has_game = select(games.c.game_id).where(games.c.game_id == predictions.c.game_id).exists()
    statement = update(predictions).where(and_(predictions.c.actual.is_(None), has_game))
    if game_ids:
        statement = statement.where(predictions.c.game_id.in_(game_ids))
    result = conn.execute(
        statement.values(actual=halftime, error=halftime - predictions.c.forecast, resolved_at=to_db_time(now))
    )
    return result.rowcount


@dataclass(frozen=True)
class ResolvedPrediction:
    """The latest prediction of one (game, arm, version) with its outcome; ``d18`` from the games table."""

    game_id: str
    arm: str
    version: str
    created_at: dt.datetime
    forecast: float
    lower: float
    upper: float
    dejavu: float | None
    lstm: float | None
    actual: float
    error: float
    d18: float | None


def latest_rows(
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    version: str | tuple[str, ...] | None = None,
    arm: str | None = None,
) -> Subquery:
    """The rule "one prediction per game and arm counts", as a subquery.

    Among the predictions created in ``[since, until)`` (and of ``version``, one or a tuple of
    them, and ``arm`` if given),
    only the latest row per (game_id, arm, model_version) is kept: newest ``created_at``, ties
    broken by the highest id. It counts once it has an outcome (``actual`` not null); an older
    row superseded by a re-prediction never does. The subquery joins ``d18`` from the games table.

    "Latest" is an anti-join (no newer row of the same key in the window), which both backends
    run as index probes or a hash anti-join, without sorting the window.
    """
    table, games = schema.predictions, schema.games
    newer = schema.predictions.alias("newer")
    superseded = (
        select(newer.c.id)
        .where(newer.c.game_id == table.c.game_id, newer.c.arm == table.c.arm,
               newer.c.model_version == table.c.model_version, newer.c.created_at >= table.c.created_at,
               or_(newer.c.created_at > table.c.created_at, newer.c.id > table.c.id))
    )
    query = (
        select(table.c.game_id, table.c.arm, table.c.model_version.label("version"), table.c.created_at,
               table.c.forecast, table.c.lower, table.c.upper, table.c.dejavu, table.c.lstm, table.c.actual,
               table.c.error, games.c.d18)
        .select_from(table.outerjoin(games, games.c.game_id == table.c.game_id))
        .where(table.c.actual.is_not(None))
    )
    if since is not None:  # repeated on the newer rows so a planner can range-scan them too
        query = query.where(table.c.created_at >= to_db_time(since))
        superseded = superseded.where(newer.c.created_at >= to_db_time(since))
    if until is not None:
        query = query.where(table.c.created_at < to_db_time(until))
        superseded = superseded.where(newer.c.created_at < to_db_time(until))
    if isinstance(version, tuple):
        query = query.where(table.c.model_version.in_(version))
    elif version is not None:
        query = query.where(table.c.model_version == version)
    if arm is not None:
        query = query.where(table.c.arm == arm)
    return query.where(~superseded.exists()).subquery("latest")


def latest_resolved(
    conn: Connection,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    version: str | tuple[str, ...] | None = None,
    arm: str | None = None,
) -> list[ResolvedPrediction]:
    """The counted predictions of a window (see ``latest_rows``), by created_at then game_id."""
    latest = latest_rows(since=since, until=until, version=version, arm=arm)
    rows = conn.execute(select(latest).order_by(latest.c.created_at, latest.c.game_id, latest.c.arm,
                                                latest.c.version)).all()
    return [
        ResolvedPrediction(r.game_id, r.arm, r.version, from_db_time(r.created_at), r.forecast, r.lower,
                           r.upper, r.dejavu, r.lstm, r.actual, r.error,
                           None if r.d18 is None else float(r.d18))
        for r in rows
    ]
