"""Queries on the prediction log."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Iterable

from sqlalchemy import Connection, Subquery, and_, bindparam, func, select, update

from nbalife.errors import BadInput, quoted
from nbalife.store import schema
from nbalife.store.engine import lock_for_write
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


SERVING_ARMS = ("A", "B")  # what production served: A, and B in a split test; shadow is never served


def check_values(prediction: Prediction) -> None:
    """Refuse a figure the store would refuse (non-finite or beyond ``schema.value_limit``), naming
    the game, the column and the value; the CHECK constraints hold the same rule in the database."""
    for name in ("forecast", "lower", "upper", "dejavu", "lstm", "d18", "actual", "error"):
        value = getattr(prediction, name)
        if value is None and name not in ("forecast", "lower", "upper"):
            continue
        limit = schema.value_limit(name)
        if not isinstance(value, (int, float)) or not math.isfinite(value) or abs(value) > limit:
            raise BadInput(f"prediction of game {quoted(prediction.game_id)} ({prediction.arm}, "
                           f"{prediction.model_version}): {name} = {quoted(value)} is not a finite number "
                           f"within ±{limit:g}")


def _key(p: Prediction) -> tuple[str, str, str]:
    return (p.game_id, p.arm, p.model_version)


def _current_ids(conn: Connection, keys: list[tuple[str, str, str]]) -> dict[tuple[str, str, str], int]:
    """The id of the counted row of each key that has one."""
    table = schema.predictions
    found: dict[tuple[str, str, str], int] = {}
    by_group: dict[tuple[str, str], list[str]] = {}
    for game_id, arm, version in keys:
        by_group.setdefault((arm, version), []).append(game_id)
    for (arm, version), game_ids in by_group.items():
        for chunk in _chunks(game_ids):
            rows = conn.execute(select(table.c.id, table.c.game_id).where(
                table.c.arm == arm, table.c.model_version == version, table.c.game_id.in_(chunk),
                table.c.superseded_by.is_(None)))
            found.update({(r.game_id, arm, version): r.id for r in rows})
    return found


def _insert_new(conn: Connection, rows: list[dict]) -> dict[tuple[str, str, str], int]:
    """Insert ``rows`` as counted rows; a key that already has a counted row (written meanwhile by a
    concurrent run) is skipped by the database. Returns the new id of each key written."""
    table = schema.predictions
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    statement = (dialect_insert(table)
                 .on_conflict_do_nothing(index_elements=["game_id", "arm", "model_version"],
                                         index_where=table.c.superseded_by.is_(None))
                 .returning(table.c.id, table.c.game_id, table.c.arm, table.c.model_version))
    written: dict[tuple[str, str, str], int] = {}
    for start in range(0, len(rows), 1000):
        for r in conn.execute(statement, rows[start : start + 1000]):
            written[(r.game_id, r.arm, r.model_version)] = r.id
    return written


def write_predictions(conn: Connection, predictions: list[Prediction], *, again: bool) -> list[Prediction]:
    """Append predictions (unresolved) and keep "one prediction per game counts" in the same
    transaction: each new row becomes the counted row of its (game, arm, version) and the row it
    replaces points to it through ``superseded_by``. Without ``again`` a key that already has a
    counted row is not written. The partial unique index on the counted row makes a concurrent
    writer of the same key skip it (PostgreSQL waits for the first to commit; SQLite writers hold
    the write lock, taken here before anything is read). Returns the predictions written.

    A key given more than once is written in order, so its last occurrence counts."""
    for prediction in predictions:
        check_values(prediction)
    if not predictions:
        return []
    lock_for_write(conn)
    rounds: list[list[Prediction]] = []
    seen: dict[tuple[str, str, str], int] = {}
    for prediction in predictions:
        occurrence = seen.get(_key(prediction), 0)
        seen[_key(prediction)] = occurrence + 1
        if occurrence == len(rounds):
            rounds.append([])
        rounds[occurrence].append(prediction)
    table = schema.predictions
    db_times = {moment: to_db_time(moment) for moment in {p.created_at for p in predictions}}
    written: list[Prediction] = []
    for batch in rounds:
        current = _current_ids(conn, [_key(p) for p in batch])
        if not again:
            batch = [p for p in batch if _key(p) not in current]
        replaced = sorted(current[_key(p)] for p in batch if _key(p) in current)
        for chunk in range(0, len(replaced), 500):  # pending: the row points to itself until its successor exists
            conn.execute(update(table).where(table.c.id.in_(replaced[chunk : chunk + 500]),
                                             table.c.superseded_by.is_(None))
                         .values(superseded_by=table.c.id))
        new_ids = _insert_new(conn, [{**p.__dict__, "created_at": db_times[p.created_at], "actual": None,
                                      "error": None} for p in batch])
        links = [{"old": current[key], "new": new_id} for key, new_id in new_ids.items() if key in current]
        if links:
            conn.execute(update(table).where(table.c.id == bindparam("old")).values(superseded_by=bindparam("new")),
                         links)
        lost = [current[_key(p)] for p in batch if _key(p) in current and _key(p) not in new_ids]
        if lost:  # a concurrent run wrote the key first: its row already superseded this one
            conn.execute(update(table).where(table.c.id.in_(lost), table.c.superseded_by == table.c.id)
                         .values(superseded_by=None))
        written.extend(p for p in batch if _key(p) in new_ids)
    return written


def log_predictions(conn: Connection, predictions: list[Prediction]) -> int:
    """Append predictions, each superseding the counted row of its (game, arm, version); returns
    how many rows were written."""
    return len(write_predictions(conn, predictions, again=True))


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
class Correction:
    """A game whose stored halftime result no longer matches the outcome its predictions hold."""

    game_id: str
    old_actual: float
    new_actual: float
    predictions: int


def changed_results(conn: Connection, game_ids: list[str] | None = None) -> list[Correction]:
    """Games whose resolved predictions hold an ``actual`` other than the game's ``d24`` now (a
    result corrected after the predictions were resolved), by game id."""
    predictions, games = schema.predictions, schema.games
    query = (select(predictions.c.game_id, predictions.c.actual, games.c.d24, func.count().label("n"))
             .join(games, games.c.game_id == predictions.c.game_id)
             .where(predictions.c.actual.is_not(None), predictions.c.actual != games.c.d24)
             .group_by(predictions.c.game_id, predictions.c.actual, games.c.d24)
             .order_by(predictions.c.game_id, predictions.c.actual))
    if game_ids:
        query = query.where(predictions.c.game_id.in_(game_ids))
    return [Correction(r.game_id, float(r.actual), float(r.d24), int(r.n)) for r in conn.execute(query)]


def re_resolve(conn: Connection, game_ids: list[str], *, now: dt.datetime) -> int:
    """Set ``actual`` and ``error`` of every resolved prediction of ``game_ids`` from the games
    table again; returns how many rows changed."""
    predictions, games = schema.predictions, schema.games
    halftime = select(games.c.d24).where(games.c.game_id == predictions.c.game_id).scalar_subquery()
    changed = 0
    for chunk in _chunks(game_ids):
        changed += conn.execute(
            update(predictions)
            .where(predictions.c.game_id.in_(chunk), predictions.c.actual.is_not(None),
                   predictions.c.actual != halftime)
            .values(actual=halftime, error=halftime - predictions.c.forecast, resolved_at=to_db_time(now))
        ).rowcount
    return changed


@dataclass(frozen=True)
class ResolvedPrediction:
    """The counted prediction of one (game, arm, version) with its outcome; ``d18`` as logged (the
    games table's when the row has none)."""

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


Arms = str | tuple[str, ...] | None


def _in(column, value):  # noqa: ANN001, ANN202 - one value or a tuple of them
    return column.in_(value) if isinstance(value, tuple) else column == value


def latest_rows(
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    version: str | tuple[str, ...] | None = None,
    arm: Arms = None,
    last: int | None = None,
) -> Subquery:
    """The rule "one prediction per game, arm and version counts", as a subquery.

    The counted row of each (game_id, arm, model_version) is the one no later write superseded
    (``superseded_by`` is NULL; kept by ``write_predictions``), so this is a range scan of the
    partial index on created_at, whatever the shape of the log. Among the counted rows created in
    ``[since, until)`` (of ``version`` and ``arm``, each one value or a tuple, if given) those with
    an outcome are kept; ``last`` keeps only the newest ``last`` of them (by created_at, then id).
    ``d18`` is the one logged with the prediction (what it forecast from; the games table's when
    the row has none), ``game_date`` the game's date from the games table.
    """
    table, games = schema.predictions, schema.games
    conditions = [table.c.superseded_by.is_(None), table.c.actual.is_not(None)]
    if since is not None:
        conditions.append(table.c.created_at >= to_db_time(since))
    if until is not None:
        conditions.append(table.c.created_at < to_db_time(until))
    if version is not None:
        conditions.append(_in(table.c.model_version, version))
    if arm is not None:
        conditions.append(_in(table.c.arm, arm))
    if last is not None:
        newest = (select(table.c.id).where(*conditions)
                  .order_by(table.c.created_at.desc(), table.c.id.desc()).limit(last).subquery("newest"))
        conditions.append(table.c.id.in_(select(newest.c.id)))
    # Correlated look-ups rather than a join: the games table is read only for a row that logged
    # no d18, and for the game date only when a query groups by day (a join costs a look-up per row).
    game_d18 = select(games.c.d18).where(games.c.game_id == table.c.game_id).scalar_subquery()
    game_date = select(games.c.game_date).where(games.c.game_id == table.c.game_id).scalar_subquery()
    query = (
        select(table.c.id, table.c.game_id, table.c.arm, table.c.model_version.label("version"),
               table.c.created_at, table.c.forecast, table.c.lower, table.c.upper, table.c.dejavu,
               table.c.lstm, table.c.actual, table.c.error,
               func.coalesce(table.c.d18, game_d18).label("d18"), game_date.label("game_date"))
        .where(*conditions)
    )
    return query.subquery("latest")


def latest_resolved(
    conn: Connection,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    version: str | tuple[str, ...] | None = None,
    arm: Arms = None,
    last: int | None = None,
) -> list[ResolvedPrediction]:
    """The counted predictions of a window (see ``latest_rows``), by created_at then game_id."""
    latest = latest_rows(since=since, until=until, version=version, arm=arm, last=last)
    rows = conn.execute(select(latest).order_by(latest.c.created_at, latest.c.game_id, latest.c.arm,
                                                latest.c.version)).all()
    return [
        ResolvedPrediction(r.game_id, r.arm, r.version, from_db_time(r.created_at), r.forecast, r.lower,
                           r.upper, r.dejavu, r.lstm, r.actual, r.error,
                           None if r.d18 is None else float(r.d18))
        for r in rows
    ]


def latest_resolved_games(
    conn: Connection,
    n: int,
    *,
    until: dt.datetime | None = None,
    version: str | tuple[str, ...] | None = None,
    arm: Arms = SERVING_ARMS,
) -> list[ResolvedPrediction]:
    """The last ``n`` resolved games of the serving arms (A, and B in a split test; or ``arm``)
    created before ``until``: their counted rows, oldest first. A window in games, whatever the
    schedule: a quiet week and a busy night weigh the same."""
    return latest_resolved(conn, until=until, version=version, arm=arm, last=n)


def window_start(
    conn: Connection,
    n: int,
    *,
    until: dt.datetime | None = None,
    version: str | tuple[str, ...] | None = None,
    arm: Arms = SERVING_ARMS,
) -> dt.datetime | None:
    """When the first of the last ``n`` resolved games of ``arm`` was predicted (None when none)."""
    latest = latest_rows(until=until, version=version, arm=arm, last=n)
    return from_db_time(conn.execute(select(func.min(latest.c.created_at))).scalar())


def games_without_prediction(
    conn: Connection,
    *,
    since: dt.date,
    until: dt.date,
    versions: tuple[str, ...] | None = None,
    arms: tuple[str, ...] = SERVING_ARMS,
) -> list[str]:
    """Games in the store dated ``since``..``until`` (league dates, both inclusive) that have no
    logged prediction of ``arms`` (by one of ``versions``, when given), by date then id."""
    games, table = schema.games, schema.predictions
    logged = select(table.c.id).where(table.c.game_id == games.c.game_id, table.c.arm.in_(arms))
    if versions is not None:
        logged = logged.where(table.c.model_version.in_(versions))
    query = (select(games.c.game_id)
             .where(games.c.game_date >= since, games.c.game_date <= until, ~logged.exists())
             .order_by(games.c.game_date, games.c.game_id))
    return list(conn.execute(query).scalars())


def unresolved_older_than(conn: Connection, cutoff: dt.datetime, *, since: dt.datetime | None = None,
                          arms: tuple[str, ...] | None = None) -> list[str]:
    """Games whose counted prediction (of ``arms``, default any) was made before ``cutoff`` (and at
    or after ``since``, when given) and still has no outcome: results not synced. By game id."""
    table = schema.predictions
    query = (select(table.c.game_id)
             .where(table.c.superseded_by.is_(None), table.c.actual.is_(None),
                    table.c.created_at < to_db_time(cutoff))
             .distinct().order_by(table.c.game_id))
    if since is not None:
        query = query.where(table.c.created_at >= to_db_time(since))
    if arms is not None:
        query = query.where(table.c.arm.in_(arms))
    return list(conn.execute(query).scalars())


def first_prediction_at(conn: Connection, *, arms: tuple[str, ...] = SERVING_ARMS) -> dt.datetime | None:
    """When the first prediction of ``arms`` was logged (None before any)."""
    table = schema.predictions
    return from_db_time(conn.execute(select(func.min(table.c.created_at)).where(table.c.arm.in_(arms))).scalar())


def quarantined_count(conn: Connection) -> int:
    """Rows set aside by the upgrade that added the value checks (never counted)."""
    return int(conn.execute(select(func.count()).select_from(schema.quarantined_predictions)).scalar_one())
