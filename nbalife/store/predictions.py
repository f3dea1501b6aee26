"""Queries on the prediction log."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable

from sqlalchemy import Connection, and_, insert, select, update

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


def read_predictions(
    conn: Connection,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    resolved_only: bool = False,
    arm: str | None = None,
    version: str | None = None,
) -> list[Prediction]:
    """Predictions in a time window (computed by the caller), oldest first."""
    table = schema.predictions
    query = select(table).order_by(table.c.created_at, table.c.id)
    if since is not None:
        query = query.where(table.c.created_at >= to_db_time(since))
    if until is not None:
        query = query.where(table.c.created_at < to_db_time(until))
    if resolved_only:
        query = query.where(table.c.actual.is_not(None))
    if arm is not None:
        query = query.where(table.c.arm == arm)
    if version is not None:
        query = query.where(table.c.model_version == version)
    return [
        Prediction(r.game_id, r.arm, r.model_version, r.forecast, r.lower, r.upper, r.dejavu, r.lstm,
                   r.d18, from_db_time(r.created_at), r.actual, r.error)
        for r in conn.execute(query).all()
    ]
