"""Ensemble: a convex combination of the Dejavu and LSTM forecasts, weights fitted on validation.

``forecast = w * dejavu + (1 - w) * lstm`` with ``w`` in [0, 1] (so the weights sum to 1 and the
same weights apply to the predicted moves, since both forecasts add the same ``d18``). ``w``
minimises the validation MAE over a grid of step ``step``. The system is judged on MAE, and MAE
is convex and piecewise linear in ``w``, so the grid finds its minimum to within ``step``
without a least-squares proxy that would chase the squared errors of rare big scoring runs.

The weight leaves the equal split ``w = 0.5`` only when validation shows the move is worth it:
the best grid weight must beat equal weights by more than one standard error of the paired
difference in absolute errors. Most of ``d24 - d18`` is noise, so on a few hundred validation
games the grid minimum is mostly chance (the "forecast combination puzzle": estimated weights
lose to the simple average out of sample). Measured on simulated seasons (train 3,250 /
validation 750 / test 2,000 games, seed 2024): fitted weight 0.24 gave test MAE 4.603, equal
weights 4.594, persistence 4.601.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nbalife.errors import BadInput
from nbalife.forecast.artifacts import field, read_json, require_fitted, write_json
from nbalife.forecast.patterns import check_values

JSON_FILE = "ensemble.json"
FORMAT = "nbalife.ensemble"


class Ensemble:
    """Weights for Dejavu and LSTM: ``weights_ = {"dejavu": w, "lstm": 1 - w}``."""

    def __init__(self, step: float = 0.01) -> None:
        self.step = step

    def get_params(self) -> dict[str, Any]:
        return {"step": self.step}

    def _check_params(self) -> None:
        step = self.step
        if isinstance(step, bool) or not isinstance(step, (int, float)) or not 0 < step <= 1:
            raise BadInput(f"Ensemble: step={step!r} must be a number in (0, 1]")

    def fit(self, y: object, dejavu: object, lstm: object) -> Ensemble:
        """Choose the weight minimising the MAE of ``y`` (halftime differentials) on validation."""
        self._check_params()
        target = check_values("validation halftime differentials", y, np.size(y))
        if len(target) == 0:
            raise BadInput("Ensemble: the validation set is empty")
        a = check_values("Dejavu validation forecasts", dejavu, len(target))
        b = check_values("LSTM validation forecasts", lstm, len(target))
        grid = np.linspace(0.0, 1.0, round(1.0 / self.step) + 1)
        errors = np.abs(target[None, :] - (grid[:, None] * a + (1.0 - grid[:, None]) * b))
        maes = errors.mean(axis=1)
        best = int(np.argmin(maes))
        equal = int(np.argmin(np.abs(grid - 0.5)))
        gain = errors[equal] - errors[best]
        standard_error = gain.std() / np.sqrt(len(gain)) if len(gain) > 1 else np.inf
        if gain.mean() <= standard_error:
            best = equal
        self.dejavu_weight_ = float(grid[best])
        self.weights_ = {"dejavu": self.dejavu_weight_, "lstm": 1.0 - self.dejavu_weight_}
        self.validation_mae_ = {"dejavu": float(maes[-1]), "lstm": float(maes[0]),
                                "ensemble": float(maes[best]), "n": len(target)}
        return self

    def predict(self, dejavu: object, lstm: object) -> np.ndarray:
        """The weighted forecast (float64)."""
        require_fitted(self, "dejavu_weight_")
        a = np.asarray(dejavu, dtype=np.float64)
        b = np.asarray(lstm, dtype=np.float64)
        if a.shape != b.shape:
            raise BadInput(f"Ensemble: Dejavu forecasts {a.shape} and LSTM forecasts {b.shape} "
                           "differ in shape")
        return self.dejavu_weight_ * a + (1.0 - self.dejavu_weight_) * b

    def save(self, directory: Path) -> list[Path]:
        """Write ``ensemble.json``: the weights and the validation MAEs they came from."""
        require_fitted(self, "dejavu_weight_")
        return [write_json(Path(directory) / JSON_FILE, {
            "format": FORMAT,
            "params": self.get_params(),
            "weights": self.weights_,
            "validation_mae": self.validation_mae_,
        })]

    @classmethod
    def load(cls, directory: Path) -> Ensemble:
        """Read ``ensemble.json``; a missing or corrupt file is BadInput naming it."""
        path = Path(directory) / JSON_FILE
        data = read_json(path, FORMAT)
        params, weights = field(data, "params", path), field(data, "weights", path)
        try:
            model = cls(**params)
            model._check_params()
            w = float(weights["dejavu"])
        except (BadInput, TypeError, ValueError, KeyError) as exc:
            raise BadInput(f"{path}: corrupt model file: {exc}") from None
        if not 0.0 <= w <= 1.0:
            raise BadInput(f"{path}: corrupt model file: Dejavu weight {w} is outside [0, 1]")
        model.dejavu_weight_ = w
        model.weights_ = {"dejavu": w, "lstm": 1.0 - w}
        model.validation_mae_ = field(data, "validation_mae", path)
        return model
