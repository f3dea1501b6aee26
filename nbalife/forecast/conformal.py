"""Conformal intervals from absolute residuals ``|y - yhat|``.

- ``conformal_quantile``: the finite-sample split-conformal quantile, optionally weighted.
- ``SplitConformal``: one quantile fitted on calibration scores, optional recency weights.
- ``AdaptiveConformal``: the model set's conformal layer, saved as ``conformal.json``: calibration
  scores, a starting radius, and the parameters of its online rule (``online``, ``step``,
  ``gamma``). Its state after each resolved outcome is an ``OnlineState``, advanced by the pure
  function ``AdaptiveConformal.advance``; the store keeps the current state, and the model set
  serves the interval of that state.
- ``lattice_interval``: outcomes are whole points, so an interval is the set of integers within
  the radius of the forecast, reported with its ends at half points; its width is the number of
  whole-point outcomes it holds.

The online rules (``ONLINE_METHODS``), each with the long-run miscoverage bound of ``bound``:

- ``quantile``: online quantile tracking on the score scale, the proportional term of conformal
  PID control (Angelopoulos, Candès & Tibshirani, "Conformal PID control for time series
  prediction", NeurIPS 2023): ``q_t+1 = q_t + step * (err_t - alpha)``. Exactly,
  ``mean(err) - alpha = (q_T+1 - q_1) / (step * T)``, and ``q_t`` stays in ``[-step, B + step]``
  for scores in ``[0, B]``, so ``|mean(err) - alpha| <= (B + step) / (step * T)`` on any
  sequence, adversarial ones included.
- ``decaying``: the same with steps ``step / sqrt(1 + t / DECAY_GAMES)`` (Angelopoulos, Barber &
  Bates, "Online conformal prediction with decaying step sizes", ICML 2024): steadier late in a
  season, with the bound ``(B + step_1) / (step_T * T)``.
- ``aci``: adaptive conformal inference (Gibbs & Candès, "Adaptive conformal inference under
  distribution shift", NeurIPS 2021) on the level, ``alpha_t+1 = alpha_t + gamma (alpha -
  err_t)``, the radius the calibration scores' quantile at ``alpha_t`` (the largest score seen
  so far where the level asks for more than every score); bound ``(max(alpha, 1 - alpha) +
  gamma) / (gamma * T)`` while no outcome exceeds every earlier one.
- ``static``: the starting radius forever (split conformal), no bound.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nbalife.checks import is_number
from nbalife.errors import BadInput
from nbalife.forecast.artifacts import field, read_json, require_fitted, write_json
from nbalife.forecast.patterns import check_values

JSON_FILE = "conformal.json"
FORMAT = "nbalife.conformal"
_LEVEL_TOLERANCE = 1e-12
ONLINE_METHODS = ("quantile", "decaying", "aci", "static")
DECAY_GAMES = 100.0  # the decaying rule's step halves after 300 outcomes (sqrt(1 + 300/100) = 2)
_EDGE = 1e-9  # an outcome exactly at the radius is held


def lattice_interval(forecast: object, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """The whole-point outcomes ``k`` with ``|k - forecast| <= radius``, as ``(lower, upper)``
    at half points (``lower = min k - 0.5``, ``upper = max k + 0.5``); so ``upper - lower`` is
    the number of outcomes held, and an integer outcome is covered exactly when ``lower <= y
    <= upper``. A negative radius is served as 0 (the forecast's own point when it is whole;
    else an empty interval ``lower = upper = forecast``)."""
    centre = np.asarray(forecast, dtype=np.float64)
    r = max(float(radius), 0.0)
    low = np.ceil(centre - r - _EDGE)
    high = np.floor(centre + r + _EDGE)
    empty = high < low
    lower = np.where(empty, centre, low - 0.5)
    upper = np.where(empty, centre, high + 0.5)
    return lower, upper


def held(lower: object, upper: object) -> np.ndarray:
    """How many whole-point outcomes each interval ``[lower, upper]`` holds (any ends)."""
    low = np.ceil(np.asarray(lower, dtype=np.float64) - _EDGE)
    high = np.floor(np.asarray(upper, dtype=np.float64) + _EDGE)
    return np.maximum(high - low + 1.0, 0.0)


@dataclass(frozen=True)
class OnlineState:
    """The online layer after ``n`` resolved outcomes: ``q`` the radius the next interval uses
    (``quantile``/``decaying``) and ``alpha_t`` the level (``aci``), ``misses`` outcomes outside
    their interval, ``max_score`` the largest score seen or the starting radius (``B`` of the
    bound), ``q_low``/``q_high`` the range the radius has taken."""

    q: float
    alpha_t: float
    n: int = 0
    misses: int = 0
    max_score: float = 0.0
    q_low: float = 0.0
    q_high: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "online state") -> OnlineState:
        try:
            state = cls(q=float(data["q"]), alpha_t=float(data["alpha_t"]), n=int(data["n"]),
                        misses=int(data["misses"]), max_score=float(data["max_score"]),
                        q_low=float(data["q_low"]), q_high=float(data["q_high"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise BadInput(f"{source}: corrupt online state ({exc!r})") from None
        values = (state.q, state.alpha_t, state.max_score, state.q_low, state.q_high)
        if not all(math.isfinite(v) for v in values) or not 0 <= state.misses <= state.n:
            raise BadInput(f"{source}: corrupt online state {data!r}")
        return state


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
    if not is_number(alpha) or not 0 < alpha < 1:
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

    def fit(self, residuals: object, ages: object = None, labels: object = None) -> SplitConformal:
        """Fit on absolute residuals; ``ages`` (>= 0) are required with a ``halflife``;
        ``labels`` name each residual (e.g. its prediction) in error messages."""
        _check_alpha("SplitConformal", self.alpha)
        halflife = self.halflife
        if halflife is not None and (not is_number(halflife) or not halflife > 0):
            raise BadInput(f"SplitConformal: halflife={halflife!r} must be a number > 0 or None")
        scores = check_values("conformal scores", residuals, np.size(residuals),
                              None if labels is None else [str(v) for v in labels])
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
                 halflife: float | None = None, online: str = "static", step: float = 0.0,
                 start: float | None = None) -> None:
        self.alpha = alpha
        self.gamma = gamma
        self.halflife = halflife
        self.online = online
        self.step = step
        self.start = start

    def get_params(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "gamma": self.gamma, "halflife": self.halflife,
                "online": self.online, "step": self.step, "start": self.start}

    def _check_gamma(self) -> None:
        gamma, step, start = self.gamma, self.step, self.start
        if not is_number(gamma) or not 0 <= gamma <= 1:
            raise BadInput(f"AdaptiveConformal: gamma={gamma!r} must be a number in [0, 1]")
        if self.online not in ONLINE_METHODS:
            raise BadInput(f"AdaptiveConformal: online={self.online!r}: expected one of "
                           f"{', '.join(ONLINE_METHODS)}")
        if not is_number(step) or not 0 <= step <= 100:
            raise BadInput(f"AdaptiveConformal: step={step!r} must be a number of points in [0, 100]")
        if self.online in ("quantile", "decaying") and not step > 0:
            raise BadInput(f"AdaptiveConformal: online={self.online!r} needs a step > 0")
        if self.online == "aci" and not gamma > 0:
            raise BadInput("AdaptiveConformal: online='aci' needs gamma > 0")
        if start is not None and (not is_number(start) or not 0 <= start < math.inf):
            raise BadInput(f"AdaptiveConformal: start={start!r} must be a finite radius >= 0")

    def fit(self, residuals: object, ages: object = None,
            labels: object = None) -> AdaptiveConformal:
        """Calibrate on absolute residuals (with their ages if there is a halflife; ``labels``
        name each residual's prediction in errors); resets ``alpha_t_``. The starting radius
        ``quantile_`` is ``start`` when given, else the scores' conformal quantile."""
        self._check_gamma()
        self.split_ = SplitConformal(self.alpha, self.halflife).fit(residuals, ages, labels)
        self.alpha_t_ = float(self.alpha)
        self.n_updates_ = 0
        self.n_errors_ = 0
        self.quantile_ = self._start_radius()
        return self

    def _start_radius(self) -> float:
        if self.start is not None:
            return float(self.start)
        return self.split_.quantile_at(self.alpha_t_, finite=True)

    @property
    def layer_id_(self) -> str:
        """The layer's identity: sha256 of its parameters, scores and starting radius (the
        versions that share a ``conformal.json`` share a layer and its online state)."""
        require_fitted(self, "quantile_")
        weights = None if self.split_.weights_ is None else self.split_.weights_.tolist()
        text = json.dumps({"params": self.get_params(), "scores": self.split_.scores_.tolist(),
                           "weights": weights, "start": self.quantile_}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def start_state(self) -> OnlineState:
        """The state before any outcome: the starting radius at the target level."""
        require_fitted(self, "quantile_")
        q = float(self.quantile_)
        return OnlineState(q=q, alpha_t=float(self.alpha), max_score=q, q_low=q, q_high=q)

    def radius(self, state: OnlineState | None = None) -> float:
        """The radius served in ``state`` (the start state when None)."""
        require_fitted(self, "quantile_")
        if state is None:
            return float(self.quantile_)
        if self.online == "aci":
            return self._aci_radius(state.alpha_t, state.max_score)
        return max(state.q, 0.0) if self.online != "static" else float(self.quantile_)

    def _aci_radius(self, alpha_t: float, max_score: float) -> float:
        """The scores' quantile at ``alpha_t``; where the level asks for more than every
        calibration score (an infinite interval in Gibbs & Candès), the largest score seen so
        far, calibration or served: finite, and past every outcome met before."""
        q = self.split_.quantile_at(alpha_t, finite=True)
        unbounded = not np.isfinite(self.split_.quantile_at(alpha_t))
        return max(q, max_score) if unbounded else q

    def step_at(self, n: int) -> float:
        """The step the quantile rules take after ``n`` outcomes."""
        if self.online == "decaying":
            return float(self.step) / math.sqrt(1.0 + n / DECAY_GAMES)
        return float(self.step)

    def advance(self, state: OnlineState, missed: bool, score: float) -> OnlineState:
        """The state after one resolved outcome (pure: ``self`` and ``state`` are unchanged):
        ``missed`` whether it fell outside the interval served, ``score`` = |actual - forecast|."""
        err = 1.0 if missed else 0.0
        q, alpha_t = state.q, state.alpha_t
        if self.online in ("quantile", "decaying"):
            q = q + self.step_at(state.n) * (err - self.alpha)
        elif self.online == "aci":
            alpha_t = alpha_t + self.gamma * (self.alpha - err)
            q = self._aci_radius(alpha_t, max(state.max_score, float(score)))
        return OnlineState(q=q, alpha_t=alpha_t, n=state.n + 1, misses=state.misses + int(missed),
                           max_score=max(state.max_score, float(score)),
                           q_low=min(state.q_low, q), q_high=max(state.q_high, q))

    def bound(self, state: OnlineState) -> float | None:
        """The finite-sample bound on ``|misses / n - alpha|`` after ``state.n`` outcomes under
        the rule in use (module docstring), ``B`` the largest score seen or the starting radius;
        None for ``static`` or before any outcome."""
        if state.n == 0 or self.online == "static":
            return None
        if self.online == "aci":
            return (max(self.alpha, 1 - self.alpha) + self.gamma) / (self.gamma * state.n)
        first, last = self.step_at(0), self.step_at(state.n - 1)
        return (state.max_score + first) / (last * state.n)

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
        self.start = None  # the level now sets the radius
        self.quantile_ = self.split_.quantile_at(self.alpha_t_, finite=True)
        return self

    def interval(self, forecast: object, state: OnlineState | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
        """The lattice interval (``lattice_interval``) of the radius served in ``state`` (the
        starting radius when None)."""
        require_fitted(self, "quantile_")
        return lattice_interval(forecast, self.radius(state))

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
        model.quantile_ = (float(model.start) if model.start is not None
                           else split.quantile_at(alpha_t, finite=True))
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


def serve_online(layer: AdaptiveConformal, forecast: object, actual: object, batches: object,
                 state: OnlineState | None = None
                 ) -> tuple[np.ndarray, np.ndarray, OnlineState]:
    """Serve games in order as production does: every game of a batch (e.g. a day) gets the
    interval of the state before the batch; then its outcomes advance the state in order.
    Returns the served ``(lower, upper)`` and the final state."""
    centre = np.asarray(forecast, dtype=np.float64)
    outcome = np.asarray(actual, dtype=np.float64)
    groups = np.asarray(batches)
    state = layer.start_state() if state is None else state
    lower, upper = np.empty(len(centre)), np.empty(len(centre))
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]]) if len(groups) else []
    ends = [*starts[1:], len(centre)]
    for begin, end in zip(starts, ends):
        low, high = layer.interval(centre[begin:end], state)
        lower[begin:end], upper[begin:end] = low, high
        for i in range(begin, end):
            missed = not lower[i] <= outcome[i] <= upper[i]
            state = layer.advance(state, missed, abs(outcome[i] - centre[i]))
    return lower, upper, state
