"""A model set: Dejavu, LSTM, the context component, their ensemble and its conformal layer,
fitted and saved together.

Training uses three time-ordered splits: Dejavu's database, the LSTM's training set, the team
ratings' parameters and the context regression are the training games; the LSTM stops early on
the validation games, where the ensemble weights are also fitted (every component forecasts
them out of sample); then (``context_refit``) the ratings and the context regression, which
have four and three parameters, are refitted on the training and validation games together,
so they see the most recent games before the calibration split; the conformal layer is
calibrated on the absolute ensemble residuals of the calibration games, which no model has
seen, so the interval keeps its finite-sample guarantee. The refit moved the ensemble from
-0.051 ± 0.017 to -0.054 ± 0.017 against persistence on 2022-23 after 2020-22, and the context
component from +0.018 to +0.014 on 2021-22 after 2020-21 (benchmarks/bench_context.py
``--paths``). Each game's pre-game edge is its ratings as of its date: only results of earlier
dates count (``TeamRatings.pregame`` over the three splits together).

A model set saved before the context component (no ``ratings.json``/``context.json``) loads
and predicts pattern-only; so does ``predict`` without edges (the context weight is shared
between Dejavu and the LSTM, ``Ensemble.pattern_weights``).

torch is imported only when the LSTM is trained; loading and predicting run in numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from nbalife.errors import BadInput
from nbalife.forecast import conformal, context, dejavu, ensemble, lstm, ratings
from nbalife.forecast.conformal import AdaptiveConformal
from nbalife.forecast.context import ContextForecaster
from nbalife.forecast.dejavu import Dejavu
from nbalife.forecast.ensemble import Ensemble
from nbalife.forecast.lstm import LSTMForecaster
from nbalife.forecast.patterns import check_patterns, to_arrays
from nbalife.forecast.ratings import Pregame, TeamRatings
from nbalife.vocab import DEFAULT_K

if TYPE_CHECKING:
    import pandas as pd

    from nbalife.forecast.lstm import EpochProgress

FILES = (dejavu.NPZ_FILE, dejavu.JSON_FILE, lstm.NPZ_FILE, lstm.JSON_FILE, conformal.JSON_FILE,
         ensemble.JSON_FILE)
CONTEXT_FILES = (ratings.JSON_FILE, context.JSON_FILE)


@dataclass(frozen=True)
class ModelSetParams:
    """Hyper-parameters of every part (defaults justified in each part's docstring)."""

    dejavu_k: int = DEFAULT_K
    dejavu_aggregation: str = "median"
    lstm_hidden_size: int = 64
    lstm_num_layers: int = 2
    lstm_epochs: int = 20
    lstm_batch_size: int = 256
    lstm_learning_rate: float = 1e-3
    lstm_patience: int = 3
    lstm_tol: float = 0.0
    lstm_seed: int = 0
    lstm_device: str = "cpu"
    alpha: float = 0.05
    conformal_halflife: float | None = None
    aci_gamma: float = 0.005
    ensemble_step: float = 0.01
    ensemble_move_se: float = 2.0
    context_refit: bool = True


@dataclass(frozen=True)
class Forecasts:
    """Per game: the ensemble forecast, its interval, and the components (float64 arrays);
    ``context`` is None when the forecast is pattern-only."""

    forecast: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    dejavu: np.ndarray
    lstm: np.ndarray
    context: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.forecast)


@dataclass(frozen=True)
class ModelSet:
    """The fitted parts; replace one with ``dataclasses.replace`` (e.g. a recalibration).
    ``ratings`` and ``context`` are None in a pattern-only set."""

    dejavu: Dejavu
    lstm: LSTMForecaster
    ensemble: Ensemble
    conformal: AdaptiveConformal
    ratings: TeamRatings | None = None
    context: ContextForecaster | None = None

    @classmethod
    def fit(cls, train: pd.DataFrame, validation: pd.DataFrame, calibration: pd.DataFrame,
            params: ModelSetParams | None = None,
            progress: EpochProgress | None = None) -> ModelSet:
        """Fit every part on its split (games frames in ``nbalife.interchange`` format); the
        ratings keep a checkpoint after the three splits' results.

        ``progress(epoch, epochs, train_loss, val_loss)`` follows the LSTM's training.
        """
        import pandas as pd

        p = params if params is not None else ModelSetParams()
        tr, va, ca = (to_arrays(frame) for frame in (train, validation, calibration))
        analogs = Dejavu(k=p.dejavu_k, aggregation=p.dejavu_aggregation).fit(
            tr.X, tr.moves, tr.game_ids, tr.dates, tr.home, tr.away)
        network = LSTMForecaster(
            hidden_size=p.lstm_hidden_size, num_layers=p.lstm_num_layers, epochs=p.lstm_epochs,
            batch_size=p.lstm_batch_size, learning_rate=p.lstm_learning_rate,
            patience=p.lstm_patience, seed=p.lstm_seed, device=p.lstm_device, tol=p.lstm_tol,
        ).fit(tr.X, tr.moves, va.X, va.moves, progress=progress)
        frames = [train, validation, calibration]
        team, regression, edges = _fit_context(frames, 1)
        va_context = None if regression is None else regression.predict(va.X, edges[1])
        weights = Ensemble(step=p.ensemble_step, move_se=p.ensemble_move_se).fit(
            va.y, analogs.predict(va.X), network.predict(va.X), va_context)
        if regression is not None and p.context_refit:
            team, regression, edges = _fit_context(frames, 2)
        if team is not None:
            team.checkpoint(pd.concat(frames, ignore_index=True))
        ca_context = None if regression is None else regression.predict(ca.X, edges[2])
        forecast = weights.predict(analogs.predict(ca.X), network.predict(ca.X), ca_context)
        ages = (ca.dates.max() - ca.dates).astype(np.float64)  # days before the newest game
        layer = AdaptiveConformal(alpha=p.alpha, gamma=p.aci_gamma,
                                  halflife=p.conformal_halflife).fit(np.abs(ca.y - forecast), ages)
        return cls(dejavu=analogs, lstm=network, ensemble=weights, conformal=layer,
                   ratings=team, context=regression)

    def pregame(self, games: pd.DataFrame, history: pd.DataFrame | None = None,
                start: bool = False) -> Pregame | None:
        """Each game's ratings as of its date (``TeamRatings.pregame``, from the ratings'
        checkpoint with ``start``); None when pattern-only."""
        return None if self.ratings is None else self.ratings.pregame(games, history, start)

    def predict(self, X: object, edge: object = None) -> Forecasts:
        """Forecasts for patterns ``X`` (``d0..d18`` rows, or one pattern) and, optionally, each
        game's pre-game ``edge``; without it (or without a context component) pattern-only."""
        patterns = check_patterns(X)
        analog = self.dejavu.predict(patterns)
        network = self.lstm.predict(patterns)
        strength = None
        if edge is not None and self.context is not None:
            strength = self.context.predict(patterns, edge)
        forecast = self.ensemble.predict(analog, network, strength)
        lower, upper = self.conformal.interval(forecast)
        return Forecasts(forecast=forecast, lower=lower, upper=upper, dejavu=analog, lstm=network,
                         context=strength)

    def save(self, directory: Path) -> list[Path]:
        """Write ``FILES`` (and ``CONTEXT_FILES`` where fitted) into ``directory``, each
        atomically; returns their paths."""
        directory = Path(directory)
        extra = [] if self.ratings is None or self.context is None else [
            *self.ratings.save(directory), *self.context.save(directory)]
        return [*self.dejavu.save(directory), *self.lstm.save(directory),
                *self.conformal.save(directory), *self.ensemble.save(directory), *extra]

    @classmethod
    def load(cls, directory: Path) -> ModelSet:
        """Read a saved model set (no torch); a missing or damaged file is BadInput naming it."""
        directory = Path(directory)
        if not directory.is_dir():
            raise BadInput(f"{directory}: no such model directory")
        present = [(directory / name).exists() for name in CONTEXT_FILES]
        if any(present) and not all(present):
            missing = CONTEXT_FILES[present.index(False)]
            raise BadInput(f"{directory / missing}: missing (the model set has the other "
                           "context file)")
        models = cls(
            dejavu=Dejavu.load(directory),
            lstm=LSTMForecaster.load(directory),
            ensemble=Ensemble.load(directory),
            conformal=AdaptiveConformal.load(directory),
            ratings=TeamRatings.load(directory) if all(present) else None,
            context=ContextForecaster.load(directory) if all(present) else None,
        )
        if (models.context is None) == ("context" in models.ensemble.weights_):
            raise BadInput(f"{directory / ensemble.JSON_FILE}: its components do not match the "
                           "model set's files")
        return models


def _fit_context(frames: list[pd.DataFrame], n_fit: int
                 ) -> tuple[TeamRatings | None, ContextForecaster | None, list[np.ndarray]]:
    """Ratings and the context regression fitted on the first ``n_fit`` of the time-ordered
    ``frames``, and each frame's pre-game edges (ratings as of each game's date over all
    frames); pattern-only (None, None, []) when the first frame carries no final margins."""
    import pandas as pd

    first = frames[0]
    if "final_diff" not in first.columns or not np.isfinite(
            pd.to_numeric(first["final_diff"], errors="coerce").to_numpy(np.float64, na_value=np.nan)
    ).any():
        return None, None, []
    fit = pd.concat(frames[:n_fit], ignore_index=True)
    team = TeamRatings().fit(fit)
    edge = team.pregame(pd.concat(frames, ignore_index=True)).edge
    edges = np.split(edge, np.cumsum([len(frame) for frame in frames])[:-1])
    games = to_arrays(fit)
    return team, ContextForecaster().fit(games.X, games.y, np.concatenate(edges[:n_fit])), edges
