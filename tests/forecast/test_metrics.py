"""Point and interval metrics."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from nbalife.errors import BadInput
from nbalife.forecast.metrics import interval_metrics, point_metrics


def test_mae_is_the_mean_of_absolute_errors() -> None:
    # Signed errors +2 and -2 would average to 0: the reference document's defect.
    metrics = point_metrics([3.0, -1.0], [1.0, 1.0])
    assert metrics == {"mae": 2.0, "rmse": 2.0, "bias": 0.0, "n": 2}


def test_rmse_and_bias() -> None:
    metrics = point_metrics(np.array([1.0, 2.0, 3.0, 10.0]), np.zeros(4))
    assert metrics["mae"] == 4.0
    assert metrics["rmse"] == pytest.approx(math.sqrt((1 + 4 + 9 + 100) / 4))
    assert metrics["bias"] == 4.0  # y above the forecast: positive bias


def test_interval_coverage_and_width() -> None:
    y = np.array([0.0, 5.0, 10.0, -3.0])
    metrics = interval_metrics(y, y - [1, 1, 1, 1], [1.0, 6.0, 9.0, -2.0])
    assert metrics == {"coverage": 0.75, "mean_width": pytest.approx(2.0 - 0.5), "n": 4}


def test_unbounded_intervals_cover_with_infinite_width() -> None:
    metrics = interval_metrics([1.0, 2.0], [-math.inf] * 2, [math.inf] * 2)
    assert metrics["coverage"] == 1.0 and metrics["mean_width"] == math.inf


@pytest.mark.parametrize("call, message", [
    (lambda: point_metrics([], []), "no outcomes"),
    (lambda: point_metrics([1.0, 2.0], [1.0]), r"expected \(2,\)"),
    (lambda: point_metrics([1.0, math.nan], [1.0, 1.0]), "missing or infinite"),
    (lambda: interval_metrics([1.0], [2.0], [0.0]), "lower <= upper"),
    (lambda: interval_metrics([1.0, 2.0], [0.0], [3.0]), "interval bounds have shapes"),
])
def test_bad_input(call: Callable[[], object], message: str) -> None:
    with pytest.raises(BadInput, match=message):
        call()
