"""``dejavu update``, ``query`` and ``stats``: production's pattern database.

An update adds the finished games of the store that production's database lacks and keeps the
``dejavu.max_size`` most recent (the sliding window). Only games dated before the cutoff may
enter: the day of the clock ``now`` (UTC) is excluded, since its games may still be playing, and
``until`` (inclusive) may move the cutoff earlier, never later. The result is a minor version
of production with the same LSTM, ensemble and conformal layer.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from nbalife.config import Settings
from nbalife.errors import BadInput
from nbalife.registry import ChangeKind, Registry
from nbalife.services.derived import register_derived, run_on_production
from nbalife.services.registry import promote, waiting_for_freeze
from nbalife.store.engine import reachable
from nbalife.store.games import read_games

EVENT_KIND = "dejavu_update"
LOCK = "dejavu"
METADATA_KEY = "dejavu_update"


@dataclass(frozen=True)
class UpdateResult:
    """What an update found and did; ``version`` is None when there was nothing to do."""

    production: str
    cutoff: dt.date
    candidates: int  # finished games in the store's window
    added: int
    dropped: int
    size_before: int
    size_after: int
    first_date: str
    last_date: str
    version: str | None
    promoted: bool
    refused: str | None = None  # why the promotion gate kept it from production
    retired: tuple[str, ...] = ()  # earlier Dejavu candidates that waited and are stale now


@dataclass(frozen=True)
class Stats:
    """Production's pattern database."""

    version: str
    size: int
    k: int
    aggregation: str
    first_date: str
    last_date: str
    seasons: dict[str, int]


def _cutoff(now: dt.datetime, until: dt.date | None) -> dt.date:
    """The last game date that may enter: the day before ``now``, or ``until`` if earlier."""
    latest = now.astimezone(dt.timezone.utc).date() - dt.timedelta(days=1)
    if until is None:
        return latest
    if until > latest:
        raise BadInput(f"--until {until}: only games finished before today ({latest + dt.timedelta(days=1)}) "
                       "may enter the pattern database")
    return until


def update(engine: Engine, registry: Registry, settings: Settings, *, now: dt.datetime,
           since: dt.date | None = None, until: dt.date | None = None) -> UpdateResult:
    """Add the missing finished games in ``[since, cutoff]``, apply the sliding window, register a
    minor version and promote it when ``dejavu.auto_promote``. Takes the ``dejavu`` run lock and
    records one ``dejavu_update`` event, also when it fails half-way."""
    cutoff = _cutoff(now, until)
    if since is not None and since > cutoff:
        raise BadInput(f"--since {since} is after the cutoff {cutoff}")
    inputs: dict[str, Any] = {"since": since, "until": until, "cutoff": cutoff}
    return run_on_production(
        engine, registry, lock=LOCK, kind=EVENT_KIND, inputs=inputs, now=now,
        job=lambda: _update(engine, registry, settings, now=now, since=since, cutoff=cutoff),
        outcome=lambda result: (
            "nothing_to_do" if result.version is None else "promoted" if result.promoted else "registered",
            result.version or result.production,
            {k: v for k, v in dataclasses.asdict(result).items() if k != "cutoff"}))


def _update(engine: Engine, registry: Registry, settings: Settings, *, now: dt.datetime,
            since: dt.date | None, cutoff: dt.date) -> UpdateResult:
    from nbalife.forecast.dejavu import Dejavu
    from nbalife.forecast.patterns import to_arrays

    production = registry.load_production()
    model = Dejavu.load(production.path)
    before = set(model.game_ids_.tolist())
    with reachable(engine), engine.connect() as conn:
        games = read_games(conn, since=since, until=cutoff)
    fresh = games[~games["game_id"].astype(str).isin(before)]
    result = UpdateResult(production.version, cutoff, len(games), 0, 0, model.n_patterns_,
                          model.n_patterns_, str(model.dates_.min()), str(model.dates_.max()), None, False)
    if fresh.empty:
        return result
    new = to_arrays(fresh)
    model.update(new.X, new.moves, new.game_ids, new.dates, new.home, new.away,
                 max_size=settings.dejavu.max_size)
    after = set(model.game_ids_.tolist())
    added, dropped = len(after - before), len(before - after)
    if not added:  # every missing game is older than the window keeps
        return result
    record = {"added": added, "dropped": dropped, "size": int(model.n_patterns_), "cutoff": cutoff.isoformat(),
              "first_date": str(model.dates_.min()), "last_date": str(model.dates_.max())}
    description = (f"Dejavu update of {production.version}: +{added} games up to {cutoff}, -{dropped} "
                   f"(window {settings.dejavu.max_size}), {model.n_patterns_} patterns")
    window = {**(production.info.training_window or {}), "last_date": record["last_date"]}
    info = register_derived(registry, production, model.save, ChangeKind.DEJAVU_UPDATE,
                            description=description, metrics=dict(production.info.metrics),
                            params={**production.info.params, METADATA_KEY: record},
                            training_window=window, now=now)
    refused = None
    if settings.dejavu.auto_promote:
        promotion = promote(registry, engine, settings, info.version, now=now,
                            reason=f"dejavu update: {description}")
        refused = promotion.failure or waiting_for_freeze(promotion)
    return UpdateResult(production.version, cutoff, len(games), added, dropped, result.size_before,
                        int(model.n_patterns_), record["first_date"], record["last_date"], info.version,
                        settings.dejavu.auto_promote and refused is None, refused, info.retired)


def _production_dejavu(registry: Registry) -> tuple[str, Any]:
    from nbalife.forecast.dejavu import Dejavu

    production = registry.load_production()
    return production.version, Dejavu.load(production.path)


@dataclass(frozen=True)
class QueryResult:
    """The analogs of one pattern in production's database, nearest first."""

    version: str
    pattern: list[float]
    analogs: list[Any]


def query(registry: Registry, pattern: str, k: int = 10) -> QueryResult:
    """The ``k`` analog games of a ``"0,2,…"`` pattern (the interchange rules apply) in
    production's database, nearest first."""
    from nbalife.services.predict import parse_pattern

    values = parse_pattern("query", pattern)
    version, model = _production_dejavu(registry)
    if k > model.n_patterns_:
        raise BadInput(f"--k {k}: the pattern database of {version} holds {model.n_patterns_} games")
    return QueryResult(version, values, model.explain(values, k))


def stats(registry: Registry) -> Stats:
    """Size, parameters, date range and games per season of production's database."""
    import numpy as np

    version, model = _production_dejavu(registry)
    years = model.dates_.astype("datetime64[Y]").astype(int) + 1970
    months = model.dates_.astype("datetime64[M]").astype(int) % 12 + 1
    start = np.where(months >= 8, years, years - 1)  # a season runs from autumn into spring
    labels, counts = np.unique([f"{y}-{(y + 1) % 100:02d}" for y in start], return_counts=True)
    return Stats(version, int(model.n_patterns_), int(model.k), str(model.aggregation),
                 str(model.dates_.min()), str(model.dates_.max()),
                 {str(label): int(count) for label, count in zip(labels, counts)})
