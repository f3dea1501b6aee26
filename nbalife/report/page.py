"""The report as one self-contained HTML page: inline CSS and inline SVG figures, no script, no
font, no link to anything outside the file (it works offline and from an e-mail attachment)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

from nbalife.report import figures
from nbalife.report.content import MARKER_COLOURS, ReportContent
from nbalife.report.series import league_day

STYLE = """
body { font-family: sans-serif; margin: 1.5em auto; max-width: 62em; color: #222; background: #fff; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
td, th { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; } .figure svg { max-width: 100%; height: auto; }
.pair { display: flex; flex-wrap: wrap; gap: 1em; } .pair > div { flex: 1 1 26em; }
.empty { font-size: 1.2em; padding: 1em; background: #fff4e0; border: 1px solid #d08000; }
.note { color: #555; font-size: 0.85em; } td:first-child { white-space: nowrap; }
"""


ALERT_ROWS = 200  # the alerts table lists the latest ones; the summary above it counts them all


def _cell(value: Any, zone: str = "UTC") -> str:
    """One table cell; a time in the league's zone, with its abbreviation (EST, EDT)."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, dt.datetime):
        from zoneinfo import ZoneInfo

        return f"{value.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M %Z}"
    return str(value)


def _table(header: Sequence[str] | None, rows: Iterable[Sequence[Any]], zone: str = "UTC") -> str:
    """A table; ``header`` None: none (a list of name and value)."""
    head = "" if header is None else "<tr>" + "".join(f"<th>{escape(h)}</th>" for h in header) + "</tr>"
    body = "".join("<tr>" + "".join(f"<td>{escape(_cell(v, zone))}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table>{head}{body}</table>"


def _figure(title: str, svg: str, caption: str) -> str:
    return f'<h2>{escape(title)}</h2><div class="figure">{svg}</div><p class="note">{escape(caption)}</p>'


def _since(content: ReportContent) -> str:
    return "the beginning" if content.since is None else _cell(content.since, content.zone)


def _header(content: ReportContent) -> str:
    total = content.total
    zone = content.zone
    period = f"{_since(content)} to {_cell(content.until, zone)}"
    rows: list[tuple[str, Any]] = [
        ("production", content.production or "none"),
        ("period", period),
        (f"n (resolved predictions, arm {content.arm})", total.n),
        ("MAE", total.mae), ("persistence MAE (d18)", total.persistence_mae),
        ("coverage", total.coverage), ("mean width", total.mean_width),
        ("generated", content.now),
        ("alerts in the period", len(content.alerts)),
        ("days", f"game days in league time ({zone})"),
    ]
    if content.baseline is not None:
        other = content.baseline
        rows.insert(7, (f"{other.label}: MAE, coverage, width", f"{other.mae:.3f}, {other.coverage:.3f}, {other.width:.3f}"))
    findings = _table(["check", "at", "outcome", "version", "finding"],
                      [(f.kind, f.at, f.outcome, f.version, f.summary) for f in content.findings], zone)
    return (f"<h1>{escape(content.title)}</h1>" + _table(None, rows, zone)
            + "<h2>Last checks</h2>" + (findings if content.findings else "<p>No check recorded up to the end "
                                                                           "of the window.</p>"))


def _series(content: ReportContent) -> str:
    daily, markers = content.daily, content.markers
    assert daily is not None
    beside = {"markers": markers, "label": content.label, "baseline": content.baseline, "zone": content.zone}
    parts = [
        _figure("Coverage, rolling 7 and 30 days", figures.coverage(
            daily, target=content.target, band=content.band, alert=content.coverage_alert, **beside),
            f"Share of actual halftime differentials inside the logged interval. The conformal check "
            f"recalibrates outside the shaded band; metrics check alerts below {content.coverage_alert:g}. "
            f"Dotted lines: changes of the serving version (promotions, rollbacks)."),
        _figure("MAE over time, next to persistence", figures.mae(daily, **beside),
                "Mean absolute error of the forecast and of persistence (the differential at 6:00 left in "
                "Q2 as the halftime forecast) on the same games."),
        _figure("Interval width over time", figures.width(daily, **beside),
                "Mean width (upper - lower) of the logged intervals."),
    ]
    calibration, residuals = content.calibration, content.residuals
    pair = []
    if calibration is not None and calibration.points and calibration.points[0].n:
        skipped = (f" {calibration.skipped} predictions of versions not in the registry "
                   f"({', '.join(calibration.skipped_versions)}) are left out." if calibration.skipped else "")
        pair.append(_figure("Calibration", figures.calibration(calibration.points),
                            "Each logged interval rescaled to 50/80/90/95% by its version's conformal residual "
                            "quantiles, against the share of outcomes inside." + skipped))
    elif calibration is not None and calibration.skipped:
        pair.append(f"<h2>Calibration</h2><p>Not drawn: no version of the window's predictions is in the registry "
                    f"({escape(', '.join(calibration.skipped_versions))}).</p>")
    if residuals is not None:
        pair.append(_figure("Residuals", figures.residuals(residuals), "Distribution of actual - forecast."))
    if content.segments:
        pair.append(_figure("Coverage by game state", figures.segments(content.segments, target=content.target),
                            "Close: |d18| <= 5, medium: <= 12, blowout: above (as metrics report --by segment)."))
    parts.append('<div class="pair">' + "".join(f"<div>{p}</div>" for p in pair) + "</div>")
    if content.arms:
        parts.append(_figure("By arm", figures.arms(content.arms, target=content.target, markers=markers,
                                                      zone=content.zone),
                             "Each arm's counted predictions: A (production), B (a split test's candidate), "
                             "shadow (a shadow test's candidate, which served nothing).")
                     + _table(["arm", "n", "MAE", "persistence MAE", "coverage", "mean width"],
                              [(a.arm, a.total.n, a.total.mae, a.total.persistence_mae, a.total.coverage,
                                a.total.mean_width) for a in content.arms]))
    return "".join(parts)


def _timeline(content: ReportContent) -> str:
    markers = content.markers
    if not markers:
        return "<h2>Version timeline</h2><p>No promotion, recalibration, retrain, update or rollback in the window.</p>"
    if content.daily is not None:
        first, last = content.daily.days[0], content.daily.days[-1]
    else:
        first = league_day(markers[0].at if content.since is None else content.since, content.zone)
        last = league_day(content.until - dt.timedelta(microseconds=1), content.zone)
    legend = ", ".join(f'<span style="color:{colour}">&#9660; {kind}</span>' for kind, colour in MARKER_COLOURS.items())
    changes = sum(m.changed_production for m in markers)
    return (_figure("Version timeline", figures.timeline(markers, first, last, content.zone),
                    f"{changes} change(s) of production (large markers, labelled with the version that then "
                    f"served); small markers: candidates registered, refused or rejected beside it.")
            + f"<p class=\"note\">{legend}</p>"
            + _table(["at", "change", "version", "detail"], [(m.at, m.kind, m.version, m.label) for m in markers],
                     content.zone))


def _alerts(content: ReportContent) -> str:
    """Every alert of the period: how many by check and cause, then the latest ``ALERT_ROWS``."""
    alerts = content.alerts
    if not alerts:
        return "<h2>Alerts</h2><p>No check alerted or found drift in the period.</p>"
    counts: dict[tuple[str, str], list[dt.date]] = {}
    for a in alerts:
        for cause in a.causes:
            counts.setdefault((a.kind, cause), []).append(league_day(a.at, content.zone))
    summary = _table(["check", "cause", "alerts", "days"],
                     [(kind, cause, len(days), len(set(days))) for (kind, cause), days in sorted(counts.items())])
    shown = alerts[-ALERT_ROWS:]
    note = (f'<p class="note">The latest {len(shown)} of {len(alerts)} alerts.</p>' if len(shown) < len(alerts)
            else "")
    return ("<h2>Alerts</h2>" + summary + note
            + _table(["at", "check", "outcome", "version", "cause", "finding"],
                     [(a.at, a.kind, a.outcome, a.version, ", ".join(a.causes), a.summary) for a in reversed(shown)],
                     content.zone))


def _abtest(content: ReportContent) -> str:
    sections = content.abtests
    if not sections:
        return "<h2>A/B tests</h2><p>No A/B test ran in the period.</p>"
    parts = [f"<h2>A/B tests ({len(sections)} in the period)</h2>",
             _table(["test", "champion (A)", "candidate (B)", "mode", "stage", "started", "state", "decision"],
                    [(t.test_id, t.champion, t.candidate, t.mode, f"{t.stage + 1}/{len(t.shares)}", t.started_at,
                      _state(t, content.zone), f"{s.decision.action}: {s.decision.reason}")
                     for s in sections for t in [s.test]], content.zone)]
    for index, section in enumerate(sections):
        test = section.test
        arms = _table(["arm", "n", "MAE", "coverage", "width"], [(a.arm, a.n, a.mae, a.coverage, a.width)
                                                                for a in section.arms])
        parts.append(_figure(f"A/B test {test.test_id} ({'running' if test.ended_at is None else test.status})",
                             figures.abtest(section, f"abtest{index}"),
                             f"Sequential test (mixture SPRT, tuned for {section.path.tau:g} points): B is promoted "
                             f"once p (B better) falls below the level with enough improvement, rolled back once "
                             f"p (B worse) does.") + arms)
    return "".join(parts)


def _faults(content: ReportContent) -> str:
    """A replay's faults: one row per ``--fault``, or without faults the guardrails' false alarms;
    nothing on a page that is not a replay's."""
    zone = content.zone
    if content.faults:
        return ("<h2>Faults</h2>"
                + _table(["fault", "kind", "injected_at", "detected_at", "detected_by", "games_to_detect",
                          "days_to_detect", "action", "recovered_at", "damage: games", "MAE / without",
                          "coverage / without"],
                         [(f.fault, f.kind, f.injected_at, f.detected_at, f.detected_by, f.games_to_detect,
                           f.days_to_detect, f.action, f.recovered_at, f.damage.games,
                           f"{_cell(f.damage.mae)} / {_cell(f.damage.baseline_mae)}",
                           f"{_cell(f.damage.coverage)} / {_cell(f.damage.baseline_coverage)}")
                          for f in content.faults], zone)
                + '<p class="note">Damage: the games from injection to recovery, the faulty run against the '
                  "same games replayed without the fault.</p>")
    if content.false_alarms is None:
        return ""
    alarms = content.false_alarms
    if not alarms:
        return "<h2>Faults</h2><p>No fault injected: no guardrail alert or action.</p>"
    return (f"<h2>Faults</h2><p>No fault injected: {len(alarms)} guardrail alert(s), each one false.</p>"
            + _table(["guardrail", "first", "last", "checks", "action", "detail"],
                     [(a.guardrail, a.first_at, a.last_at, a.checks, a.action, a.detail) for a in alarms], zone))


def _state(test: Any, zone: str) -> str:
    return "running" if test.ended_at is None else f"{test.status} at {_cell(test.ended_at, zone)}"


def render(content: ReportContent) -> str:
    """The whole page as text."""
    if content.daily is None:
        body = (f'<p class="empty">No resolved predictions from {escape(_since(content))} to '
                f"{escape(_cell(content.until, content.zone))}: nothing to draw for this window.</p>")
    else:
        body = _series(content)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(content.title)}</title><style>{STYLE}</style></head><body>"
            + _header(content) + body + _timeline(content) + _alerts(content) + _abtest(content)
            + _faults(content)
            + "</body></html>\n")
