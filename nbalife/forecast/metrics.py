"""Forecast metrics: point errors (MAE from absolute errors), interval coverage, the score of
every forecaster of a model set, per-part figures per season with the Winkler interval score,
and the ensemble's comparison with its best part."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from nbalife.errors import BadInput
from nbalife.forecast.conformal import held
from nbalife.forecast.patterns import check_values

if TYPE_CHECKING:
    from nbalife.forecast.modelset import Forecasts


def _pair(y: object, other: object, name: str) -> tuple[np.ndarray, np.ndarray]:
    actual = check_values("actual values", y, np.size(y))
    if len(actual) == 0:
        raise BadInput("no outcomes to evaluate")
    return actual, check_values(name, other, len(actual))


def point_metrics(y: object, yhat: object) -> dict[str, float | int]:
    """``mae`` (mean absolute error), ``rmse``, ``bias`` = mean(y - yhat), ``n``."""
    actual, forecast = _pair(y, yhat, "forecasts")
    error = actual - forecast
    return {
        "mae": float(np.abs(error).mean()),
        "rmse": float(np.sqrt((error ** 2).mean())),
        "bias": float(error.mean()),
        "n": len(error),
    }


def interval_metrics(y: object, lower: object, upper: object) -> dict[str, float | int]:
    """``coverage`` (share of ``lower <= y <= upper``), ``mean_width``, ``n``.

    Bounds may be infinite (an unbounded conformal interval); the width is then infinite too.
    """
    actual = check_values("actual values", y, np.size(y))
    if len(actual) == 0:
        raise BadInput("no outcomes to evaluate")
    low = np.asarray(lower, dtype=np.float64)
    high = np.asarray(upper, dtype=np.float64)
    if low.shape != actual.shape or high.shape != actual.shape:
        raise BadInput(f"interval bounds have shapes {low.shape} and {high.shape}, "
                       f"expected {actual.shape}")
    if np.isnan(low).any() or np.isnan(high).any() or (low > high).any():
        raise BadInput("interval bounds must be numbers with lower <= upper")
    return {
        "coverage": float(((low <= actual) & (actual <= high)).mean()),
        "mean_width": float((high - low).mean()),
        "n": len(actual),
    }


@dataclass(frozen=True)
class ModelScore:
    """Accuracy of one forecaster on a set of games (interval figures only where it has one);
    ``vs_persistence`` is the paired mean of ``|error| - |persistence's error|`` (negative:
    better than persistence) and ``vs_persistence_se`` its standard error."""

    model: str
    n: int
    mae: float
    rmse: float
    bias: float
    coverage: float | None = None
    width: float | None = None
    vs_persistence: float | None = None
    vs_persistence_se: float | None = None


def score_forecasts(actual: np.ndarray, d18: np.ndarray, result: Forecasts,
                    oracle: np.ndarray | None = None) -> list[ModelScore]:
    """MAE (of absolute errors), RMSE, bias, the paired difference from persistence and
    interval coverage for the ensemble, its components (the context one where it forecast),
    persistence (``d18``) and, given, the simulator's ``oracle``."""
    base = np.abs(actual - check_values("persistence forecasts", d18, len(actual)))

    def point(name: str, predicted: np.ndarray) -> ModelScore:
        m = point_metrics(actual, predicted)
        paired = np.abs(actual - predicted) - base
        se = float(paired.std(ddof=1) / np.sqrt(len(paired))) if len(paired) > 1 else None
        return ModelScore(name, int(m["n"]), m["mae"], m["rmse"], m["bias"],
                          vs_persistence=float(paired.mean()), vs_persistence_se=se)

    interval = interval_metrics(actual, result.lower, result.upper)
    ensemble = point("ensemble", result.forecast)
    scores = [
        dataclasses.replace(ensemble, coverage=interval["coverage"], width=interval["mean_width"]),
        point("dejavu", result.dejavu),
        point("lstm", result.lstm),
        *([point("context", result.context)] if result.context is not None else []),
        point("persistence", d18),
    ]
    if oracle is not None:
        scores.append(point("oracle", oracle))
    return scores


def versus_persistence(score: ModelScore) -> str:
    """``"beats persistence by 0.071 ± 0.021"`` (or ``"trails ... by"``); "-" for persistence."""
    if score.vs_persistence is None or score.model == "persistence":
        return "-"
    se = "?" if score.vs_persistence_se is None else f"{score.vs_persistence_se:.3f}"
    verb = "beats" if score.vs_persistence < 0 else "trails"
    return f"{verb} persistence by {abs(score.vs_persistence):.3f} ± {se}"


def winkler(y: object, lower: object, upper: object, alpha: float) -> np.ndarray:
    """The Winkler interval score of each outcome (lower is better): the interval's width plus
    ``2 / alpha`` times how far the outcome fell outside it. On the lattice the width is the
    number of whole-point outcomes held (``upper - lower`` with half-point ends)."""
    actual = np.asarray(y, dtype=np.float64)
    low, high = np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64)
    return (high - low) + (2.0 / alpha) * (np.maximum(low - actual, 0.0) + np.maximum(actual - high, 0.0))


def paired(a: np.ndarray, b: np.ndarray) -> tuple[float, float | None]:
    """Mean of ``a - b`` and its standard error (None with fewer than two pairs)."""
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    se = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else None
    return float(diff.mean()), se


@dataclass(frozen=True)
class PartFigure:
    """One forecaster on one group of games (a season, or ``all``): MAE, the paired gain over
    persistence (positive: better) ± SE, and its interval on the lattice: coverage, whole-point
    outcomes held, mean Winkler score."""

    group: str
    model: str
    n: int
    mae: float
    gain: float | None
    gain_se: float | None
    coverage: float | None
    held: float | None
    winkler: float | None


def part_figures(y: object, d18: object, forecasts: dict[str, np.ndarray],
                 intervals: dict[str, tuple[np.ndarray, np.ndarray]], groups: object,
                 alpha: float) -> list[PartFigure]:
    """``PartFigure`` rows for every forecaster (``forecasts``, persistence ``d18`` added) per
    group and, when there are several groups, over all the games."""
    actual = check_values("actual values", y, np.size(y))
    base = np.abs(actual - check_values("persistence forecasts", d18, len(actual)))
    labels = np.asarray(groups).astype(str)
    names = sorted(set(labels.tolist()))
    rows = []
    for group in [*names, *(["all"] if len(names) > 1 else [])]:
        mask = np.ones(len(actual), bool) if group == "all" else labels == group
        for model, forecast in {**forecasts, "persistence": np.asarray(d18, dtype=np.float64)}.items():
            errors = np.abs(actual[mask] - np.asarray(forecast)[mask])
            gain, se = (None, None) if model == "persistence" else paired(base[mask], errors)
            coverage = width = score = None
            if model in intervals:
                low, high = (np.asarray(v)[mask] for v in intervals[model])
                coverage = float(((low <= actual[mask]) & (actual[mask] <= high)).mean())
                width = float(held(low, high).mean())
                score = float(winkler(actual[mask], low, high, alpha).mean())
            rows.append(PartFigure(group, model, int(mask.sum()), float(errors.mean()), gain, se,
                                   coverage, width, score))
    return rows


def worse_than_best_part(y: object, forecasts: dict[str, np.ndarray], max_se: float
                         ) -> tuple[str, float, float] | None:
    """``(best part, excess MAE, its SE)`` when the ``ensemble`` forecast's MAE exceeds the best
    single part's by more than ``max_se`` paired standard errors; else None."""
    actual = check_values("actual values", y, np.size(y))
    mine = np.abs(actual - forecasts["ensemble"])
    parts = {name: np.abs(actual - f) for name, f in forecasts.items() if name != "ensemble"}
    if not parts or len(actual) < 2:
        return None
    best = min(parts, key=lambda name: parts[name].mean())
    excess, se = paired(mine, parts[best])
    if se is not None and excess > max_se * se and excess > 0:
        return best, excess, se
    return None
