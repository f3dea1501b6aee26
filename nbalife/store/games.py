"""Queries on the games table."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from sqlalchemy import Connection, func, select

from nbalife.interchange import DIFF_COLUMNS, GAME_COLUMNS
from nbalife.store import schema
from nbalife.store.times import to_db_time
from nbalife.store.engine import lock_for_write
from nbalife.store.upsert import upsert_counting

if TYPE_CHECKING:
    import pandas as pd


def _records(frame: pd.DataFrame, now: dt.datetime) -> list[dict]:
    records = []
    for row in frame[GAME_COLUMNS].to_dict("records"):
        record = {key: row[key] for key in ("game_id", "season", "home", "away")}
        record["game_date"] = dt.date.fromisoformat(str(row["game_date"]))
        record.update({name: int(row[name]) for name in DIFF_COLUMNS})
        final = row["final_diff"]
        record["final_diff"] = None if final is None or final != final or str(final) == "<NA>" else int(final)
        record["ingested_at"] = to_db_time(now)
        records.append(record)
    return records


@dataclass(frozen=True)
class UpsertCounts:
    """How many games an ingest added and how many it replaced."""

    inserted: int
    updated: int


def upsert_games(conn: Connection, frame: pd.DataFrame, now: dt.datetime) -> UpsertCounts:
    """Insert or replace games by ``game_id`` (re-ingesting a game updates it), in ``game_id``
    order, counting inside the write: concurrent ingests of overlapping files report inserts
    that add up to the games stored. Call it first in its transaction (SQLite takes the write
    lock here)."""
    lock_for_write(conn)
    records = _records(frame, now)
    inserted = upsert_counting(conn, schema.games, records, key=["game_id"])
    return UpsertCounts(inserted=inserted, updated=len(records) - inserted)


def read_games(
    conn: Connection,
    *,
    since: dt.date | None = None,
    until: dt.date | None = None,
    season: str | None = None,
    game_ids: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Games in the interchange format, oldest first, filtered by date window or season."""
    import pandas as pd

    table = schema.games
    query = select(*[table.c[name] for name in GAME_COLUMNS]).order_by(table.c.game_date, table.c.game_id)
    if since is not None:
        query = query.where(table.c.game_date >= since)
    if until is not None:
        query = query.where(table.c.game_date <= until)
    if season is not None:
        query = query.where(table.c.season == season)
    if game_ids is not None:
        query = query.where(table.c.game_id.in_(list(game_ids)))
    rows = conn.execute(query).mappings().all()
    frame = pd.DataFrame([dict(r) for r in rows], columns=GAME_COLUMNS)
    frame["game_date"] = frame["game_date"].astype(str)
    frame["final_diff"] = frame["final_diff"].astype("Int64")
    return frame


def count_games(conn: Connection, *, after: dt.date | None = None, until: dt.date | None = None) -> int:
    """How many games have a date after ``after`` (exclusive) and up to ``until`` (inclusive)."""
    table = schema.games
    query = select(func.count()).select_from(table)
    if after is not None:
        query = query.where(table.c.game_date > after)
    if until is not None:
        query = query.where(table.c.game_date <= until)
    return conn.execute(query).scalar_one()


@dataclass(frozen=True)
class SeasonSummary:
    """One season's row of ``data summary``."""

    season: str
    games: int
    first_date: str
    last_date: str
    halftime_mean: float
    halftime_sd: float


def summarize(conn: Connection) -> list[SeasonSummary]:
    """Games per season with the date range and halftime differential mean and SD."""
    table = schema.games
    rows = conn.execute(
        select(
            table.c.season,
            func.count().label("games"),
            func.min(table.c.game_date).label("first"),
            func.max(table.c.game_date).label("last"),
            func.avg(table.c.d24).label("mean"),
            func.avg(table.c.d24 * table.c.d24).label("mean_sq"),
        )
        .group_by(table.c.season)
        .order_by(table.c.season)
    ).all()
    summaries = []
    for row in rows:
        n, mean, mean_sq = row.games, float(row.mean), float(row.mean_sq)
        variance = max(mean_sq - mean * mean, 0.0) * n / (n - 1) if n > 1 else 0.0
        summaries.append(SeasonSummary(row.season, n, str(row.first), str(row.last), mean, variance**0.5))
    return summaries


RESULT_COLUMNS = ["game_id", "season", "game_date", "home", "away", "final_diff"]


def read_results(conn: Connection, *, after: dt.date | None = None,
                 before: dt.date | None = None) -> pd.DataFrame:
    """The finished games (with ``final_diff``), dated after ``after`` and before ``before``
    where given: ids, teams and final margins, oldest first, for team ratings as of a date."""
    import pandas as pd

    table = schema.games
    query = (select(*[table.c[name] for name in RESULT_COLUMNS])
             .where(table.c.final_diff.is_not(None)).order_by(table.c.game_date, table.c.game_id))
    if after is not None:
        query = query.where(table.c.game_date > after)
    if before is not None:
        query = query.where(table.c.game_date < before)
    rows = [tuple(row) for row in conn.execute(query).all()]  # tuples: pandas probes Row objects
    frame = pd.DataFrame(rows, columns=RESULT_COLUMNS, dtype=object)  # no string inference
    frame["game_date"] = frame["game_date"].astype(str)
    frame["final_diff"] = frame["final_diff"].astype(float)
    return frame


def result_totals(conn: Connection, *, until: dt.date) -> tuple[int, float, float]:
    """Count, sum and sum of squares of the final margins of the games finished by ``until``
    (inclusive): a cheap check that a ratings checkpoint still matches the store."""
    table = schema.games
    margin = table.c.final_diff
    count, total, squares = conn.execute(
        select(func.count(margin), func.coalesce(func.sum(margin), 0),
               func.coalesce(func.sum(margin * margin), 0))
        .where(margin.is_not(None), table.c.game_date <= until)).one()
    return int(count), float(total), float(squares)
