"""Performance of the prediction log: ``metrics report`` and ``metrics check``.

Only the counted row per (game, arm, version) counts (``store.predictions.latest_rows``), of the
arms production served unless asked otherwise (A, and B in a split test; never shadow). The sums
run in the database; this module turns them into means, bounds them, and compares the bounds
with the alert levels.
"""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine

from nbalife.config import MonitoringSettings
from nbalife.errors import BadInput
from nbalife.store.engine import reachable
from nbalife.store.events import list_events, record_event
from nbalife.store.metrics import GROUPINGS, Sums, window_sums
from nbalife.store.predictions import (
    SERVING_ARMS,
    first_prediction_at,
    games_without_prediction,
    quarantined_count,
    unresolved_older_than,
)
from nbalife.vocab import ARMS

EMPTY = "no resolved predictions in the window"
ALL_ARMS = "all"
EVENT_KIND = "metrics_check"
CAUSES = ("mae", "coverage", "missing_predictions", "unsynced_results")


def arm_selection(arm: str | None) -> tuple[str, tuple[str, ...] | None]:
    """``--arm``: None is what production served (A and B), ``all`` every arm, else one arm; the
    label and the arms to filter (None: no filter)."""
    if arm is None:
        return "serving", SERVING_ARMS
    if arm == ALL_ARMS:
        return ALL_ARMS, None
    if arm not in ARMS:
        raise BadInput(f"--arm {arm!r}: use one of {', '.join((*ARMS, ALL_ARMS))}")
    return arm, (arm,)


def league_zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise BadInput(f"league.timezone {name!r}: unknown time zone") from None


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
    """``metrics report``: the window, the grouping, the arms counted, one row per group and the
    total (of ``arms``); ``quarantined`` rows were set aside by the upgrade (never counted)."""

    since: dt.datetime | None
    until: dt.datetime
    by: str | None
    rows: list[MetricsRow]
    total: MetricsRow
    arms: str = "serving"
    quarantined: int = 0


@dataclass(frozen=True)
class Bounds:
    """One-sided bounds at ``confidence`` on the window's figures: the MAE is at least
    ``mae_lower`` and the coverage at most ``coverage_upper`` (None where too few games)."""

    confidence: float
    mae_lower: float | None
    coverage_upper: float | None


@dataclass(frozen=True)
class MetricsCheck:
    """``metrics check``: the window's figures and bounds, each cause of alert, and the outcome.

    ``notify`` is False when the same causes were notified less than ``notify.repeat_hours`` ago
    and have not cleared since (``notify_reason`` says which)."""

    since: dt.datetime | None
    until: dt.datetime
    figures: MetricsRow
    mae_alert: float
    coverage_alert: float
    min_predictions: int
    breaches: list[str]
    outcome: str  # "ok", "alert" or "empty"
    message: str
    bounds: Bounds | None = None
    window_games: int | None = None
    arms: str = "serving"
    missing_games: list[str] = field(default_factory=list)
    unsynced_games: list[str] = field(default_factory=list)
    causes: list[str] = field(default_factory=list)
    notify: bool = False
    notify_reason: str = ""
    quarantined: int = 0


def window(
    now: dt.datetime,
    *,
    days: float | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    default_days: float = 30.0,
    zone: str | None = None,
) -> Window:
    """The window of ``--days N`` (the last N days up to ``now``) or ``--since D``/``--until D``
    (whole days in ``zone``, UTC when None, both inclusive); neither gives the last ``default_days``."""
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
    tz = dt.timezone.utc if zone is None else league_zone(zone)
    try:
        start = None if since is None else dt.datetime.combine(since, dt.time(), tz).astimezone(dt.timezone.utc)
    except OverflowError:
        raise BadInput(f"--since {since}: beyond the calendar") from None
    try:
        end = now if until is None else dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), tz)
        end = end.astimezone(dt.timezone.utc)
    except OverflowError:
        raise BadInput(f"--until {until}: the last day the calendar has") from None
    if start is not None and start >= end:
        raise BadInput(f"--since {since} is in the future (now {now.astimezone(tz):%Y-%m-%d %H:%M} "
                       f"{'UTC' if zone is None else zone})")
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
    version: str | tuple[str, ...] | None = None,
    arm: str | tuple[str, ...] | None = SERVING_ARMS,
) -> MetricsRow:
    """The figures of the counted predictions created in ``[since, until)`` (n = 0 when none), of
    the serving arms unless ``arm`` says otherwise (None: every arm)."""
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
    arm: str | None = None,
    zone: str | None = None,
) -> MetricsReport:
    """``metrics report``: figures of the window (see ``window``; default the last 30 days; days in
    ``zone``, the league's) per ``by`` group (version, arm, day, week: game dates, segment) and in
    total, of the serving arms (``arm``: one arm, or ``all``). ``by="arm"`` without ``arm`` lists
    every arm apart, shadow included; the total stays the serving arms'."""
    span = window(now, days=days, since=since, until=until, zone=zone)
    if by is not None and by not in GROUPINGS:
        raise BadInput(f"--by {by!r}: use one of {', '.join(GROUPINGS)}")
    label, arms = arm_selection(arm)
    grouped_arms = None if by == "arm" and arm is None else arms
    with reachable(engine), engine.connect() as conn:
        total = figures(window_sums(conn, since=span.since, until=span.until, arm=arms)[0])
        total = MetricsRow(label, *[getattr(total, f) for f in MetricsRow.__dataclass_fields__ if f != "group"])
        rows = [total] if by is None else [
            figures(s) for s in window_sums(conn, since=span.since, until=span.until, by=by, arm=grouped_arms)
        ]
        quarantined = quarantined_count(conn)
    return MetricsReport(span.since, span.until, by, rows, total, label, quarantined)


def bounds(sums: Sums, confidence: float) -> Bounds:
    """A one-sided lower bound on the MAE (Student t on the absolute errors, whose mean square is
    the mean squared error) and an exact one-sided upper bound on the coverage (Clopper-Pearson),
    both at ``confidence``: an alert needs the evidence, not a point estimate of a few games."""
    from scipy import stats

    n = sums.n
    coverage_upper = None
    if n >= 1:
        coverage_upper = 1.0 if sums.covered >= n else float(stats.beta.ppf(confidence, sums.covered + 1,
                                                                             n - sums.covered))
    mae_lower = None
    if n >= 2:
        mae = sums.abs_error / n
        variance = max(sums.sq_error - n * mae * mae, 0.0) / (n - 1)
        mae_lower = mae - float(stats.t.ppf(confidence, n - 1)) * math.sqrt(variance / n)
    return Bounds(confidence, mae_lower, coverage_upper)


def breaches(row: MetricsRow, bound: Bounds, monitoring: MonitoringSettings) -> list[str]:
    """The alert levels the window's evidence crosses, each naming the figure, its bound and the level."""
    found = []
    if bound.mae_lower is not None and bound.mae_lower > monitoring.mae_alert:
        found.append(f"mae {row.mae:.3f} (at least {bound.mae_lower:.3f} at {bound.confidence:.0%}) "
                     f"> mae_alert {monitoring.mae_alert:g}")
    if bound.coverage_upper is not None and bound.coverage_upper < monitoring.coverage_alert:
        found.append(f"coverage {row.coverage:.3f} (at most {bound.coverage_upper:.3f} at {bound.confidence:.0%}) "
                     f"< coverage_alert {monitoring.coverage_alert:g}")
    return found


def _listed(ids: list[str], limit: int = 5) -> str:
    return ", ".join(ids[:limit]) + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def should_notify(conn: Connection, kind: str, causes: list[str], *, now: dt.datetime,
                  repeat_hours: float) -> tuple[bool, str]:
    """Whether a finding of ``causes`` by the ``kind`` check is worth a notification: not when an
    earlier ``kind`` event notified the same causes (or more) less than ``repeat_hours`` ago and
    no check of ``kind`` since found it cleared. The events carry ``causes`` and ``notify`` in
    their details; returns the decision and why."""
    if not causes:
        return False, "nothing to notify"
    for event in list_events(conn, kind=kind, since=now - dt.timedelta(hours=repeat_hours), limit=10_000):
        if event.at > now:
            continue
        if event.outcome != "alert":
            return True, f"cleared at {event.at:%Y-%m-%d %H:%M} UTC"
        if event.details.get("notify"):
            earlier = set(event.details.get("causes", []))
            if set(causes) <= earlier:
                return False, (f"already notified at {event.at:%Y-%m-%d %H:%M} UTC "
                               f"(again after notify.repeat_hours {repeat_hours:g})")
            return True, f"new cause: {', '.join(sorted(set(causes) - earlier))}"
    return True, "not notified recently"


def check(engine: Engine, monitoring: MonitoringSettings, *, now: dt.datetime, days: float | None = None,
          arm: str | None = None, zone: str = "America/New_York", repeat_hours: float = 24.0) -> MetricsCheck:
    """``metrics check``: judge the last ``monitoring.window_games`` resolved games of the serving
    arms (or the last ``days``, or ``monitoring.window_hours`` when set) and record a
    ``metrics_check`` event.

    Causes of an alert: the MAE's lower bound above ``mae_alert``; the coverage's upper bound
    below ``coverage_alert`` (both at ``alert_confidence``); games in the store dated in the last
    ``missing_days`` league days (``zone``) with no logged prediction of the serving arms (none
    before the first one ever logged); predictions older than ``outcome_lag_hours`` whose result
    is not synced (made in the last ``outcome_lag_hours + 24 * missing_days`` hours, so that one
    lost game pages for a bounded time). No resolved prediction and no other cause is ``empty``.
    """
    label, arms = arm_selection(arm)
    serving = SERVING_ARMS if arms is None else arms
    games = None
    if days is not None or monitoring.window_hours is not None:
        span = window(now, days=days if days is not None else monitoring.window_hours / 24)
    else:
        span, games = Window(None, now), monitoring.window_games
    tz = league_zone(zone)
    today = now.astimezone(tz).date()
    lookback = dt.timedelta(hours=monitoring.outcome_lag_hours + 24 * monitoring.missing_days)
    with reachable(engine), engine.connect() as conn:
        sums = window_sums(conn, since=span.since, until=span.until, arm=arms, last=games)[0]
        first = first_prediction_at(conn, arms=serving)
        missing = [] if first is None else games_without_prediction(
            conn, since=max(today - dt.timedelta(days=monitoring.missing_days - 1), first.astimezone(tz).date()),
            until=today, arms=serving)
        unsynced = unresolved_older_than(conn, now - dt.timedelta(hours=monitoring.outcome_lag_hours),
                                         since=now - lookback, arms=serving)
        quarantined = quarantined_count(conn)
    row = figures(sums)
    bound = bounds(sums, monitoring.alert_confidence)
    found = breaches(row, bound, monitoring)
    causes = [c for c, hit in zip(CAUSES, (any(b.startswith("mae") for b in found),
                                           any(b.startswith("coverage") for b in found), missing, unsynced)) if hit]
    if missing:
        found.append(f"{len(missing)} game(s) played with no logged prediction: {_listed(missing)}")
    if unsynced:
        found.append(f"{len(unsynced)} game(s) with no synced result after outcome_lag_hours "
                     f"{monitoring.outcome_lag_hours:g}: {_listed(unsynced)}")
    outcome = "alert" if found else ("empty" if row.n == 0 else "ok")
    message = "; ".join(found) if found else (EMPTY if row.n == 0 else "all figures within the alert levels")
    since = sums.first if games is not None else span.since
    with reachable(engine), engine.begin() as conn:
        notify, reason = should_notify(conn, EVENT_KIND, causes, now=now, repeat_hours=repeat_hours)
        details = {
            "since": since, "until": span.until, "window_games": games, "arms": label, "n": row.n, "mae": row.mae,
            "coverage": row.coverage, "mae_lower": bound.mae_lower, "coverage_upper": bound.coverage_upper,
            "confidence": bound.confidence, "mae_alert": monitoring.mae_alert,
            "coverage_alert": monitoring.coverage_alert, "missing_games": missing[:100],
            "unsynced_games": unsynced[:100], "breaches": found, "causes": causes, "notify": notify,
        }
        record_event(conn, EVENT_KIND, outcome, at=now, details=details)
    return MetricsCheck(since, span.until, row, monitoring.mae_alert, monitoring.coverage_alert,
                        monitoring.min_predictions, found, outcome, message, bound, games, label, missing, unsynced,
                        causes, notify, reason, quarantined)


def alert_cause(breach: str) -> str:
    """What a breached alert level is about: its words before the first figure (``"n 5 < …"`` →
    ``n``, ``"coverage 0.81 < …"`` → ``coverage``)."""
    import re

    return re.split(r"[-\d(<>=]", breach, maxsplit=1)[0].strip(" :") or breach
