"""The report's figures: matplotlib (no pyplot, no display) drawn straight to inline SVG.

Text is drawn as paths (``svg.fonttype: path``), so the SVG needs no font; the XML prolog and
matplotlib's metadata block (which names URLs) are left out, so the page references nothing.
Time axes count league days (naive league time); a vertical line marks each change of the
serving version only. Legends sit above the axes, clear of the data; a y axis shows plain
numbers (no offset), and a constant series gets a band around its value.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

from nbalife.report.content import MARKER_COLOURS
from nbalife.report.series import league_time

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from nbalife.report.content import AbSection, ArmSeries, Baseline, Marker, Residuals
    from nbalife.report.series import CalibrationPoint, Daily
    from nbalife.services.metrics import MetricsRow

WIDE, SQUARE = (9.0, 3.4), (4.6, 3.8)
MODEL, PERSISTENCE, TARGET, BASELINE = "#1f4e9c", "#7f7f7f", "#2a7b2a", "#d08000"
ARM_COLOURS = {"A": MODEL, "B": "#d08000", "shadow": "#6a3d9a"}
LABEL_GAP = 0.09  # room a version label takes, as a share of the axis width (a label is about 0.06)
LABEL_LEVELS = 3


def _figure(size: tuple[float, float]) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=size, layout="constrained")


def to_svg(figure: Figure, name: str) -> str:
    """The figure as one ``<svg>`` element; ``name`` salts its internal ids so that several
    figures on one page never share one."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": name}):
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    text = buffer.getvalue()
    return text[text.index("<svg"):].strip()


def _time_axis(ax: Axes, first: dt.date, last: dt.date, markers: Sequence[Marker], zone: str) -> None:
    """League dates on x over the window, and each change of the serving version (a promotion or
    a rollback; not the candidates registered beside it) as a vertical line."""
    import matplotlib.dates as mdates

    ax.set_xlim(dt.datetime.combine(first, dt.time()), dt.datetime.combine(last, dt.time(23, 59)))
    locator = mdates.AutoDateLocator(maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    for marker in markers:
        if marker.changed_production:
            ax.axvline(league_time(marker.at, zone), color=MARKER_COLOURS[marker.kind], linewidth=1.0,
                       alpha=0.7, linestyle=":")
    ax.grid(alpha=0.3)


def _legend(ax: Axes, ncol: int) -> None:
    """The legend above the axes, where it hides no data."""
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.01), ncol=ncol, fontsize=8, frameon=False,
              borderaxespad=0.0)


def _readable_y(ax: Axes, *values: object) -> None:
    """Plain tick labels (no ``1e-11+2.2253e1`` offset); a constant series (or one that varies by
    rounding only) gets a band of ±5% (at least ±0.5) around its value."""
    import numpy as np

    ax.ticklabel_format(axis="y", style="plain", useOffset=False)
    found = np.concatenate([np.asarray(v, dtype=float).ravel() for v in values]) if values else np.array([])
    found = found[np.isfinite(found)]
    if found.size and found.max() - found.min() <= 1e-6 * max(1.0, abs(float(found.max()))):
        centre = float(found.mean())
        pad = max(0.5, abs(centre) * 0.05)
        ax.set_ylim(centre - pad, centre + pad)


def _day_times(daily: Daily) -> list[dt.datetime]:
    return [dt.datetime.combine(day, dt.time(12)) for day in daily.days]


def coverage(daily: Daily, *, target: float, band: float, alert: float, markers: Sequence[Marker],
             label: str = "model", baseline: Baseline | None = None, zone: str) -> str:
    """Rolling 7- and 30-day coverage, the target, the recalibration band and the alert level
    (and a baseline's 30-day coverage)."""
    figure = _figure(WIDE)
    ax = figure.subplots()
    x = _day_times(daily)
    ax.axhspan(target - band, min(target + band, 1.0), color=TARGET, alpha=0.1, label=f"target ± {band:g}")
    ax.axhline(target, color=TARGET, linewidth=1.2, label=f"target {target:g}")
    ax.axhline(alert, color="#c0262d", linewidth=1.0, linestyle="--", label=f"alert {alert:g}")
    ax.plot(x, daily.coverage[7], color=MODEL, alpha=0.45, linewidth=1.0, label=f"{label}, 7-day")
    ax.plot(x, daily.coverage[30], color=MODEL, linewidth=2.0, label=f"{label}, 30-day")
    if baseline is not None:
        ax.plot(x, baseline.daily.coverage[30], color=BASELINE, linewidth=2.0, label=f"{baseline.label}, 30-day")
    ax.set_ylabel("interval coverage")
    ax.ticklabel_format(axis="y", style="plain", useOffset=False)
    ax.set_ylim(max(0.0, min(alert, target - band) - 0.15), 1.005)
    _time_axis(ax, daily.days[0], daily.days[-1], markers, zone)
    _legend(ax, 3)
    return to_svg(figure, "coverage")


def mae(daily: Daily, *, markers: Sequence[Marker], label: str = "model", baseline: Baseline | None = None,
        zone: str) -> str:
    """Rolling 7- and 30-day MAE of the model next to persistence on the same games (and a
    baseline's 30-day MAE)."""
    figure = _figure(WIDE)
    ax = figure.subplots()
    x = _day_times(daily)
    for days, width, alpha in ((7, 1.0, 0.45), (30, 2.0, 1.0)):
        ax.plot(x, daily.mae[days], color=MODEL, linewidth=width, alpha=alpha, label=f"{label}, {days}-day")
        ax.plot(x, daily.persistence_mae[days], color=PERSISTENCE, linewidth=width, alpha=alpha, linestyle="--",
                label=f"persistence (d18), {days}-day")
    if baseline is not None:
        ax.plot(x, baseline.daily.mae[30], color=BASELINE, linewidth=2.0, label=f"{baseline.label}, 30-day")
    ax.set_ylabel("MAE (points)")
    _readable_y(ax, *daily.mae.values(), *daily.persistence_mae.values())
    _time_axis(ax, daily.days[0], daily.days[-1], markers, zone)
    _legend(ax, 3 if baseline is not None else 4)
    return to_svg(figure, "mae")


def width(daily: Daily, *, markers: Sequence[Marker], label: str = "model", baseline: Baseline | None = None,
          zone: str) -> str:
    """Mean interval width per day and over 7 days (and a baseline's over 7 days)."""
    figure = _figure(WIDE)
    ax = figure.subplots()
    x = _day_times(daily)
    ax.plot(x, daily.width[1], color=MODEL, marker=".", linestyle="none", alpha=0.5, label="daily mean")
    ax.plot(x, daily.width[7], color=MODEL, linewidth=2.0, label=f"{label}, 7-day")
    if baseline is not None:
        ax.plot(x, baseline.daily.width[7], color=BASELINE, linewidth=2.0, label=f"{baseline.label}, 7-day")
    ax.set_ylabel("interval width (points)")
    _readable_y(ax, daily.width[1], daily.width[7], *([] if baseline is None else [baseline.daily.width[7]]))
    _time_axis(ax, daily.days[0], daily.days[-1], markers, zone)
    _legend(ax, 3)
    return to_svg(figure, "width")


def calibration(points: Sequence[CalibrationPoint]) -> str:
    """Empirical against nominal coverage, with the diagonal of perfect calibration."""
    figure = _figure(SQUARE)
    ax = figure.subplots()
    ax.plot([0.4, 1.0], [0.4, 1.0], color=PERSISTENCE, linestyle="--", linewidth=1.0, label="perfect")
    shown = [p for p in points if p.empirical is not None]
    ax.plot([p.nominal for p in shown], [p.empirical for p in shown], color=MODEL, marker="o", label="empirical")
    for p in shown:
        ax.annotate(f"{p.empirical:.3f}", (p.nominal, p.empirical), textcoords="offset points", xytext=(-30, 6),
                    fontsize=8)
    ax.set_xlim(0.4, 1.0)
    ax.set_ylim(0.4, 1.0)
    ax.set_xlabel("nominal coverage")
    ax.set_ylabel("empirical coverage")
    ax.grid(alpha=0.3)
    _legend(ax, 2)
    return to_svg(figure, "calibration")


def residuals(values: Residuals) -> str:
    """Histogram of the model's errors, persistence's as an outline."""
    import numpy as np

    figure = _figure(SQUARE)
    ax = figure.subplots()
    both = np.concatenate([values.model, values.persistence])
    edges = np.histogram_bin_edges(both, bins=min(40, max(5, int(np.sqrt(len(both))))))
    ax.hist(values.model, bins=edges, color=MODEL, alpha=0.6,
            label=f"model: mean {values.model.mean():+.2f}, sd {values.model.std():.2f}")
    if len(values.persistence):
        ax.hist(values.persistence, bins=edges, histtype="step", color=PERSISTENCE, linewidth=1.5,
                label=f"persistence: sd {values.persistence.std():.2f}")
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_xlabel("actual - forecast (points)")
    ax.set_ylabel("games")
    _legend(ax, 1)
    return to_svg(figure, "residuals")


def segments(rows: Sequence[MetricsRow], *, target: float) -> str:
    """Coverage by game state at 6:00 left in Q2 (|d18|: close, medium, blowout), n on each bar."""
    figure = _figure(SQUARE)
    ax = figure.subplots()
    names = [r.group for r in rows]
    values = [r.coverage or 0.0 for r in rows]
    bars = ax.bar(names, values, color=MODEL, alpha=0.8)
    for bar, row in zip(bars, rows, strict=True):
        ax.annotate(f"{row.coverage:.3f}\nn={row.n}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    textcoords="offset points", xytext=(0, -28), ha="center", color="white", fontsize=8)
    ax.axhline(target, color=TARGET, linewidth=1.2, label=f"target {target:g}")
    ax.set_ylim(0.0, 1.05)
    ax.set_ylabel("interval coverage")
    _legend(ax, 1)
    return to_svg(figure, "segments")


def timeline(markers: Sequence[Marker], first: dt.date, last: dt.date, zone: str) -> str:
    """The version timeline (``timeline_figure``) as SVG."""
    return to_svg(timeline_figure(markers, first, last, zone), "timeline")


def timeline_figure(markers: Sequence[Marker], first: dt.date, last: dt.date, zone: str) -> Figure:
    """The version timeline: one row per kind of change with a marker at each; the version is
    written beside each change of production, on up to ``LABEL_LEVELS`` heights so that no two
    labels overlap (one that finds no free height is left to the table below the figure)."""
    figure = _figure((9.0, 2.6))
    ax = figure.subplots()
    kinds = list(MARKER_COLOURS)
    start = dt.datetime.combine(first, dt.time())
    span = (dt.datetime.combine(last, dt.time(23, 59)) - start).total_seconds() or 1.0
    taken: dict[tuple[int, int], list[tuple[float, float]]] = {}  # (row, level) -> spans of labels
    for marker in markers:
        row = kinds.index(marker.kind)
        at = league_time(marker.at, zone)
        ax.plot([at], [row], marker="v", markersize=8 if marker.changed_production else 5,
                color=MARKER_COLOURS[marker.kind], linestyle="none", alpha=1.0 if marker.changed_production else 0.6)
        if not (marker.changed_production and marker.version):
            continue
        share = (at - start).total_seconds() / span
        right = share > 1.0 - LABEL_GAP  # near the right edge: the label goes to the left of its marker
        extent = (share - LABEL_GAP, share) if right else (share, share + LABEL_GAP)
        level = next((lv for lv in range(LABEL_LEVELS)
                      if all(extent[1] <= a or b <= extent[0] for a, b in taken.get((row, lv), []))), None)
        if level is None:
            continue
        taken.setdefault((row, level), []).append(extent)
        ax.annotate(marker.version, (at, row), textcoords="offset points", xytext=(-3 if right else 3, 5 + 8 * level),
                    ha="right" if right else "left", fontsize=7)
    ax.set_yticks(range(len(kinds)), kinds)
    ax.set_ylim(-0.7, len(kinds) - 0.1)
    _time_axis(ax, first, last, [], zone)
    return figure


def arms(series: Sequence[ArmSeries], *, target: float, markers: Sequence[Marker], zone: str) -> str:
    """``report --by arm``: each arm's 30-day coverage (left) and 30-day MAE (right)."""
    figure = _figure(WIDE)
    left, right = figure.subplots(1, 2)
    for arm in series:
        x = _day_times(arm.daily)
        colour = ARM_COLOURS.get(arm.arm, PERSISTENCE)
        left.plot(x, arm.daily.coverage[30], color=colour, linewidth=2.0, label=f"{arm.arm} (n={arm.total.n})")
        right.plot(x, arm.daily.mae[30], color=colour, linewidth=2.0, label=f"{arm.arm} (n={arm.total.n})")
    left.axhline(target, color=TARGET, linewidth=1.0, label=f"target {target:g}")
    left.set_ylabel("interval coverage, 30-day")
    left.ticklabel_format(axis="y", style="plain", useOffset=False)
    right.set_ylabel("MAE (points), 30-day")
    _readable_y(right, *(arm.daily.mae[30] for arm in series))
    first, last = series[0].daily.days[0], series[0].daily.days[-1]
    for ax in (left, right):
        _time_axis(ax, first, last, markers, zone)
    _legend(left, 2)
    return to_svg(figure, "arms")


def abtest(section: AbSection, name: str = "abtest") -> str:
    """Per-arm MAE (bars) and the sequential test's always-valid p-values over games."""
    figure = _figure(WIDE)
    left, right = figure.subplots(1, 2, width_ratios=(1, 2.4))
    arms = [a for a in section.arms if a.mae is not None]
    bars = left.bar([f"{a.arm} ({section.test.champion if a.arm == 'A' else section.test.candidate})" for a in arms],
                    [a.mae for a in arms], color=[MODEL, "#d08000"][: len(arms)], alpha=0.8)
    for bar, arm in zip(bars, arms, strict=True):
        left.annotate(f"{arm.mae:.3f}\nn={arm.n}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                      textcoords="offset points", xytext=(0, -28), ha="center", color="white", fontsize=8)
    left.set_ylabel("MAE (points)")
    left.tick_params(axis="x", labelsize=7)
    games = range(1, len(section.path.p_better) + 1)
    right.plot(games, section.path.p_better, color=TARGET, label="p (B better)")
    right.plot(games, section.path.p_worse, color="#c0262d", label="p (B worse)")
    right.axhline(section.p_value, color="black", linestyle="--", linewidth=1.0, label=f"level {section.p_value:g}")
    right.set_yscale("log")
    lowest = min([section.p_value / 10, *section.path.p_better, *section.path.p_worse])
    right.set_ylim(max(lowest, 1e-12), 1.5)
    right.set_xlabel("resolved games of the test")
    right.set_ylabel("always-valid p-value")
    right.grid(alpha=0.3)
    _legend(right, 3)
    return to_svg(figure, name)
