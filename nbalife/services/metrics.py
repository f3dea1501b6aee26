"""Performance of the prediction log over a time window: ``metrics report`` and ``metrics check``.

Only the latest row per (game, arm, version) counts (``store.predictions.latest_rows``); the sums
run in the database, this module only turns them into means and compares them with the alerts.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import Engine

from nbalife.config import MonitoringSettings
from nbalife.errors import BadInput
from nbalife.store.engine import reachable
from nbalife.store.events import record_event
from nbalife.store.metrics import GROUPINGS, Sums, window_sums

EMPTY = "no resolved predictions in the window"


@dataclass(frozen=True)
class Window:
    """A half-open UTC time window ``[since, until)``; ``since`` None means from the beginning."""

    since: dt.datetime | None
    until: dt.datetime


@dataclass(frozen=True)
class MetricsRow:
    """The figures of one group (or of the whole window, group ``all``); None where undefined."""

    group: str
    n: int
    mae: float | None
    rmse: float | None
    bias: float | None
    coverage: float | None
    mean_width: float | None
    dejavu_mae: float | None
    lstm_mae: float | None
    persistence_mae: float | None
    first: dt.datetime | None
    last: dt.datetime | None


@dataclass(frozen=True)
class MetricsReport:
    """``metrics report``: the window, the grouping, one row per group and the total."""

    since: dt.datetime | None
    until: dt.datetime
    by: str | None
    rows: list[MetricsRow]
    total: MetricsRow


@dataclass(frozen=True)
class MetricsCheck:
    """``metrics check``: the window's figures, the breached alerts, and the outcome."""

    since: dt.datetime | None
    until: dt.datetime
    figures: MetricsRow
    mae_alert: float
    coverage_alert: float
    min_predictions: int
    breaches: list[str]
    outcome: str  # "ok", "alert" or "empty"
    message: str


def window(
    now: dt.datetime,
    *,
    days: float | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    default_days: float = 30.0,
) -> Window:
    """The window of ``--days N`` (the last N days up to ``now``) or ``--since D``/``--until D``
    (whole UTC days, both inclusive); neither gives the last ``default_days``."""
    if days is not None and (since is not None or until is not None):
        raise BadInput("--days cannot be combined with --since/--until")
    if days is not None and (not math.isfinite(days) or days <= 0):
        raise BadInput(f"--days {days:g}: must be a positive number of days")
    if since is not None and until is not None and since > until:
        raise BadInput(f"--since {since} is after --until {until}")
    if since is None and until is None:
        try:
            start = now - dt.timedelta(days=days or default_days)
        except OverflowError:
            raise BadInput(f"--days {days or default_days:g}: reaches before year 1") from None
        if start >= now:
            raise BadInput(f"--days {days:g}: shorter than a microsecond")
        return Window(start, now)
    start = None if since is None else dt.datetime.combine(since, dt.time(), dt.timezone.utc)
    try:
        end = now if until is None else dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), dt.timezone.utc)
    except OverflowError:
        raise BadInput(f"--until {until}: the last day the calendar has") from None
    if start is not None and start >= end:
        raise BadInput(f"--since {since} is in the future (now {now:%Y-%m-%d %H:%M} UTC)")
    return Window(start, end)


def _mean(total: float | None, n: int) -> float | None:
    return None if total is None or n == 0 else total / n


def figures(sums: Sums) -> MetricsRow:
    """Means from sums: MAE of absolute errors, RMSE = sqrt(mean square), bias = mean(actual - forecast)."""
    n = sums.n
    mean_square = _mean(sums.sq_error, n)
    return MetricsRow(
        group=sums.group,
        n=n,
        mae=_mean(sums.abs_error, n),
        rmse=None if mean_square is None else math.sqrt(mean_square),
        bias=_mean(sums.error, n),
        coverage=_mean(float(sums.covered), n),
        mean_width=_mean(sums.width, n),
        dejavu_mae=_mean(sums.dejavu_abs, sums.dejavu_n),
        lstm_mae=_mean(sums.lstm_abs, sums.lstm_n),
        persistence_mae=_mean(sums.persistence_abs, sums.persistence_n),
        first=sums.first,
        last=sums.last,
    )


def window_metrics(
    engine: Engine,
    since: dt.datetime | None,
    until: dt.datetime | None,
    *,
    version: str | None = None,
    arm: str | None = None,
) -> MetricsRow:
    """The figures of the counted predictions created in ``[since, until)`` (n = 0 when none)."""
    with reachable(engine), engine.connect() as conn:
        return figures(window_sums(conn, since=since, until=until, version=version, arm=arm)[0])


def report(
    engine: Engine,
    *,
    now: dt.datetime,
    days: float | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    by: str | None = None,
) -> MetricsReport:
    """``metrics report``: figures of the window (see ``window``; default the last 30 days) per ``by``
    group (version, arm, day, week, segment) and in total."""
    span = window(now, days=days, since=since, until=until)
    if by is not None and by not in GROUPINGS:
        raise BadInput(f"--by {by!r}: use one of {', '.join(GROUPINGS)}")
    with reachable(engine), engine.connect() as conn:
        total = figures(window_sums(conn, since=span.since, until=span.until)[0])
        rows = [total] if by is None else [
            figures(s) for s in window_sums(conn, since=span.since, until=span.until, by=by)
        ]
    return MetricsReport(span.since, span.until, by, rows, total)


def breaches(row: MetricsRow, monitoring: MonitoringSettings) -> list[str]:
    """The alert levels ``row`` crosses, each naming the figure, its value and the level."""
    found = []
    if row.n < monitoring.min_predictions:
        found.append(f"n {row.n} < min_predictions {monitoring.min_predictions}")
    if row.mae is not None and row.mae > monitoring.mae_alert:
        found.append(f"mae {row.mae:.3f} > mae_alert {monitoring.mae_alert:g}")
    if row.coverage is not None and row.coverage < monitoring.coverage_alert:
        found.append(f"coverage {row.coverage:.3f} < coverage_alert {monitoring.coverage_alert:g}")
    return found


def check(engine: Engine, monitoring: MonitoringSettings, *, now: dt.datetime,
          days: float | None = None) -> MetricsCheck:
    """``metrics check``: compare the last ``days`` (default ``monitoring.window_hours``) with the
    alert levels and record a ``metrics_check`` event.

    No resolved prediction at all is outcome ``empty`` (nothing to judge, not an alert).
    """
    span = window(now, days=days, default_days=monitoring.window_hours / 24)
    row = window_metrics(engine, span.since, span.until)
    found = [] if row.n == 0 else breaches(row, monitoring)
    outcome = "empty" if row.n == 0 else ("alert" if found else "ok")
    message = EMPTY if row.n == 0 else ("; ".join(found) if found else "all figures within the alert levels")
    result = MetricsCheck(span.since, span.until, row, monitoring.mae_alert, monitoring.coverage_alert,
                          monitoring.min_predictions, found, outcome, message)
    details = {
        "since": span.since, "until": span.until, "n": row.n, "mae": row.mae, "coverage": row.coverage,
        "mae_alert": monitoring.mae_alert, "coverage_alert": monitoring.coverage_alert,
        "min_predictions": monitoring.min_predictions, "breaches": found,
    }
    with reachable(engine), engine.begin() as conn:
        record_event(conn, "metrics_check", outcome, at=now, details=details)
    return result
