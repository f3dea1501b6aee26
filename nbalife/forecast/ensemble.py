"""Ensemble: a convex combination of the components' forecasts, weights fitted on validation.

Components: Dejavu, the LSTM and, where the model set has one, the context component
(``nbalife.forecast.context``). ``forecast = sum_i w_i * component_i`` with the weights on the
simplex (non-negative, summing to 1, so the same weights apply to the predicted moves, since
every forecast adds the same ``d18``). The weights minimise the validation MAE over a grid of
step ``step`` on the simplex. The system is judged on MAE, and MAE is convex and piecewise
linear in the weights, so the grid finds its minimum to within ``step`` without a
least-squares proxy that would chase the squared errors of rare big scoring runs.

The weights leave the prior (``PRIOR``: equal shares per source of information, so 1/2 and
1/2 for Dejavu and LSTM, and 1/4, 1/4, 1/2 with the context component, the two pattern readers
sharing the pattern's half) only when validation shows the move is worth it: the best grid
point must beat the prior by more than ``move_se`` (default 2) standard errors of the paired
difference in absolute errors. The best of some 5,000 grid points is scored on the games it
was chosen on, so its gain is biased upward, and one standard error was too weak a gate: on
2021-22 after 2020-21 (training seasons only, before any 2022-23 game) it moved the weights to
the context alone on a validation gain between 1 and 2 SE: +0.014 ± 0.035 against persistence
on 2021-22, where the prior gave -0.006 ± 0.019 (benchmarks/bench_context.py ``--paths``).
Most of ``d24 - d18`` is noise, so on a few hundred validation games the grid minimum is
mostly chance (the "forecast combination puzzle": estimated weights lose to the simple
average out of sample). Measured on simulated seasons (train 3,250 / validation 750 / test
2,000 games, seed 2024): fitted weight 0.24 gave test MAE 4.603, equal weights 4.594,
persistence 4.601. With the context component, on real games (benchmarks/bench_context.py
``--paths``, 2022-23 after 2020-22, 346 validation games): equal thirds -0.039 ± 0.014 against
persistence, the per-source prior -0.051 ± 0.017; on 2021-22 after 2020-21, -0.000 ± 0.014
and -0.003 ± 0.019 (validation moved the weights there to the context alone: +0.018 ± 0.034).
The per-source prior agrees with the context blend weights chosen on training games in
benchmarks/bench_context.py (0.45-0.5 on 2020-22).

The model set fits the weights on out-of-fold forecasts over whole seasons instead
(``reference="best"``, see ``nbalife.forecast.modelset``): every training game forecast by
components fitted without its season, thousands of games rather than a few hundred. There the
reference the grid minimum must beat by ``move_se`` standard errors is the best single
component (a vertex of the simplex), not the prior, so the ensemble is never worse than its best
part on those forecasts, and a component that adds nothing gets weight 0.

Without the context forecasts (``predict(..., context=None)``, e.g. a game whose matchup is not
given) the context weight is shared among the other two in proportion to their weights (equal
shares if both are 0): the pattern-only fallback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nbalife.checks import is_number
from nbalife.errors import BadInput
from nbalife.forecast.artifacts import field, read_model, require_fitted, write_json
from nbalife.forecast.patterns import check_values

JSON_FILE = "ensemble.json"
FORMAT = "nbalife.ensemble"
COMPONENTS = ("dejavu", "lstm", "context")
_CHUNK = 256  # grid points scored at a time (bounds memory on big validation sets)
# The weights validation must beat to move: equal shares per source of information (the
# pattern, read by Dejavu and the LSTM; the pre-game context).
PRIOR = {2: np.array([0.5, 0.5]), 3: np.array([0.25, 0.25, 0.5])}
REFERENCES = ("prior", "best")  # what the grid minimum must beat: the prior, or the best part


def simplex_grid(m: int, step: float) -> np.ndarray:
    """Every weight vector of ``m`` non-negative multiples of ``step`` summing to 1."""
    n = round(1.0 / step)
    if m == 2:
        first = np.arange(n + 1)
        return np.column_stack([first, n - first]) / n
    rows = [(i, j, n - i - j) for i in range(n + 1) for j in range(n + 1 - i)]
    return np.asarray(rows, dtype=np.float64) / n


class Ensemble:
    """Weights per component: ``weights_ = {"dejavu": w1, "lstm": w2[, "context": w3]}``;
    ``move_se``: the validation gain, in standard errors, needed to leave the prior."""

    def __init__(self, step: float = 0.01, move_se: float = 2.0, reference: str = "prior") -> None:
        self.step = step
        self.move_se = move_se
        self.reference = reference

    def get_params(self) -> dict[str, Any]:
        return {"step": self.step, "move_se": self.move_se, "reference": self.reference}

    def _check_params(self) -> None:
        step, move_se = self.step, self.move_se
        if not is_number(step) or not 0 < step <= 1:
            raise BadInput(f"Ensemble: step={step!r} must be a number in (0, 1]")
        if not is_number(move_se) or not 0 <= move_se <= 10:
            raise BadInput(f"Ensemble: move_se={move_se!r} must be a number in [0, 10]")
        if self.reference not in REFERENCES:
            raise BadInput(f"Ensemble: reference={self.reference!r}: expected one of "
                           f"{', '.join(REFERENCES)}")

    def fit(self, y: object, dejavu: object, lstm: object, context: object = None) -> Ensemble:
        """Choose the weights minimising the MAE of ``y`` (halftime differentials) on validation."""
        self._check_params()
        target = check_values("validation halftime differentials", y, np.size(y))
        if len(target) == 0:
            raise BadInput("Ensemble: the validation set is empty")
        names = COMPONENTS if context is not None else COMPONENTS[:2]
        labels = {"dejavu": "Dejavu", "lstm": "LSTM", "context": "context"}
        given = {"dejavu": dejavu, "lstm": lstm, "context": context}
        forecasts = np.stack([check_values(f"{labels[n]} validation forecasts", given[n], len(target))
                              for n in names])
        grid = simplex_grid(len(names), self.step)
        maes = np.concatenate([np.abs(target - grid[i:i + _CHUNK] @ forecasts).mean(axis=1)
                               for i in range(0, len(grid), _CHUNK)])
        best = grid[int(np.argmin(maes))]
        if self.reference == "best":
            part = np.abs(target[None, :] - forecasts).mean(axis=1)
            equal = np.eye(len(names))[int(np.argmin(part))]
        else:
            equal = PRIOR[len(names)]
        gain = np.abs(target - equal @ forecasts) - np.abs(target - best @ forecasts)
        standard_error = gain.std() / np.sqrt(len(gain)) if len(gain) > 1 else np.inf
        gate = max(self.move_se * standard_error, 1e-9)  # float ties keep the prior
        chosen = best if gain.mean() > gate else equal
        self.weights_ = {name: float(w) for name, w in zip(names, chosen)}
        self.validation_mae_ = {**{name: float(np.abs(target - f).mean())
                                   for name, f in zip(names, forecasts)},
                                "ensemble": float(np.abs(target - chosen @ forecasts).mean()),
                                "n": len(target)}
        return self

    def pattern_weights(self) -> dict[str, float]:
        """Dejavu's and the LSTM's weights with the context weight shared between them."""
        require_fitted(self, "weights_")
        a, b = self.weights_["dejavu"], self.weights_["lstm"]
        total = a + b
        return {"dejavu": a / total, "lstm": b / total} if total > 0 else {"dejavu": 0.5, "lstm": 0.5}

    def predict(self, dejavu: object, lstm: object, context: object = None) -> np.ndarray:
        """The weighted forecast (float64); without ``context``, the pattern-only fallback."""
        require_fitted(self, "weights_")
        a = np.asarray(dejavu, dtype=np.float64)
        b = np.asarray(lstm, dtype=np.float64)
        if a.shape != b.shape:
            raise BadInput(f"Ensemble: Dejavu forecasts {a.shape} and LSTM forecasts {b.shape} "
                           "differ in shape")
        if context is None or "context" not in self.weights_:
            w = self.pattern_weights()
            return w["dejavu"] * a + w["lstm"] * b
        c = np.asarray(context, dtype=np.float64)
        if c.shape != a.shape:
            raise BadInput(f"Ensemble: context forecasts {c.shape} and Dejavu forecasts {a.shape} "
                           "differ in shape")
        w = self.weights_
        return w["dejavu"] * a + w["lstm"] * b + w["context"] * c

    def save(self, directory: Path) -> list[Path]:
        """Write ``ensemble.json``: the weights and the validation MAEs they came from."""
        require_fitted(self, "weights_")
        return [write_json(Path(directory) / JSON_FILE, {
            "format": FORMAT,
            "params": self.get_params(),
            "weights": self.weights_,
            "validation_mae": self.validation_mae_,
        })]

    @classmethod
    def load(cls, directory: Path) -> Ensemble:
        """Read ``ensemble.json`` (two or three components); a missing or corrupt file is
        BadInput naming it."""
        path = Path(directory) / JSON_FILE
        model, data = read_model(cls, path, FORMAT)
        weights = field(data, "weights", path)
        try:
            names = COMPONENTS if "context" in weights else COMPONENTS[:2]
            values = {name: float(weights[name]) for name in names}
        except (TypeError, ValueError, KeyError) as exc:
            raise BadInput(f"{path}: corrupt model file: {exc}") from None
        for name, w in values.items():
            if not 0.0 <= w <= 1.0:
                raise BadInput(f"{path}: corrupt model file: {name} weight {w} is outside [0, 1]")
        if abs(sum(values.values()) - 1.0) > 1e-6:
            raise BadInput(f"{path}: corrupt model file: the weights sum to {sum(values.values())}")
        model.weights_ = values
        model.validation_mae_ = field(data, "validation_mae", path)
        return model
