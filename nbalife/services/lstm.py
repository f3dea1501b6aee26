"""``lstm retrain``: retrain when a trigger fires, and register the candidate only when it beats
production on the same held-out games. It never promotes.

The candidate is trained by ``services.train.train`` on every game up to a cutoff: the most
recent ``lstm.holdout_games`` games are held out, all after the training window of the version that
fitted production's LSTM (``triggers.lstm_origin``: a Dejavu update moves production's window on
weekly, but only adds games to Dejavu's database, which the comparison leaves them out of).
It refits every learned part, Dejavu's database included (on the same training split as the
LSTM): the ensemble weights and the conformal quantile are fitted on out-of-sample residuals of
the very Dejavu that ships, which production's database (grown by Dejavu updates that may hold
the candidate's validation and calibration games) would not give. Production is scored on the
held-out games with those games left out of its pattern database, so neither side has seen them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from nbalife.config import Settings
from nbalife.errors import BadInput, NbalifeError
from nbalife.locks import run_lock
from nbalife.registry import NO_PRODUCTION, ChangeKind, Registry, VersionInfo
from nbalife.services.triggers import LstmAge, Trigger, evaluate, lineage
from nbalife.store.engine import reachable
from nbalife.store.events import record_event

if TYPE_CHECKING:
    import pandas as pd

    from nbalife.forecast.modelset import ModelSet
    from nbalife.forecast.lstm import EpochProgress

EVENT_KIND = "lstm_retrain"
LOCK = "lstm-retrain"


@dataclass(frozen=True)
class HoldoutScore:
    """One forecaster on the held-out games (persistence has no interval)."""

    model: str
    n: int
    mae: float
    coverage: float | None = None
    width: float | None = None


@dataclass(frozen=True)
class RetrainResult:
    """What fired, what was trained on which games, how both sides scored, and the outcome:
    ``skipped``, ``registered`` or ``rejected``."""

    production: str
    outcome: str
    message: str
    triggers: list[Trigger]
    age: LstmAge
    cutoff: str | None = None
    holdout_first: str | None = None
    holdout_last: str | None = None
    scores: list[HoldoutScore] = dataclasses.field(default_factory=list)
    improvement: float | None = None
    improvement_se: float | None = None
    min_improvement: float | None = None
    version: str | None = None
    seconds: float = 0.0


def _drift_now(engine: Engine, production: VersionInfo, settings: Settings, now: dt.datetime) -> Trigger:
    from nbalife.services.drift import measure

    try:
        report = measure(engine, production, settings.drift, days=settings.drift.window_days, now=now)
    except BadInput as exc:
        return Trigger("drift", False, f"not measured: {exc}")
    return Trigger("drift", report.outcome == "drift", report.message)


def _games(engine: Engine, until: dt.date) -> pd.DataFrame:
    from nbalife.store.games import read_games

    with reachable(engine), engine.connect() as conn:
        return read_games(conn, until=until)


def _leave_out(models: ModelSet, game_ids: Any) -> ModelSet:
    """``models`` with ``game_ids`` removed from its Dejavu pattern database (refitted if any was there)."""
    import numpy as np

    from nbalife.forecast.dejavu import Dejavu

    analogs = models.dejavu
    keep = ~np.isin(analogs.game_ids_, np.asarray(game_ids))
    if keep.all():
        return models
    patterns = analogs.patterns_[keep] + analogs.levels_[keep, None]
    refit = Dejavu(**analogs.get_params()).fit(patterns, analogs.moves_[keep], analogs.game_ids_[keep],
                                               analogs.dates_[keep], analogs.home_[keep], analogs.away_[keep])
    return dataclasses.replace(models, dejavu=refit)


def score_holdout(candidate: ModelSet, production: ModelSet, holdout: pd.DataFrame,
                  history: pd.DataFrame | None = None) -> tuple[list[HoldoutScore], float, float]:
    """Candidate, production and persistence on the same games, each game with its pre-game
    context from ``history`` and the held-out games before it; the mean paired gain in absolute
    error of the candidate over production and its standard error."""
    import numpy as np

    from nbalife.forecast.metrics import interval_metrics, point_metrics
    from nbalife.interchange import PATTERN_COLUMNS
    from nbalife.services.forecasting import forecast_games
    from nbalife.services.matchups import Matchups

    X = holdout[PATTERN_COLUMNS].to_numpy(dtype=np.float32)
    y = holdout["d24"].to_numpy(dtype=float)
    scores, errors = [], {}
    for name, models in (("candidate", candidate), ("production", production)):
        result, _ = forecast_games(models, X, Matchups(holdout, history))
        interval = interval_metrics(y, result.lower, result.upper)
        scores.append(HoldoutScore(name, len(y), point_metrics(y, result.forecast)["mae"], interval["coverage"],
                                   interval["mean_width"]))
        errors[name] = np.abs(y - result.forecast)
    scores.append(HoldoutScore("persistence", len(y), point_metrics(y, X[:, -1].astype(float))["mae"]))
    gain = errors["production"] - errors["candidate"]
    return scores, float(gain.mean()), float(gain.std(ddof=1) / math.sqrt(len(gain)))


def _record(engine: Engine, now: dt.datetime, outcome: str, version: str, details: dict[str, Any]) -> None:
    with reachable(engine), engine.begin() as conn:
        record_event(conn, EVENT_KIND, outcome, at=now, version=version, details=details)


def retrain(engine: Engine, registry: Registry, settings: Settings, *, home: Path, now: dt.datetime,
            force: bool = False, epochs: int | None = None, progress: EpochProgress | None = None) -> RetrainResult:
    """Evaluate the triggers; when one fires, train, compare on held-out games, register or reject.

    Holds the ``lstm-retrain`` run lock (LockHeld if another run has it) and records one
    ``lstm_retrain`` event: skipped, registered, rejected, or failed with the error.
    """
    if epochs is not None and epochs < 1:
        raise BadInput(f"--epochs {epochs}: must be at least 1")
    if epochs is not None:
        settings = dataclasses.replace(settings, lstm=dataclasses.replace(settings.lstm, epochs=epochs))
    production = registry.current()
    if production is None:
        raise BadInput(NO_PRODUCTION)
    started = time.perf_counter()
    with run_lock(LOCK, home=home, engine=engine):
        try:
            result = _retrain(engine, registry, settings, production, now=now, force=force, progress=progress)
        except NbalifeError as exc:
            _record(engine, now, "failed", production.version, {"error": str(exc).splitlines()[0], "force": force,
                                                                "epochs": settings.lstm.epochs})
            raise
        result = dataclasses.replace(result, seconds=time.perf_counter() - started)
        _record(engine, now, result.outcome, result.version or production.version, event_details(result, settings))
    return result


def event_details(result: RetrainResult, settings: Settings) -> dict[str, Any]:
    """The event's record of a run: triggers, games, both scores, the gate and its outcome."""
    return {
        "production": result.production, "message": result.message, "epochs": settings.lstm.epochs,
        "triggers": {t.name: {"fired": t.fired, "reason": t.reason} for t in result.triggers},
        "days_since_retrain": result.age.days, "games_since_retrain": result.age.games,
        "cutoff": result.cutoff, "holdout": [result.holdout_first, result.holdout_last],
        "scores": {s.model: {"n": s.n, "mae": s.mae, "coverage": s.coverage} for s in result.scores},
        "improvement": result.improvement, "improvement_se": result.improvement_se,
        "min_improvement": result.min_improvement, "candidate": result.version,
    }


def _retrain(engine: Engine, registry: Registry, settings: Settings, production: VersionInfo, *,
             now: dt.datetime, force: bool, progress: EpochProgress | None) -> RetrainResult:
    chain = lineage(registry, production)
    age, triggers = evaluate(engine, chain, settings, now=now, drift=_drift_now(engine, production, settings, now),
                             force=force)
    fired = [t.name for t in triggers if t.fired]
    common = dict(production=production.version, triggers=triggers, age=age)
    if not fired:
        return RetrainResult(**common, outcome="skipped", message="no trigger fires: "
                             + "; ".join(f"{t.name}: {t.reason}" for t in triggers[:4]))
    last_seen = age.cutoff
    if last_seen is None:
        raise BadInput(f"version {age.version} records no training window: no games can be held out after it")
    games = _games(engine, now.date())
    wanted = settings.lstm.holdout_games
    newer = int((games["game_date"] > last_seen).sum())
    # Held out: every game on or after the date of the wanted-th most recent one (no date is split).
    first_held = games["game_date"].iloc[-wanted] if len(games) >= wanted else None
    if newer < wanted or first_held is None or first_held <= last_seen:
        message = (f"{', '.join(fired)} fired, but only {newer} games follow the training window of production's "
                   f"LSTM ({age.version}, ends {last_seen}); comparing needs lstm.holdout_games {wanted} games "
                   "neither has seen")
        if force:
            raise BadInput(f"--force: {message}")
        return RetrainResult(**common, outcome="skipped", message=message)
    held = (games["game_date"] >= first_held).to_numpy()
    pool, holdout = games[~held], games[held]
    return _train_and_compare(registry, settings, production, pool, holdout, fired, common, now=now,
                              progress=progress)


def _train_and_compare(registry: Registry, settings: Settings, production: VersionInfo, pool: pd.DataFrame,
                       holdout: pd.DataFrame, fired: list[str], common: dict[str, Any], *, now: dt.datetime,
                       progress: EpochProgress | None) -> RetrainResult:
    from nbalife.forecast.modelset import ModelSet
    from nbalife.services.model_loading import load_model_set
    from nbalife.services.train import model_params, train

    lstm = settings.lstm
    with registry.staging(".retrain-") as staging:
        trained = train(pool, settings=settings, now=now, out=Path(staging), progress=progress)
        serving = load_model_set(registry, production.version).models
        current = _leave_out(serving, holdout["game_id"].to_numpy())
        scores, gain, se = score_holdout(ModelSet.load(Path(staging)), current, holdout, pool)
        candidate, incumbent = scores[0], scores[1]
        figures = (f"candidate MAE {candidate.mae:.3f} vs production {incumbent.mae:.3f} on the same "
                   f"{candidate.n} held-out games (gain {gain:.3f} ± {se:.3f}, needs >= {lstm.min_improvement:g})")
        guard = settings.registry.gate_min_coverage
        failures = [] if gain >= lstm.min_improvement else [figures]
        if candidate.coverage is not None and candidate.coverage < guard:
            failures.append(f"candidate coverage {candidate.coverage:.3f} < registry.gate_min_coverage {guard:g}")
        result = RetrainResult(**common, outcome="rejected" if failures else "registered",
                               message="candidate rejected: " + "; ".join(failures) if failures else figures,
                               cutoff=str(pool["game_date"].iloc[-1]),
                               holdout_first=str(holdout["game_date"].iloc[0]),
                               holdout_last=str(holdout["game_date"].iloc[-1]), scores=scores, improvement=gain,
                               improvement_se=se, min_improvement=lstm.min_improvement)
        if failures:
            return result
        metrics = {**trained.metrics, "holdout_games": candidate.n, "holdout_mae": candidate.mae,
                   "holdout_coverage": candidate.coverage, "production_holdout_mae": incumbent.mae,
                   "holdout_persistence_mae": scores[2].mae, "holdout_gain": gain, "holdout_gain_se": se}
        splits = {s.name: s.games for s in trained.splits}
        window = {"first_date": trained.splits[0].first_date, "last_date": trained.splits[-1].last_date, **splits,
                  "holdout_first": result.holdout_first, "holdout_last": result.holdout_last,
                  "holdout": candidate.n}
        info = registry.register(Path(staging), ChangeKind.LSTM_RETRAIN, base=production.version, metrics=metrics,
                                 params=model_params(settings).to_dict(), training_window=window,
                                 description=f"LSTM retrain ({', '.join(fired)})", at=now)
    return dataclasses.replace(result, version=info.version,
                               message=f"registered {info.version} (not promoted): {figures}")
