"""The report's series, computed with numpy from the counted predictions of a window.

Days are game days in league time: the calendar day of the prediction time (``created_at``, at
minute 18 of the game) in the league's time zone, so an evening game in New York, predicted after
midnight UTC, counts on its own date. A rolling k-day figure at day d pools every prediction of days d-k+1 .. d (NaN while that
span holds none).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from nbalife.store.predictions import ResolvedPrediction

ROLLING_DAYS = (7, 30)
NOMINAL_LEVELS = (0.5, 0.8, 0.9, 0.95)


@dataclass(frozen=True)
class Daily:
    """One entry per day of ``days``: the count, and rolling figures keyed by their span in days
    (width per single day and over 7 days)."""

    days: list[dt.date]
    n: np.ndarray
    coverage: dict[int, np.ndarray]
    mae: dict[int, np.ndarray]
    persistence_mae: dict[int, np.ndarray]
    width: dict[int, np.ndarray]


@dataclass(frozen=True)
class CalibrationPoint:
    """Empirical coverage of the intervals rescaled to ``nominal``, over ``n`` predictions."""

    nominal: float
    empirical: float | None
    n: int


def league_day(moment: dt.datetime, zone: str) -> dt.date:
    """The calendar day of an aware time in the league's time zone."""
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo(zone)).date()


def league_time(moment: dt.datetime, zone: str) -> dt.datetime:
    """An aware time as naive league time, for the time axes (which count in league days)."""
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def _rolling(sums: np.ndarray, counts: np.ndarray, days: int) -> np.ndarray:
    """sum / count over the trailing ``days`` entries; NaN where the count is 0."""
    import numpy as np

    def trailing(values: np.ndarray) -> np.ndarray:
        total = np.concatenate([[0.0], np.cumsum(values)])
        ends = np.arange(1, len(values) + 1)
        return total[ends] - total[np.maximum(ends - days, 0)]

    top, bottom = trailing(sums), trailing(counts)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1.0), np.nan)


def daily(rows: Sequence[ResolvedPrediction], first: dt.date, last: dt.date, zone: str) -> Daily:
    """Per-day counts and rolling coverage, MAE, persistence MAE and width over the league days
    ``first .. last`` (rows outside that span are ignored)."""
    import numpy as np

    span = (last - first).days + 1
    offsets = np.array([(league_day(r.created_at, zone) - first).days for r in rows], dtype=int)
    inside = (offsets >= 0) & (offsets < span)
    kept = [r for r, keep in zip(rows, inside, strict=True) if keep]
    index = offsets[inside]

    def per_day(values: list[float] | np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        values = np.asarray(values, dtype=float)
        chosen = np.ones(len(index), bool) if mask is None else mask
        return np.bincount(index[chosen], weights=values[chosen], minlength=span).astype(float)

    actual = np.array([r.actual for r in kept], dtype=float)
    d18 = np.array([np.nan if r.d18 is None else r.d18 for r in kept], dtype=float)
    known = np.isfinite(d18)
    n = per_day(np.ones(len(kept)))
    covered = per_day([r.lower <= r.actual <= r.upper for r in kept])
    abs_error = per_day(np.abs([r.error for r in kept]))
    width = per_day([r.upper - r.lower for r in kept])
    persistence_n = per_day(np.ones(len(kept)), known)
    persistence = per_day(np.abs(actual - np.where(known, d18, 0.0)), known)
    return Daily(
        days=[first + dt.timedelta(days=i) for i in range(span)],
        n=n.astype(int),
        coverage={k: _rolling(covered, n, k) for k in ROLLING_DAYS},
        mae={k: _rolling(abs_error, n, k) for k in ROLLING_DAYS},
        persistence_mae={k: _rolling(persistence, persistence_n, k) for k in ROLLING_DAYS},
        width={k: _rolling(width, n, k) for k in (1, 7)},
    )


def level_ratios(quantile_at: dict[float, float], logged_level: float) -> dict[float, float] | None:
    """Half-width multipliers that turn an interval logged at ``logged_level`` into one at each
    nominal level: ``q(level) / q(logged_level)`` from one model set's conformal quantiles
    (``quantile_at`` maps a coverage level to its residual quantile). None when the logged
    quantile is 0 or missing (no ratio can be formed)."""
    base = quantile_at.get(logged_level)
    if not base:
        return None
    return {level: quantile_at[level] / base for level in NOMINAL_LEVELS}


def calibration(rows: Sequence[ResolvedPrediction],
                ratios: dict[str, dict[float, float]]) -> list[CalibrationPoint]:
    """Empirical coverage at each nominal level of the predictions whose version has ratios: the
    logged interval's half-width times the version's ratio, around the logged interval's centre
    (a ratio of 1 is the logged interval itself, bounds included as ``metrics`` counts them)."""
    import numpy as np

    usable = [r for r in rows if r.version in ratios]
    lower = np.array([r.lower for r in usable], dtype=float)
    upper = np.array([r.upper for r in usable], dtype=float)
    actual = np.array([r.actual for r in usable], dtype=float)
    centre, half = (lower + upper) / 2, (upper - lower) / 2
    points = []
    for level in NOMINAL_LEVELS:
        scale = np.array([ratios[r.version][level] for r in usable], dtype=float)
        low = np.where(scale == 1.0, lower, centre - half * scale)
        high = np.where(scale == 1.0, upper, centre + half * scale)
        hits = (low <= actual) & (actual <= high)
        points.append(CalibrationPoint(level, float(hits.mean()) if len(usable) else None, len(usable)))
    return points


def residuals(rows: Sequence[ResolvedPrediction]) -> tuple[np.ndarray, np.ndarray]:
    """The model's errors ``actual - forecast`` and persistence's ``actual - d18`` (known d18 only)."""
    import numpy as np

    model = np.array([r.error for r in rows], dtype=float)
    persistence = np.array([r.actual - r.d18 for r in rows if r.d18 is not None], dtype=float)
    return model, persistence
