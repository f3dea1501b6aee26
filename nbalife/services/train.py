"""``nbalife train``: time-ordered splits, every model, metrics, registration."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbalife.config import Settings
from nbalife.errors import BadInput, CheckFailed
from nbalife.registry import ChangeKind, Registry

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy import Engine

    from nbalife.forecast.lstm import EpochProgress
    from nbalife.forecast.metrics import ModelScore, PartFigure
    from nbalife.forecast.modelset import ModelSetParams

MIN_SPLIT = 20


@dataclass(frozen=True)
class SplitInfo:
    """One time-ordered split: how many games and which dates."""

    name: str
    games: int
    first_date: str
    last_date: str


@dataclass(frozen=True)
class TrainResult:
    """What was trained, how it scored on held-out games, and where it went."""

    splits: list[SplitInfo]
    scores: list[ModelScore]
    metrics: dict[str, Any]
    seconds: float
    version: str | None = None
    promoted: bool = False
    saved_to: Path | None = None
    parts: list[PartFigure] = dataclasses.field(default_factory=list)  # per part and season


def model_params(settings: Settings) -> ModelSetParams:
    """Hyper-parameters of every model from configuration."""
    from nbalife.forecast.lstm_schedule import Schedule
    from nbalife.forecast.modelset import ModelSetParams

    lstm, dejavu = settings.lstm, settings.dejavu
    return ModelSetParams(
        dejavu_k=dejavu.k, dejavu_aggregation=dejavu.aggregation,
        lstm=Schedule.of(lstm), alpha=1 - settings.conformal.target_coverage,
        conformal_halflife=settings.conformal.recency_halflife_days,
        aci_gamma=settings.conformal.aci_gamma, online=settings.conformal.online,
        online_step=settings.conformal.online_step,
    )


def time_splits(games: pd.DataFrame, validation: float, calibration: float, *, alpha: float = 0.05
                ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Train, validation and calibration in date order: no later game informs an earlier split.

    The calibration split gets at least enough games for each half of the 2-fold
    cross-conformal estimate to give a finite quantile at level ``1 - alpha``.
    """
    ordered = games.sort_values(["game_date", "game_id"], kind="stable").reset_index(drop=True)
    n = len(ordered)
    n_cal = max(int(round(n * calibration)), 2 * math.ceil((1 - alpha) / alpha))
    n_val = max(int(round(n * validation)), MIN_SPLIT)
    n_train = n - n_val - n_cal
    if n_train < MIN_SPLIT:
        raise BadInput(f"training needs at least {n_val + n_cal + MIN_SPLIT} games with results, got {n}")
    return ordered[:n_train], ordered[n_train : n_train + n_val], ordered[n_train + n_val :]


def _info(name: str, frame: pd.DataFrame) -> SplitInfo:
    return SplitInfo(name, len(frame), str(frame["game_date"].min()), str(frame["game_date"].max()))


def train(
    games: pd.DataFrame,
    *,
    settings: Settings,
    now: dt.datetime,
    registry: Registry | None = None,
    engine: Engine | None = None,
    promote: bool = False,
    out: Path | None = None,
    progress: EpochProgress | None = None,
    description: str = "",
) -> TrainResult:
    """Fit Dejavu, LSTM, context, ensemble and conformal on time-ordered splits (each
    calibration game's context as of its date); optionally register (a
    new major version: every part is refitted) and promote through the gate (needs ``engine``).

    Scores are on the out-of-fold forecasts of every game (``ModelSet.fit_out_of_fold``), per
    part and per season (``parts``), with leave-one-season-out intervals on the outcome lattice.
    """
    import numpy as np

    from nbalife.forecast.metrics import part_figures, score_forecasts
    from nbalife.forecast.modelset import Forecasts, ModelSet

    if out is not None and Path(out).exists() and not Path(out).is_dir():
        raise BadInput(f"--out {out}: exists and is not a folder")
    started = time.perf_counter()
    params = model_params(settings)
    train_df, val_df, cal_df = time_splits(games, settings.training.validation_fraction,
                                           settings.training.calibration_fraction, alpha=params.alpha)
    models, oof = ModelSet.fit_out_of_fold(train_df, val_df, cal_df, params, progress=progress)

    # Figures from the out-of-fold forecasts: every game forecast by parts fitted without its
    # season (the served parts have seen every game), intervals leave-one-season-out on the lattice.
    combined = models.ensemble.predict(oof.dejavu, oof.lstm, oof.context)
    lower, upper = oof.intervals(combined, params.alpha)
    result = Forecasts(forecast=combined, lower=lower, upper=upper, dejavu=oof.dejavu, lstm=oof.lstm,
                       context=oof.context)
    scores = score_forecasts(oof.y, oof.d18, result)
    forecasts = {"ensemble": combined, **oof.parts()}
    parts = part_figures(oof.y, oof.d18, forecasts, {name: oof.intervals(f, params.alpha)
                                                     for name, f in forecasts.items()},
                         oof.seasons if oof.seasons is not None else oof.folds.astype(str), params.alpha)
    by_name = {s.model: s for s in scores}
    coverage, width = by_name["ensemble"].coverage, float(np.mean(upper - lower))
    metrics = {
        "mae": by_name["ensemble"].mae, "rmse": by_name["ensemble"].rmse, "bias": by_name["ensemble"].bias,
        "coverage": coverage, "width": width, "dejavu_mae": by_name["dejavu"].mae,
        "lstm_mae": by_name["lstm"].mae, "persistence_mae": by_name["persistence"].mae,
        "vs_persistence": by_name["ensemble"].vs_persistence,
        "vs_persistence_se": by_name["ensemble"].vs_persistence_se,
        "evaluated_games": len(oof.y), "evaluated_on": "out of fold (leave one season out)",
        **({"context_mae": by_name["context"].mae} if "context" in by_name else {}),
    }
    splits = [_info("train", train_df), _info("validation", val_df), _info("calibration", cal_df)]
    version, promoted, saved_to = None, False, None
    if out is not None:
        models.save(out)
        saved_to = Path(out)
    if registry is not None:
        version = _register(registry, models, metrics, params, splits, description, now)
        if promote:
            from nbalife.services.registry import promote as run_promotion

            promotion = run_promotion(registry, engine, settings, version, now=now, reason="nbalife train --promote")
            if promotion.failure:
                raise CheckFailed(f"registered {version} but did not promote it: {promotion.failure}")
            promoted = promotion.switch is not None  # False while a live-game freeze makes it wait
    return TrainResult(splits, scores, metrics, time.perf_counter() - started, version, promoted, saved_to,
                       parts)


def _register(registry: Registry, models: Any, metrics: dict, params: Any, splits: list[SplitInfo],
              description: str, now: dt.datetime) -> str:
    with registry.staging(".train-") as staging:
        models.save(Path(staging))
        window = {"first_date": splits[0].first_date, "last_date": splits[-1].last_date,
                  **{s.name: s.games for s in splits}}
        info = registry.register(Path(staging), ChangeKind.TRAIN, metrics=metrics,
                                 params=params.to_dict(), training_window=window,
                                 description=description or "nbalife train", at=now)
    return info.version


def load_training_games(engine: Any, path: Path | None, *, until: dt.date | None) -> pd.DataFrame:
    """Finished games from a file or the store, up to ``until`` (inclusive)."""
    from nbalife.interchange import load_games
    from nbalife.store.engine import reachable
    from nbalife.store.games import read_games

    if path is not None:
        games = load_games(path)
        if until is not None:
            games = games[games["game_date"] <= until.isoformat()]
        return games
    with reachable(engine), engine.connect() as conn:
        return read_games(conn, until=until)
