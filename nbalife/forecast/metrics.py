"""Forecast metrics: point errors (MAE from absolute errors) and interval coverage."""

from __future__ import annotations

import numpy as np

from nbalife.errors import BadInput
from nbalife.forecast.patterns import check_values


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
