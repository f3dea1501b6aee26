"""``nbalife metrics``: performance of the prediction log (the latest row per game, arm and version)."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from nbalife.cli.options import parse_date, window_option
from nbalife.cli.render import emit_json, jsonable, key_values, stdout, table
from nbalife.cli.runtime import runtime
from nbalife.errors import BadInput, CheckFailed

NAME = "metrics"
app = typer.Typer(help="Performance from the prediction log: MAE, coverage, alerts.", no_args_is_help=True)

COLUMNS = ["group", "n", "MAE", "RMSE", "bias", "coverage", "width", "Dejavu MAE", "LSTM MAE",
           "persistence MAE", "first", "last"]

Days = Annotated[Optional[float], window_option("The last N days up to now.")]
SinceDay = Annotated[Optional[dt.date], typer.Option(
    "--since", help="First day (league time, YYYY-MM-DD), inclusive.", parser=parse_date, metavar="DATE")]
UntilDay = Annotated[Optional[dt.date], typer.Option(
    "--until", help="Last day (league time, YYYY-MM-DD), inclusive.", parser=parse_date, metavar="DATE")]
Arm = Annotated[Optional[str], typer.Option(
    help="Count this arm (A, B, shadow) or all; default what production served: A, and B in a split test.")]


def _cells(row: Any) -> list[Any]:
    return [row.group, row.n, row.mae, row.rmse, row.bias, row.coverage, row.mean_width, row.dejavu_mae,
            row.lstm_mae, row.persistence_mae, row.first, row.last]


def _period(since: Any, until: Any) -> str:
    start = "the beginning" if since is None else f"{since:%Y-%m-%d %H:%M}"
    return f"{start} to {until:%Y-%m-%d %H:%M} UTC"


def _quarantined(count: int) -> None:
    if count:
        typer.echo(f"note: {count} logged row(s) with a non-finite or out-of-bound value were set aside by the "
                   "upgrade (table quarantined_predictions) and are not counted", err=True)


def _write_csv(result: Any) -> None:
    fields = [f.name for f in dataclasses.fields(result.rows[0])] if result.rows else ["group", "n"]
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["since", "until", "by", *fields])
    for row in result.rows:
        values = jsonable(row)
        writer.writerow([jsonable(result.since), jsonable(result.until), result.by or "",
                         *("" if values[f] is None else values[f] for f in fields)])


@app.command()
def report(
    ctx: typer.Context,
    days: Days = None,
    since: SinceDay = None,
    until: UntilDay = None,
    by: Annotated[Optional[str], typer.Option(
        help="Group by version, arm (every arm apart), day or week (game dates), or segment.")] = None,
    arm: Arm = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV rows on stdout.")] = False,
) -> None:
    """n, MAE, RMSE, bias, coverage, width, component and persistence MAE of what production
    served (default: last 30 days)."""
    from nbalife.services.metrics import report as run

    rt = runtime(ctx)
    if as_csv and rt.json:
        raise BadInput("--csv and --json cannot be combined")
    result = run(rt.engine, now=rt.now(), days=days, since=since, until=until, by=by, arm=arm,
                 zone=rt.settings.league.timezone)
    _quarantined(result.quarantined)
    if as_csv:
        _write_csv(result)
        return
    if rt.json:
        emit_json(result)
        return
    rows = [_cells(r) for r in result.rows]
    if by is not None and result.rows:
        rows.append(_cells(result.total))
    stdout.print(table(f"Metrics, {_period(result.since, result.until)}" + (f", by {by}" if by else ""),
                       COLUMNS, rows))
    if result.total.n == 0:
        stdout.print("no resolved predictions in the window")


@app.command()
def check(
    ctx: typer.Context,
    days: Annotated[Optional[float], window_option(
        "The last N days up to now (default: the last monitoring.window_games games).")] = None,
    arm: Arm = None,
) -> None:
    """Judge the last games of the serving arms against monitoring.* alert levels (bounds, not
    point estimates), and look for games with no prediction and results not synced; exit 1
    naming each cause. A repeated finding is notified once per notify.repeat_hours."""
    from nbalife.services.metrics import check as run

    rt = runtime(ctx)
    settings = rt.settings
    result = run(rt.engine, settings.monitoring, now=rt.now(), days=days, arm=arm, zone=settings.league.timezone,
                 repeat_hours=settings.notify.repeat_hours)
    _quarantined(result.quarantined)
    if rt.json:
        emit_json(result)
    else:
        row, bound = result.figures, result.bounds
        level = f"{bound.confidence:.0%} bound" if bound else "bound"
        window = f"last {result.window_games} games" if result.window_games else "window"
        stdout.print(table(f"Metrics check, {window} of {result.arms} arms", ["figure", "value", level, "alert level"], [
            ("n", row.n, "", ""),
            ("MAE", row.mae, None if bound is None else bound.mae_lower, f"<= {result.mae_alert:g}"),
            ("coverage", row.coverage, None if bound is None else bound.coverage_upper, f">= {result.coverage_alert:g}"),
            ("persistence MAE", row.persistence_mae, "", ""),
            ("games with no prediction", len(result.missing_games), "", "0"),
            ("results not synced", len(result.unsynced_games), "", "0"),
        ]))
        stdout.print(f"{result.outcome}: {result.message} ({_period(result.since, result.until)})")
    if result.outcome == "alert":
        if not result.notify:
            typer.echo(f"note: not notified: {result.notify_reason}", err=True)
        raise CheckFailed(f"metrics check: {result.message}", notify=result.notify)


@app.command()
def export(
    ctx: typer.Context,
    prometheus: Annotated[Path, typer.Option(
        "--prometheus", help="node_exporter textfile to write (*.prom), replaced atomically.", metavar="FILE")],
) -> None:
    """Publish MAE, RMSE, coverage, width and n over 1 and 7 days (of what production served),
    production, each cron job's last exit code and success time, the A/B stage and the last drift
    figures for Prometheus. The file's folder is created if missing."""
    from nbalife.services.export import export as run
    from nbalife.services.registry import open_registry

    rt = runtime(ctx)
    result = run(rt.engine, open_registry(rt.home, rt.engine, rt.settings), rt.home, prometheus, now=rt.now())
    if rt.json:
        emit_json(result)
    else:
        stdout.print(key_values("Prometheus textfile", result))
