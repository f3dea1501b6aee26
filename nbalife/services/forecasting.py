"""The one forecasting path. ``predict``, the A/B routing, the season runner (``replay``, the
demo) and the promotion and retrain gates all forecast through ``forecast_games``: a model set's
forecasts of a batch of patterns, each game with its teams' strength as of its date (the store's
finished results before it, and the batch's own), so that what a replay or a gate measures is
what production serves. ``forecast`` adds the prediction log; ``forecast_routed`` the running A/B
test's routing."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine

from nbalife.abtest.routing import assign_arm
from nbalife.errors import BadInput, quoted
from nbalife.services.matchups import GameContext, Matchups, game_context
from nbalife.services.model_loading import LoadedModelSet, load_model_set
from nbalife.store import abtests
from nbalife.store.conformal_state import read_state
from nbalife.store.engine import lock_for_write, reachable
from nbalife.store.predictions import Prediction, already_logged, write_predictions
from nbalife.vocab import ARMS

if TYPE_CHECKING:
    import numpy as np

    from nbalife.forecast.conformal import AdaptiveConformal, OnlineState
    from nbalife.forecast.dejavu import Analog
    from nbalife.forecast.modelset import Forecasts, ModelSet
    from nbalife.registry import Registry


@dataclass(frozen=True)
class ForecastRow:
    """One game's forecast, which version forecast it under which arm, and whether it was written
    to the prediction log; ``context`` says what pre-game context it used ("ratings",
    "unknown-team": a team got the mean rating, "none": pattern-only) and ``context_forecast`` is
    the context component's forecast."""

    game_id: str
    forecast: float
    lower: float
    upper: float
    dejavu: float
    lstm: float
    d18: float
    version: str
    arm: str
    logged: bool
    context: str
    context_forecast: float | None


FORECAST_FIELDS = [f.name for f in dataclasses.fields(ForecastRow)]


@dataclass(frozen=True)
class PredictResult:
    """Forecasts of a batch by production (``version``; under an A/B test each row says its own
    version and arm); ``skipped`` games were already logged (use ``again``); nothing is logged
    when ``log`` is false."""

    version: str
    rows: list[ForecastRow]
    logged: int
    skipped: int
    output: Path | None = None
    analogs: list[Analog] = field(default_factory=list)
    log: bool = True

    @property
    def versions(self) -> dict[tuple[str, str], int]:
        """How many rows each (version, arm) forecast, in the order they first appear."""
        counts: dict[tuple[str, str], int] = {}
        for row in self.rows:
            counts[(row.version, row.arm)] = counts.get((row.version, row.arm), 0) + 1
        return counts


def forecast_games(models: ModelSet, patterns: np.ndarray, matchups: Matchups | None,
                   state: OnlineState | None = None) -> tuple[Forecasts, GameContext]:
    """``models``' forecasts of ``patterns`` (d0..d18 per row) with each game's pre-game context
    from ``matchups`` (the games in the same order, and the finished results before them; None:
    pattern-only), and the context each game had; intervals from the conformal layer's online
    ``state`` (None: its starting state)."""
    context = game_context(models, matchups, len(patterns))
    return models.predict(patterns, context.edge, state), context


def serving_state(conn: Connection, models: ModelSet) -> OnlineState | None:
    """The stored online state of the model set's conformal layer (one row), None before its
    first outcome; a corrupt row is BadInput naming the layer."""
    return stored_state(conn, models.conformal)


def stored_state(conn: Connection, layer: AdaptiveConformal) -> OnlineState | None:
    """The stored online state of ``layer`` (one row), None when there is none."""
    from nbalife.forecast.conformal import OnlineState

    stored = read_state(conn, layer.layer_id_)
    if stored is None:
        return None
    return OnlineState.from_dict(stored.state, f"conformal_state row of layer {stored.layer[:12]}")


def forecast(
    engine: Engine,
    loaded: LoadedModelSet,
    game_ids: list[str],
    patterns: np.ndarray,
    *,
    now: dt.datetime,
    arm: str = "A",
    again: bool = False,
    matchups: Matchups | None = None,
    log: bool = True,
) -> PredictResult:
    """Forecast every pattern (``forecast_games``), then log one row per game (already-logged games
    only with ``again``; none without ``log``)."""
    if arm not in ARMS:
        raise BadInput(f"arm {quoted(arm)} is not one of {', '.join(ARMS)}")
    if len(set(game_ids)) != len(game_ids):
        raise BadInput("the same game_id appears more than once in the input")
    with reachable(engine), engine.connect() as conn:  # the conformal layer's online state: one row
        state = serving_state(conn, loaded.models)
    result, context = forecast_games(loaded.models, patterns, matchups, state)
    strength = [None] * len(game_ids) if result.context is None else [float(v) for v in result.context]

    def rows(skip: set[str]) -> list[ForecastRow]:
        return [ForecastRow(game_id, float(result.forecast[i]), float(result.lower[i]), float(result.upper[i]),
                            float(result.dejavu[i]), float(result.lstm[i]), float(patterns[i, -1]), loaded.version,
                            arm, log and game_id not in skip, context.labels[i], strength[i])
                for i, game_id in enumerate(game_ids)]

    if not log:
        return PredictResult(loaded.version, rows(set()), 0, 0, log=False)
    with reachable(engine), engine.begin() as conn:
        lock_for_write(conn)  # SQLite: what is already logged stays true until this commits
        made = rows(set() if again else already_logged(conn, game_ids, arm))
        written = {p.game_id for p in write_predictions(conn, [
            Prediction(r.game_id, arm, r.version, r.forecast, r.lower, r.upper, r.dejavu, r.lstm, r.d18, now,
                       context=r.context)
            for r in made if r.logged
        ], again=again)}
    made = [r if r.logged == (r.game_id in written) else dataclasses.replace(r, logged=r.game_id in written)
            for r in made]  # a concurrent run may have logged a game first
    return PredictResult(loaded.version, made, len(written), len(made) - len(written))


def route(engine: Engine, game_ids: list[str]) -> dict[str, list[tuple[str, str]]]:
    """Which (version, arm) pairs forecast each game under the running A/B test; {} when none runs.

    Split: the champion as ``A`` or the candidate as ``B`` by the sticky hash at the current
    share. Shadow: the champion as ``A`` and the candidate as ``shadow`` for every game.
    """
    with reachable(engine), engine.connect() as conn:
        test = abtests.running_test(conn)
    if test is None:
        return {}
    if test.mode == "shadow":
        return {g: [(test.champion, "A"), (test.candidate, "shadow")] for g in game_ids}
    return {g: [(test.candidate, "B") if assign_arm(test.test_id, g, test.traffic) == "B" else (test.champion, "A")]
            for g in game_ids}


def forecast_routed(engine: Engine, registry: Registry, production: LoadedModelSet, game_ids: list[str],
                    patterns: np.ndarray, *, now: dt.datetime, again: bool = False,
                    matchups: Matchups | None = None, log: bool = True,
                    loaded: dict[str, LoadedModelSet] | None = None) -> PredictResult | None:
    """``predict`` under the running test: each game forecast (and logged) by the (version, arm)
    pairs ``route`` gives it, every model set loaded once for the batch (``loaded``: sets loaded
    before, by version, kept for the next batch), rows in input order. None when no test runs
    (production serves as usual)."""
    routes = route(engine, game_ids)
    if not routes:
        return None
    groups: dict[tuple[str, str], list[int]] = {}
    for i, game_id in enumerate(game_ids):
        for pair in routes[game_id]:
            groups.setdefault(pair, []).append(i)
    cache = {} if loaded is None else loaded
    cache.setdefault(production.version, production)
    for version, _ in groups:
        if version not in cache:
            cache[version] = load_model_set(registry, version)
    rows, logged = [], 0
    for (version, arm), index in groups.items():
        part = forecast(engine, cache[version], [game_ids[i] for i in index], patterns[index], now=now, arm=arm,
                        again=again, matchups=None if matchups is None else matchups.subset(index), log=log)
        rows += zip(index, part.rows)
        logged += part.logged
    ordered = [row for _, row in sorted(rows, key=lambda pair: pair[0])]
    return PredictResult(production.version, ordered, logged, len(ordered) - logged if log else 0, log=log)
