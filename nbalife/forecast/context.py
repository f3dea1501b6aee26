"""The context component: a median regression of the last six minutes on team strength, d18 and
the short-run changes.

``d24 - d18 = b0 + b1 * edge * 6/48 + b2 * d18 + b3 * (d18 - d15) + b4 * (d18 - d12)``, where ``edge`` is the pre-game expected final
margin (``nbalife.forecast.ratings.Pregame.edge``), so ``edge * 6/48`` is its share for six
minutes of play, and ``d18`` carries the pull of a lead back toward the teams' level (``b2`` is
small and negative); the last three and six minutes' changes let a run carry on or fade (a
median regression with them did about +0.08 against persistence on later seasons, against
+0.077 without). Fitted by least absolute deviations, the median regression that MAE
rewards, as a linear programme (HiGHS through ``scipy.optimize.linprog``, see
``median_regression``). ``|d18|`` as a fourth input made it no better on the real seasons
(difference from persistence with and without it: 2022-23 -0.062 and -0.066, 2021-22 +0.022
and +0.011, 2015-16 -0.081 both; splits as in benchmarks/bench_context.py), so it is left out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nbalife.errors import BadInput
from nbalife.forecast.artifacts import JsonModel, check_format, field, require_fitted
from nbalife.forecast.patterns import LAST, check_patterns, check_values

FORMAT = "nbalife.context"
JSON_FILE = "context.json"
HORIZON_SHARE = 6 / 48  # the forecast's six minutes as a share of a game
COEFFICIENTS = ("intercept", "strength", "lead", "run3", "run6")
BASIC = COEFFICIENTS[:3]  # a context component saved before the short-run changes


def _design(patterns: np.ndarray, edge: object, n_coef: int = len(COEFFICIENTS)) -> np.ndarray:
    """Rows ``[1, edge * 6/48, d18, d18 - d15, d18 - d12]`` (the first ``n_coef`` columns)."""
    strength = check_values("context edge", edge, len(patterns)) * HORIZON_SHARE
    last = patterns[:, LAST].astype(np.float64)
    columns = [np.ones(len(patterns)), strength, last,
               last - patterns[:, LAST - 3], last - patterns[:, LAST - 6]]
    return np.column_stack(columns[:n_coef])


def median_regression(design: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Coefficients minimising ``sum |target - design @ b|``.

    Solved as the dual linear programme, ``max target·d`` subject to ``design.T @ d = 0`` and
    ``-1 <= d <= 1``: one constraint per coefficient instead of one per game (6,000 games:
    0.2 s against 5 s for the primal), ``b`` read off the constraints' marginals.
    """
    from scipy.optimize import linprog

    result = linprog(-target, A_eq=design.T, b_eq=np.zeros(design.shape[1]), bounds=(-1, 1),
                     method="highs")
    if result.status != 0:
        raise BadInput(f"context median regression failed: {result.message}")
    return -np.asarray(result.eqlin.marginals, dtype=np.float64)


class ContextForecaster(JsonModel):
    """``d24`` forecasts from ``d18`` and the pre-game edge. ``fit`` sets ``coef_``
    (intercept, strength, lead) and ``n_games_``; no parameters."""

    JSON_FILE = JSON_FILE
    FORMAT = FORMAT

    def get_params(self) -> dict[str, Any]:
        return {}

    def fit(self, X: object, y: object, edge: object) -> ContextForecaster:
        """Fit on patterns ``X`` (``d0..d18``), halftime differentials ``y`` and pre-game edges."""
        patterns = check_patterns(X)
        target = check_values("d24", y, len(patterns)) - patterns[:, LAST]
        if len(patterns) < len(COEFFICIENTS):
            raise BadInput(f"ContextForecaster needs at least {len(COEFFICIENTS)} games, "
                           f"got {len(patterns)}")
        self.coef_ = median_regression(_design(patterns, edge), target)
        self.n_games_ = len(patterns)
        return self

    def predict(self, X: object, edge: object) -> np.ndarray:
        """``d18`` plus the fitted move (float64, one per pattern); ``edge`` one per pattern."""
        require_fitted(self, "coef_")
        patterns = check_patterns(X)
        return patterns[:, LAST].astype(np.float64) + _design(patterns, edge, len(self.coef_)) @ self.coef_

    def to_dict(self) -> dict[str, Any]:
        require_fitted(self, "coef_")
        return {"format": FORMAT, "coef": dict(zip(COEFFICIENTS, self.coef_.tolist(), strict=False)),
                "n_games": self.n_games_}

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: Path | str = "context") -> ContextForecaster:
        """Rebuild a fitted instance from ``to_dict``; bad content is BadInput naming ``source``."""
        path = Path(source)
        check_format(data, FORMAT, path)
        try:
            coef = field(data, "coef", path)
            names = COEFFICIENTS if "run3" in coef else BASIC
            values = np.array([float(coef[name]) for name in names])
            n_games = int(field(data, "n_games", path))
        except (TypeError, ValueError, KeyError) as exc:
            raise BadInput(f"{path}: corrupt model file ({exc!r})") from None
        if not np.isfinite(values).all():
            raise BadInput(f"{path}: corrupt model file (a coefficient is not finite)")
        model = cls()
        model.coef_, model.n_games_ = values, n_games
        return model
