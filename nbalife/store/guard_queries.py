"""The prediction-log queries the guardrails ask: stored games no serving version predicted, and
predictions still waiting for their outcome past a cutoff.

Kept apart so they can be replaced by the same-named queries of ``store.predictions``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable

from sqlalchemy import Connection, func, select

from nbalife.store import schema
from nbalife.store.times import from_db_time, to_db_time


@dataclass(frozen=True)
class MissingGame:
    """A stored (played) game with no logged prediction of any serving version."""

    game_id: str
    game_date: dt.date
    home: str
    away: str


def games_without_prediction(conn: Connection, *, since: dt.date, until: dt.date,
                             versions: Iterable[str]) -> list[MissingGame]:
    """Games dated in ``[since, until]`` (both inclusive) that no prediction of ``versions``
    (any arm) covers, oldest first. No version: every game of the window."""
    games, predictions = schema.games, schema.predictions
    versions = sorted(set(versions))
    logged = select(predictions.c.game_id).where(predictions.c.game_id == games.c.game_id)
    if versions:
        logged = logged.where(predictions.c.model_version.in_(versions))
    query = (select(games.c.game_id, games.c.game_date, games.c.home, games.c.away)
             .where(games.c.game_date >= since, games.c.game_date <= until, ~logged.exists())
             .order_by(games.c.game_date, games.c.game_id))
    return [MissingGame(r.game_id, r.game_date if isinstance(r.game_date, dt.date) else
                        dt.date.fromisoformat(str(r.game_date)), r.home, r.away) for r in conn.execute(query)]


@dataclass(frozen=True)
class Unresolved:
    """Predictions created before a cutoff that still have no outcome."""

    n: int
    games: int
    oldest: dt.datetime | None


def unresolved_older_than(conn: Connection, cutoff: dt.datetime) -> Unresolved:
    """How many predictions created before ``cutoff`` have no outcome, of how many games, and
    when the oldest was made."""
    table = schema.predictions
    n, games, oldest = conn.execute(
        select(func.count(table.c.id), func.count(table.c.game_id.distinct()), func.min(table.c.created_at))
        .where(table.c.actual.is_(None), table.c.created_at < to_db_time(cutoff))).one()
    return Unresolved(int(n), int(games), from_db_time(oldest))


def prediction_contexts(conn: Connection, version: str, game_ids: Iterable[str], arm: str = "A") -> set[str]:
    """The distinct ``context`` labels of ``version``'s ``arm`` predictions of ``game_ids``
    ("none" for rows logged before the column existed)."""
    table = schema.predictions
    ids = list(dict.fromkeys(game_ids))
    found: set[str] = set()
    for start in range(0, len(ids), 500):
        found.update(c or "none" for c in conn.execute(
            select(table.c.context).where(table.c.model_version == version, table.c.arm == arm,
                                          table.c.game_id.in_(ids[start:start + 500])).distinct()).scalars())
    return found
