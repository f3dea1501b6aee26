"""Conformal intervals from absolute residuals ``|y - yhat|``.

- ``conformal_quantile``: the finite-sample split-conformal quantile, optionally weighted.
- ``SplitConformal``: one quantile fitted on calibration scores, optional recency weights.
- ``AdaptiveConformal``: adaptive conformal inference (Gibbs & Candès, "Adaptive conformal
  inference under distribution shift", NeurIPS 2021) on top of a ``SplitConformal``; this is the
  model set's conformal layer, saved as ``conformal.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nbalife.errors import BadInput
from nbalife.forecast.artifacts import field, read_json, require_fitted, write_json
from nbalife.forecast.patterns import check_values

JSON_FILE = "conformal.json"
FORMAT = "nbalife.conformal"
_LEVEL_TOLERANCE = 1e-12


def conformal_quantile(scores: np.ndarray, alpha: float, weights: np.ndarray | None = None,
                       *, finite: bool = False) -> float:
    """The split-conformal quantile of ``scores`` for miscoverage ``alpha``.

    Unweighted, it is the ``ceil((n + 1)(1 - alpha))``-th smallest score: the empirical quantile
    at level ``ceil((n + 1)(1 - alpha)) / n``, the finite-sample correction that makes coverage
    at least ``1 - alpha``. When that level exceeds 1 (``n < 1/alpha - 1`` scores) no score is
    large enough and the quantile is ``+inf`` (an unbounded interval), or the largest score when
    ``finite``.

    Weighted (Tibshirani et al., "Conformal prediction under covariate shift", 2019; with fixed
    weights in [0, 1] as in Barber et al., "Conformal prediction beyond exchangeability", 2023):
    the ``1 - alpha`` quantile of ``sum_i p_i δ(s_i) + p_test δ(+inf)``, ``p_i = w_i / (sum(w) +
    1)``, the test point weighing 1. Weights all 1 give the unweighted quantile. A level within
    1e-12 of a reachable one counts as reached (rounding in ``(n + 1)(1 - alpha)``).
    ``alpha >= 1`` gives the smallest score.
    """
    order = np.argsort(scores, kind="stable")
    ordered = np.asarray(scores, dtype=np.float64)[order]
    mass = np.ones(len(ordered)) if weights is None else np.asarray(weights, np.float64)[order]
    cumulative = np.cumsum(mass) / (mass.sum() + 1.0)
    position = int(np.searchsorted(cumulative, (1.0 - alpha) - _LEVEL_TOLERANCE, side="left"))
    if position < len(ordered):
        return float(ordered[position])
    return float(ordered[-1]) if finite else float("inf")


def _check_alpha(owner: str, alpha: object) -> None:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise BadInput(f"{owner}: alpha={alpha!r} must be a number in (0, 1)")


class SplitConformal:
    """Symmetric interval ``forecast ± quantile_`` from calibration scores ``|y - yhat|``.

    With ``halflife`` (in the unit of ``ages``, e.g. days) a score of age ``a`` weighs
    ``0.5 ** (a / halflife)`` in the weighted quantile of ``conformal_quantile``; recent games
    count more after a drift. ``quantile_`` is ``+inf`` when there are too few scores for the
    level (see ``conformal_quantile``); the interval is then unbounded.
    """

    def __init__(self, alpha: float = 0.05, halflife: float | None = None) -> None:
        self.alpha = alpha
        self.halflife = halflife

    def get_params(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "halflife": self.halflife}

    def fit(self, residuals: object, ages: object = None) -> SplitConformal:
        """Fit on absolute residuals; ``ages`` (>= 0) are required with a ``halflife``."""
        _check_alpha("SplitConformal", self.alpha)
        halflife = self.halflife
        if halflife is not None and (isinstance(halflife, bool)
                                     or not isinstance(halflife, (int, float)) or not halflife > 0):
            raise BadInput(f"SplitConformal: halflife={halflife!r} must be a number > 0 or None")
        scores = check_values("conformal scores", residuals, np.size(residuals))
        if len(scores) == 0:
            raise BadInput("conformal calibration needs at least one residual")
        if (scores < 0).any():
            raise BadInput("conformal scores must be absolute residuals |y - yhat| "
                           "(got negative values)")
        weights = None
        if halflife is not None:
            if ages is None:
                raise BadInput(f"SplitConformal: halflife={halflife} needs the residuals' ages")
            age = check_values("residual ages", ages, len(scores))
            if (age < 0).any():
                raise BadInput("residual ages must be >= 0")
            weights = 0.5 ** (age / halflife)
        self.scores_ = scores
        self.weights_ = weights
        self.quantile_ = conformal_quantile(scores, self.alpha, weights)
        return self

    def quantile_at(self, alpha: float, *, finite: bool = False) -> float:
        """The fitted scores' conformal quantile at another miscoverage level."""
        require_fitted(self, "scores_")
        return conformal_quantile(self.scores_, alpha, self.weights_, finite=finite)

    def interval(self, forecast: object) -> tuple[np.ndarray, np.ndarray]:
        """``(forecast - quantile_, forecast + quantile_)`` as float64 arrays."""
        require_fitted(self, "quantile_")
        return _interval(forecast, self.quantile_)


def _interval(forecast: object, quantile: float) -> tuple[np.ndarray, np.ndarray]:
    centre = np.asarray(forecast, dtype=np.float64)
    return centre - quantile, centre + quantile


class AdaptiveConformal:
    """ACI over a split-conformal quantile: the model set's conformal layer.

    ``fit`` calibrates a ``SplitConformal(alpha, halflife)`` and sets ``alpha_t_ = alpha``.
    Each resolved outcome then moves it, ``alpha_t+1 = alpha_t + gamma * (alpha - err_t)`` with
    ``err_t = 1`` when the outcome fell outside its interval: misses widen the interval, hits
    narrow it, and the long-run miss rate tends to ``alpha`` even under drift. ``gamma = 0`` is
    plain split conformal.

    The state ``alpha_t_`` is never clipped (the guarantee needs it free); only the quantile
    read from it is: the interval uses the conformal quantile at ``alpha_t_`` (with the split's
    weights) clipped to the calibration scores' range. So while ``alpha_t_`` is at or below
    ``1 / (n + 1)`` the interval is the largest score, not infinite, and a production interval is
    always finite; at or above 1 it is the smallest score rather than empty.
    """

    def __init__(self, alpha: float = 0.05, gamma: float = 0.005,
                 halflife: float | None = None) -> None:
        self.alpha = alpha
        self.gamma = gamma
        self.halflife = halflife

    def get_params(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "gamma": self.gamma, "halflife": self.halflife}

    def _check_gamma(self) -> None:
        gamma = self.gamma
        if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not 0 <= gamma <= 1:
            raise BadInput(f"AdaptiveConformal: gamma={gamma!r} must be a number in [0, 1]")

    def fit(self, residuals: object, ages: object = None) -> AdaptiveConformal:
        """Calibrate on absolute residuals (with their ages if there is a halflife); resets
        ``alpha_t_``."""
        self._check_gamma()
        self.split_ = SplitConformal(self.alpha, self.halflife).fit(residuals, ages)
        self.alpha_t_ = float(self.alpha)
        self.n_updates_ = 0
        self.n_errors_ = 0
        self.quantile_ = self.split_.quantile_at(self.alpha_t_, finite=True)
        return self

    def update(self, covered: object) -> AdaptiveConformal:
        """Apply the ACI step for each outcome in order (``covered``: a bool or bools)."""
        require_fitted(self, "alpha_t_")
        flags = np.asarray(covered)
        if flags.dtype != bool:
            raise BadInput(f"covered must be booleans, got {flags.dtype}")
        errors = int((~flags).sum())
        self.alpha_t_ = float(self.alpha_t_ + self.gamma * (flags.size * self.alpha - errors))
        self.n_updates_ += int(flags.size)
        self.n_errors_ += errors
        self.quantile_ = self.split_.quantile_at(self.alpha_t_, finite=True)
        return self

    def interval(self, forecast: object) -> tuple[np.ndarray, np.ndarray]:
        """``(forecast - quantile_, forecast + quantile_)`` at the current ``alpha_t_``."""
        require_fitted(self, "quantile_")
        return _interval(forecast, self.quantile_)

    def save(self, directory: Path) -> list[Path]:
        """Write ``conformal.json``: parameters, scores, weights and the ACI state."""
        require_fitted(self, "quantile_")
        split = self.split_
        return [write_json(Path(directory) / JSON_FILE, {
            "format": FORMAT,
            "params": self.get_params(),
            "scores": split.scores_.tolist(),
            "weights": None if split.weights_ is None else split.weights_.tolist(),
            "alpha_t": self.alpha_t_,
            "n_updates": self.n_updates_,
            "n_errors": self.n_errors_,
        })]

    @classmethod
    def load(cls, directory: Path) -> AdaptiveConformal:
        """Read ``conformal.json``; a missing or corrupt file is BadInput naming it."""
        path = Path(directory) / JSON_FILE
        data = read_json(path, FORMAT)
        params = field(data, "params", path)
        raw_scores = field(data, "scores", path)
        raw_weights = field(data, "weights", path)
        state = [field(data, key, path) for key in ("alpha_t", "n_updates", "n_errors")]
        try:
            model = cls(**params)
            model._check_gamma()
            _check_alpha("AdaptiveConformal", model.alpha)
            split = SplitConformal(model.alpha, model.halflife)
            scores = check_values("scores", raw_scores, len(raw_scores))
            weights = None if raw_weights is None else check_values("weights", raw_weights,
                                                                    len(scores))
            if len(scores) == 0 or (scores < 0).any() \
                    or (weights is not None and (weights < 0).any()):
                raise BadInput("scores and weights must be >= 0, with at least one score")
            alpha_t, n_updates, n_errors = float(state[0]), int(state[1]), int(state[2])
            if not np.isfinite(alpha_t) or not 0 <= n_errors <= n_updates:
                raise BadInput(f"bad ACI state alpha_t={alpha_t}, {n_errors}/{n_updates} errors")
        except (BadInput, TypeError, ValueError) as exc:
            raise BadInput(f"{path}: corrupt model file: {exc}") from None
        split.scores_, split.weights_ = scores, weights
        split.quantile_ = conformal_quantile(scores, model.alpha, weights)
        model.split_ = split
        model.alpha_t_, model.n_updates_, model.n_errors_ = alpha_t, n_updates, n_errors
        model.quantile_ = split.quantile_at(alpha_t, finite=True)
        return model


def miss_cusum(missed: object, alpha: float, alarm_rate: float) -> tuple[float, int]:
    """Page's one-sided Bernoulli CUSUM of interval misses, in time order.

    Each outcome adds the log-likelihood ratio of a miss rate ``alarm_rate`` against the nominal
    ``alpha`` (``log(alarm_rate / alpha)`` for a miss, ``log((1 - alarm_rate) / (1 - alpha))``
    for a hit); the statistic is the running sum minus its running minimum (never below 0).
    Returns its peak over the sequence and where the excursion that reached the peak began
    (the index after the statistic's last zero before it: the change-point estimate; 0 for an
    empty sequence).
    """
    flags = np.asarray(missed, dtype=bool)
    if not 0 < alpha < alarm_rate < 1:
        raise BadInput(f"miss_cusum: need 0 < alpha={alpha} < alarm_rate={alarm_rate} < 1")
    if flags.size == 0:
        return 0.0, 0
    steps = np.where(flags, np.log(alarm_rate / alpha), np.log((1 - alarm_rate) / (1 - alpha)))
    total = np.concatenate(([0.0], np.cumsum(steps)))
    floor = np.minimum.accumulate(total)
    statistic = total - floor
    peak = int(np.argmax(statistic))
    start = int(np.flatnonzero(statistic[: peak + 1] == 0.0)[-1])
    return float(statistic[peak]), start
