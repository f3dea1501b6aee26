"""A model set: Dejavu, LSTM, their ensemble and its conformal layer, fitted and saved together.

Training uses three time-ordered splits: Dejavu's database and the LSTM's training set are the
training games; the LSTM stops early on the validation games, where the ensemble weights are
also fitted (both components forecast them out of sample); the conformal layer is calibrated on
the absolute ensemble residuals of the calibration games, which neither model has seen, so the
interval keeps its finite-sample guarantee.

torch is imported only when an LSTM is trained or loaded.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nbalife.errors import BadInput
from nbalife.forecast import conformal, dejavu, ensemble
from nbalife.forecast.conformal import AdaptiveConformal
from nbalife.forecast.dejavu import Dejavu
from nbalife.forecast.ensemble import Ensemble
from nbalife.forecast.patterns import check_patterns, to_arrays

if TYPE_CHECKING:
    import pandas as pd

    from nbalife.forecast.lstm import LSTMForecaster, Progress

FILES = (dejavu.NPZ_FILE, dejavu.JSON_FILE, "lstm.pt", "lstm.json", conformal.JSON_FILE,
         ensemble.JSON_FILE)


@dataclass(frozen=True)
class ModelSetParams:
    """Hyper-parameters of every part (defaults justified in each part's docstring)."""

    dejavu_k: int = 200
    dejavu_aggregation: str = "median"
    lstm_hidden_size: int = 64
    lstm_num_layers: int = 2
    lstm_epochs: int = 20
    lstm_batch_size: int = 256
    lstm_learning_rate: float = 1e-3
    lstm_patience: int = 3
    lstm_seed: int = 0
    lstm_device: str = "cpu"
    alpha: float = 0.05
    conformal_halflife: float | None = None
    aci_gamma: float = 0.005
    ensemble_step: float = 0.01

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Forecasts:
    """Per game: the ensemble forecast, its interval, and the two components (float64 arrays)."""

    forecast: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    dejavu: np.ndarray
    lstm: np.ndarray

    def __len__(self) -> int:
        return len(self.forecast)


@dataclass(frozen=True)
class ModelSet:
    """The four fitted parts; replace one with ``dataclasses.replace`` (e.g. a recalibration)."""

    dejavu: Dejavu
    lstm: LSTMForecaster
    ensemble: Ensemble
    conformal: AdaptiveConformal

    @classmethod
    def fit(cls, train: pd.DataFrame, validation: pd.DataFrame, calibration: pd.DataFrame,
            params: ModelSetParams | None = None, progress: Progress | None = None) -> ModelSet:
        """Fit every part on its split (games frames in ``nbalife.interchange`` format).

        ``progress(epoch, epochs, train_loss, val_loss)`` follows the LSTM's training.
        """
        from nbalife.forecast.lstm import LSTMForecaster

        p = params if params is not None else ModelSetParams()
        tr, va, ca = (to_arrays(frame) for frame in (train, validation, calibration))
        analogs = Dejavu(k=p.dejavu_k, aggregation=p.dejavu_aggregation).fit(
            tr.X, tr.moves, tr.game_ids, tr.dates, tr.home, tr.away)
        network = LSTMForecaster(
            hidden_size=p.lstm_hidden_size, num_layers=p.lstm_num_layers, epochs=p.lstm_epochs,
            batch_size=p.lstm_batch_size, learning_rate=p.lstm_learning_rate,
            patience=p.lstm_patience, seed=p.lstm_seed, device=p.lstm_device,
        ).fit(tr.X, tr.y, va.X, va.y, progress=progress)
        weights = Ensemble(step=p.ensemble_step).fit(va.y, analogs.predict(va.X),
                                                     network.predict(va.X))
        forecast = weights.predict(analogs.predict(ca.X), network.predict(ca.X))
        ages = (ca.dates.max() - ca.dates).astype(np.float64)  # days before the newest game
        layer = AdaptiveConformal(alpha=p.alpha, gamma=p.aci_gamma,
                                  halflife=p.conformal_halflife).fit(np.abs(ca.y - forecast), ages)
        return cls(dejavu=analogs, lstm=network, ensemble=weights, conformal=layer)

    def predict(self, X: object) -> Forecasts:
        """Forecasts for patterns ``X`` (``d0..d18`` rows, or one pattern)."""
        patterns = check_patterns(X)
        analog = self.dejavu.predict(patterns)
        network = self.lstm.predict(patterns)
        forecast = self.ensemble.predict(analog, network)
        lower, upper = self.conformal.interval(forecast)
        return Forecasts(forecast=forecast, lower=lower, upper=upper, dejavu=analog, lstm=network)

    def save(self, directory: Path) -> list[Path]:
        """Write exactly ``FILES`` into ``directory`` (each atomically); returns their paths."""
        directory = Path(directory)
        return [*self.dejavu.save(directory), *self.lstm.save(directory),
                *self.conformal.save(directory), *self.ensemble.save(directory)]

    @classmethod
    def load(cls, directory: Path, device: str = "cpu") -> ModelSet:
        """Read a saved model set (LSTM onto ``device``); a missing or damaged file is
        BadInput naming it."""
        from nbalife.forecast.lstm import LSTMForecaster

        directory = Path(directory)
        if not directory.is_dir():
            raise BadInput(f"{directory}: no such model directory")
        return cls(
            dejavu=Dejavu.load(directory),
            lstm=LSTMForecaster.load(directory, device=device),
            ensemble=Ensemble.load(directory),
            conformal=AdaptiveConformal.load(directory),
        )
