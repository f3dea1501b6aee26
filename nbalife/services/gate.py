"""The promotion gate as operators run it: a candidate and production scored on the same recent
finished games that neither was trained on, or, failing that, their recorded held-out metrics."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from nbalife.config import Settings
from nbalife.registry import Gate, GateResult, Registry, VersionInfo

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy import Engine

    from nbalife.forecast.modelset import Forecasts
    from nbalife.services.model_loading import LoadedModelSet

HELD_OUT = "held-out metrics"
RECENT = "recent games"


def gate_of(settings: Settings) -> Gate:
    """The promotion gate's rules from configuration."""
    cfg = settings.registry
    return Gate(max_mae=cfg.gate_max_mae, min_coverage=cfg.gate_min_coverage,
                min_improvement=cfg.gate_min_improvement,
                max_vs_persistence=cfg.gate_max_vs_persistence)


def judge(
    settings: Settings,
    engine: Engine,
    registry: Registry,
    info: VersionInfo,
    candidate: LoadedModelSet,
    production: VersionInfo | None,
    *,
    now: dt.datetime,
) -> GateResult:
    """Score ``candidate`` (the loaded set of ``info``) and ``production`` on the most recent
    ``registry.gate_games`` games after both training windows (up to ``now``) and apply the gate
    to those figures; with no production, an unknown window, production unloadable or fewer
    than ``registry.gate_min_games`` such games, apply it to the metadata's held-out metrics."""
    from nbalife.errors import BadInput
    from nbalife.services.model_loading import load_model_set

    gate = gate_of(settings)
    if production is None:
        return _held_out(gate, info, None, "no production model set to compare with")
    ends = (window_end(info), window_end(production))
    if None in ends:
        return _held_out(gate, info, production, "a training window's last_date is not recorded")
    cutoff = max(ends)
    games = games_after(engine, cutoff, now.date(), settings.registry.gate_games)
    if len(games) < settings.registry.gate_min_games:
        return _held_out(gate, info, production, f"only {len(games)} finished games after {cutoff} "
                                                 f"(the gate needs {settings.registry.gate_min_games})")
    try:
        champion = load_model_set(registry, production.version)
    except BadInput as exc:
        return _held_out(gate, info, production, f"production cannot be loaded ({exc})")
    served = served_forecasts(engine, candidate, games)  # once: scored, then set against its parts
    mine, theirs = scores_of(games, served), score_on_games(engine, champion, games)
    reasons = tuple(gate.failures(mine, theirs)) + ensemble_against_its_parts(games, served)
    return GateResult(
        info.version, production.version, not reasons, reasons, RECENT,
        f"both scored on the {len(games)} most recent games after {cutoff}", len(games),
        str(games["game_date"].iloc[0]), str(games["game_date"].iloc[-1]),
        mine["mae"], mine["coverage"], theirs["mae"], theirs["coverage"], *_rules(gate),
    )


def _held_out(gate: Gate, info: VersionInfo, production: VersionInfo | None, why: str) -> GateResult:
    reasons = gate(info, production).failures
    theirs = {} if production is None else production.metrics
    return GateResult(
        info.version, None if production is None else production.version, not reasons, reasons, HELD_OUT,
        f"{why}: judged on each version's recorded held-out metrics", int(_figure(info.metrics, "evaluated_games") or 0),
        None, None, _figure(info.metrics, "mae"), _figure(info.metrics, "coverage"),
        _figure(theirs, "mae"), _figure(theirs, "coverage"), *_rules(gate),
    )


def _rules(gate: Gate) -> tuple[float | None, float | None, float | None]:
    return gate.max_mae, gate.min_coverage, gate.min_improvement


def _figure(metrics: dict[str, Any], name: str) -> float | None:
    from nbalife.registry.gate import is_number

    value = metrics.get(name)
    return float(value) if is_number(value) else None


def window_end(info: VersionInfo) -> dt.date | None:
    """The last game date a model set was fitted on (``training_window.last_date``)."""
    window = info.training_window or {}
    try:
        return dt.date.fromisoformat(str(window["last_date"]))
    except (KeyError, ValueError):
        return None


def games_after(engine: Engine, cutoff: dt.date, until: dt.date, limit: int) -> pd.DataFrame:
    """The ``limit`` most recent stored games dated after ``cutoff`` and up to ``until``."""
    from nbalife.store.engine import reachable
    from nbalife.store.games import read_games

    with reachable(engine), engine.connect() as conn:
        games = read_games(conn, since=cutoff + dt.timedelta(days=1), until=until)
    return games.tail(limit).reset_index(drop=True)


def served_forecasts(engine: Engine, loaded: LoadedModelSet, games: pd.DataFrame) -> Forecasts:
    """``loaded``'s forecasts of ``games`` as production serves them (``services.forecasting``:
    each game with its teams' strength from the store's results before its date)."""
    import numpy as np

    from nbalife.interchange import PATTERN_COLUMNS
    from nbalife.services.forecasting import forecast_games
    from nbalife.services.matchups import with_store

    patterns = games[PATTERN_COLUMNS].to_numpy(dtype=np.float32)
    return forecast_games(loaded.models, patterns, with_store(engine, games, loaded.models))[0]


def scores_of(games: pd.DataFrame, forecasts: Forecasts) -> dict[str, float]:
    """The ensemble's MAE, interval coverage and paired difference from persistence on ``games``."""
    from nbalife.forecast.metrics import score_forecasts

    scores = score_forecasts(games["d24"].to_numpy(dtype=float), games["d18"].to_numpy(dtype=float), forecasts)
    ensemble = next(s for s in scores if s.model == "ensemble")
    return {"mae": ensemble.mae, "coverage": ensemble.coverage,
            "vs_persistence": ensemble.vs_persistence, "vs_persistence_se": ensemble.vs_persistence_se}


def score_on_games(engine: Engine, loaded: LoadedModelSet, games: pd.DataFrame) -> dict[str, float]:
    """``scores_of`` ``loaded``'s served forecasts of ``games``."""
    return scores_of(games, served_forecasts(engine, loaded, games))


# The ensemble against its own parts: a candidate whose ensemble is worse than its best single
# component on the gate's games by more than ENSEMBLE_MAX_SE paired standard errors is refused.
ENSEMBLE_MAX_SE = 2.0


def ensemble_against_its_parts(games: pd.DataFrame, result: Forecasts) -> tuple[str, ...]:
    """The refusal line when the ensemble in ``result`` (forecasts of ``games``) is worse than its
    best component, else nothing."""
    from nbalife.forecast.metrics import worse_than_best_part

    parts = {"ensemble": result.forecast, "dejavu": result.dejavu, "lstm": result.lstm,
             **({"context": result.context} if result.context is not None else {})}
    found = worse_than_best_part(games["d24"].to_numpy(dtype=float), parts, ENSEMBLE_MAX_SE)
    if found is None:
        return ()
    best, excess, se = found
    return (f"the ensemble's mae is worse than its own best component ({best}) by {excess:.3f} ± "
            f"{se:.3f}, more than {ENSEMBLE_MAX_SE:g} standard errors",)
