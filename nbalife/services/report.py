"""``nbalife report``: a window of the prediction log, the version timeline, the last checks, the
window's alerts and every A/B test of the window as one self-contained HTML page.

Everything comes from what is recorded: the counted predictions of production's arm (``A``, the
arm ``status`` and ``conformal check`` judge; ``--by arm`` adds each arm beside it), their sums
as ``metrics report`` computes them, the lifecycle events and the A/B tests table; the
calibration plot also reads each version's conformal layer from the registry. Days and times on
the page are in the league's time zone. Read-only: no lock, no event.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from nbalife.config import Settings
from nbalife.errors import BadInput
from nbalife.files import check_output_path, write_atomic
from nbalife.registry import Registry
from nbalife.report import series
from nbalife.report.content import (
    AbSection,
    Alert,
    ArmSeries,
    Baseline,
    Calibration,
    Finding,
    Marker,
    ReportContent,
    Residuals,
)
from nbalife.services.metrics import alert_cause, figures, window
from nbalife.store.abtests import AbTest, list_tests
from nbalife.store.engine import reachable
from nbalife.store.events import Event, list_events
from nbalife.store.metrics import window_sums
from nbalife.store.predictions import ResolvedPrediction, latest_resolved

DEFAULT_DAYS = 90.0
ARM = "A"
BY = ("arm",)  # report --by
CHECKS = ("metrics_check", "conformal_check", "drift_check")
TIMELINE = ("promote", "rollback", "conformal_check", "lstm_retrain", "dejavu_update")
EVENT_LIMIT = 100_000  # per kind and window: far above a season of hourly checks


@dataclass(frozen=True)
class ReportResult:
    """What ``report`` wrote: the file, the window, and what the page holds."""

    out: Path
    since: dt.datetime | None
    until: dt.datetime
    n: int
    production: str | None
    markers: int
    abtests: list[str]
    alerts: int
    empty: bool
    size_bytes: int


def write_report(engine: Engine, registry: Registry, settings: Settings, out: Path, *, now: dt.datetime,
                 days: float | None = None, since: dt.date | None = None,
                 until: dt.date | None = None, by: str | None = None) -> ReportResult:
    """Check ``out`` (an ``.html`` file in an existing folder), gather the window (default: the
    last 90 days; ``by`` "arm": every arm beside production's) and write the page atomically."""
    if by is not None and by not in BY:
        raise BadInput(f"--by {by!r}: use one of {', '.join(BY)}")
    out = check_output_path(out, option="--out", suffixes=(".html",))
    return _write(out, gather(engine, registry, settings, now=now, days=days, since=since, until=until, by=by))


def replay_content(engine: Engine, registry: Registry, settings: Settings, *, first: dt.date, last: dt.date,
                   untouched: dict[str, tuple[float, float, float]]) -> ReportContent:
    """The page of a replayed season (game days ``first`` .. ``last``), in the replay's own store:
    the policy's forecasts, with ``untouched`` (game id -> forecast, lower, upper of the first
    model without any job) beside them as "do nothing"; the window is those league days, and the
    page is as of the morning after. The replay adds its faults (or false alarms) and writes it
    with ``write_content``."""
    from nbalife.ops.schedule import local_at

    end = local_at(last + dt.timedelta(days=1), dt.time(9), settings.league.timezone)
    return gather(engine, registry, settings, now=end, since=first, until=last, untouched=untouched,
                  title=f"nbalife replay {first} .. {last}", label="policy")


def write_content(out: Path, content: ReportContent) -> ReportResult:
    """Write ``content``'s page to ``out`` (checked by the caller)."""
    return _write(out, content)


def _write(out: Path, content: ReportContent) -> ReportResult:
    from nbalife.report.page import render

    page = render(content)
    write_atomic(out, page)
    return ReportResult(out, content.since, content.until, content.total.n, content.production,
                        len(content.markers), [a.test.test_id for a in content.abtests], len(content.alerts),
                        content.daily is None, len(page.encode()))


def gather(engine: Engine, registry: Registry, settings: Settings, *, now: dt.datetime,
           days: float | None = None, since: dt.date | None = None, until: dt.date | None = None,
           title: str = "nbalife report", label: str = "model", by: str | None = None,
           untouched: dict[str, tuple[float, float, float]] | None = None) -> ReportContent:
    """The page's content for the window of ``--days`` or ``--since``/``--until``; with
    ``untouched``, those forecasts of the same games as a "do nothing" baseline; ``by`` "arm":
    each arm's series beside production's. Days are league days (``league.timezone``)."""
    zone = settings.league.timezone
    span = _league_window(window(now, days=days, since=since, until=until, default_days=DEFAULT_DAYS),
                          since, until, zone)
    with reachable(engine), engine.connect() as conn:
        rows = latest_resolved(conn, since=span.since, until=span.until, arm=ARM)
        total = figures(window_sums(conn, since=span.since, until=span.until, arm=ARM)[0])
        segments = [figures(s) for s in window_sums(conn, since=span.since, until=span.until, by="segment", arm=ARM)]
        events = {kind: [e for e in list_events(conn, kind=kind, since=span.since, limit=EVENT_LIMIT)
                         if e.at < span.until] for kind in {*CHECKS, *TIMELINE}}
        tests = [t for t in reversed(list_tests(conn)) if t.started_at < span.until
                 and (span.since is None or t.ended_at is None or t.ended_at >= span.since)]
        by_arm = None if by != "arm" else [
            (s.group, figures(s), latest_resolved(conn, since=span.since, until=span.until, arm=s.group))
            for s in window_sums(conn, since=span.since, until=span.until, by="arm")]
    markers = sorted((m for kind in TIMELINE for e in events[kind] if (m := marker(e)) is not None),
                     key=lambda m: m.at)
    findings = [_finding(events[kind][0]) for kind in CHECKS if events[kind]]
    alerts = sorted((a for kind in CHECKS for e in events[kind] if (a := alert(e)) is not None), key=lambda a: a.at)
    first = span.since if span.since is not None or not rows else rows[0].created_at
    daily = calibration = residuals = baseline = arms = None
    if rows:  # the time axes span the predictions and the markers, not empty years of a long window
        moments = [rows[0].created_at, rows[-1].created_at, *(m.at for m in markers)]
        days_shown = series.league_day(min(moments), zone), series.league_day(max(moments), zone)
        daily = series.daily(rows, *days_shown, zone)
        calibration = _calibration(registry, rows)
        residuals = Residuals(*series.residuals(rows))
        if untouched is not None:
            baseline = _baseline(rows, untouched, days_shown, zone)
        if by_arm is not None:
            arms = [ArmSeries(arm, row, series.daily(found, *days_shown, zone)) for arm, row, found in by_arm]
    return ReportContent(
        title=title, now=now, since=first, until=span.until, production=registry.current_version(), arm=ARM,
        total=total, target=settings.conformal.target_coverage, band=settings.conformal.recalibration_threshold,
        coverage_alert=settings.monitoring.coverage_alert, findings=findings, markers=markers, daily=daily,
        calibration=calibration, residuals=residuals, segments=segments,
        abtests=[_abtest(engine, settings, t, now=now) for t in tests], label=label, baseline=baseline,
        alerts=alerts, arms=arms, zone=zone)


def _league_window(span, since: dt.date | None, until: dt.date | None, zone: str):  # noqa: ANN001, ANN202
    """``--since``/``--until`` as whole league days: from midnight of ``since`` to midnight after
    ``until`` in ``zone`` (``window`` checked them)."""
    import dataclasses
    from zoneinfo import ZoneInfo

    def midnight(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(), ZoneInfo(zone)).astimezone(dt.timezone.utc)

    return dataclasses.replace(span, since=span.since if since is None else midnight(since),
                               until=span.until if until is None else midnight(until + dt.timedelta(days=1)))


def alert(event: Event) -> Alert | None:
    """The alert a check's event raised (a metrics check that alerted, a conformal check or a
    drift check that found drift), its causes named; None when it found nothing."""
    d = event.details
    if event.kind == "metrics_check" and event.outcome == "alert":
        breaches = [str(b) for b in d.get("breaches") or []]
        causes = tuple(dict.fromkeys(alert_cause(b) for b in breaches))
        return Alert(event.at, event.kind, event.outcome, event.version, causes or ("alert",),
                     "; ".join(breaches) or "alert")
    if event.kind in ("conformal_check", "drift_check") and event.outcome == "drift":
        return Alert(event.at, event.kind, event.outcome, event.version,
                     ("coverage",) if event.kind == "conformal_check" else ("input drift",), _finding(event).summary)
    return None


def _baseline(rows: list[ResolvedPrediction], untouched: dict[str, tuple[float, float, float]],
              days: tuple[dt.date, dt.date], zone: str) -> Baseline:
    """The untouched forecasts of the served rows' games, at the same times ("do nothing")."""
    import dataclasses

    other = [dataclasses.replace(r, forecast=f, lower=lo, upper=hi, error=r.actual - f)
             for r in rows if r.game_id in untouched for f, lo, hi in [untouched[r.game_id]]]
    n = max(len(other), 1)
    return Baseline("do nothing", series.daily(other, *days, zone), sum(abs(r.error) for r in other) / n,
                    sum(r.lower <= r.actual <= r.upper for r in other) / n, sum(r.upper - r.lower for r in other) / n)


def marker(event: Event) -> Marker | None:
    """The timeline marker of an event, or None when it changed nothing worth marking (a check
    without drift, a skipped retrain, a refused promotion)."""
    d, outcome = event.details, event.outcome
    if event.kind in ("promote", "rollback") and outcome == "ok":
        kind = "promotion" if event.kind == "promote" else "rollback"
        return Marker(event.at, kind, event.version, f"{d.get('from') or '-'} -> {d.get('to')}: {d.get('reason') or ''}")
    if event.kind == "conformal_check" and outcome == "drift" and d.get("recalibration"):
        recal = d["recalibration"]
        state = "promoted" if recal.get("applied") else f"registered ({recal.get('refused') or 'not applied'})"
        return Marker(event.at, "recalibration", recal.get("version"),
                      f"coverage {_number(d.get('coverage'))} on {d.get('n')} games; quantile "
                      f"{_number(recal.get('old_quantile'))} -> {_number(recal.get('new_quantile'))}, {state}")
    if event.kind == "lstm_retrain" and outcome in ("registered", "rejected"):
        return Marker(event.at, "retrain", d.get("candidate") or event.version, f"{outcome}: {d.get('message', '')}")
    if event.kind == "dejavu_update" and outcome in ("registered", "promoted"):
        return Marker(event.at, "update", event.version, f"Dejavu update {outcome}")
    return None


def _number(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else "-"


def _finding(event: Event) -> Finding:
    """One line of what the check found."""
    d = event.details
    if "error" in d:
        summary = f"failed: {d['error']}"
    elif event.kind == "metrics_check":
        summary = "; ".join(d.get("breaches") or []) or (
            f"n {d.get('n')}, MAE {_number(d.get('mae'))}, coverage {_number(d.get('coverage'))}: within the alert levels")
    elif event.kind == "conformal_check":
        summary = (f"coverage {_number(d.get('coverage'))} on {d.get('n')} games (target {d.get('target')}, "
                   f"threshold {d.get('threshold')})")
    else:
        drifted = d.get("drifted") or []
        summary = f"drifted: {', '.join(drifted)}" if drifted else "no feature drifted"
    return Finding(event.kind, event.at, event.outcome, event.version, summary)


def _calibration(registry: Registry, rows: list[ResolvedPrediction]) -> Calibration:
    """Coverage at the nominal levels, each version's intervals rescaled by its conformal layer's
    residual quantiles (versions no longer in the registry are left out and named)."""
    from nbalife.forecast.conformal import AdaptiveConformal

    ratios: dict[str, dict[float, float]] = {}
    for version in sorted({r.version for r in rows}):
        try:
            layer = AdaptiveConformal.load(registry.path_of(version))
        except BadInput:
            continue
        logged = 1.0 - layer.alpha
        levels = {level: layer.split_.quantile_at(1.0 - level, finite=True) for level in (*series.NOMINAL_LEVELS, logged)}
        found = series.level_ratios(levels, logged)
        if found is not None:
            ratios[version] = found
    skipped = sorted({r.version for r in rows} - set(ratios))
    return Calibration(series.calibration(rows, ratios), sum(r.version in skipped for r in rows), skipped)


def _abtest(engine: Engine, settings: Settings, test: AbTest, *, now: dt.datetime) -> AbSection:
    from nbalife.services.abtest import report, sequential_path

    analysis = report(engine, settings, test, now=now).analysis
    return AbSection(test, analysis.arms, analysis.decision, sequential_path(engine, test), settings.abtest.p_value)
