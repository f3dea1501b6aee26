"""``nbalife report``: one self-contained HTML page of a window of the prediction log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from nbalife.cli.metrics import Days, SinceDay, UntilDay
from nbalife.cli.render import key_values, show
from nbalife.cli.runtime import runtime


def report(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="The page to write (*.html), replaced atomically.",
                                      metavar="FILE")],
    days: Days = None,
    since: SinceDay = None,
    until: UntilDay = None,
    by: Annotated[Optional[str], typer.Option(
        "--by", help="arm: each arm's coverage and MAE (A, B, shadow) beside production's.")] = None,
) -> None:
    """Coverage, MAE next to persistence, width, calibration, residuals, coverage by game state,
    the version timeline, the alerts and every A/B test of a window (default: the last 90 days;
    days in league time) as one HTML file that needs nothing outside it."""
    from nbalife.services.registry import open_registry
    from nbalife.services.report import write_report

    rt = runtime(ctx)
    result = write_report(rt.engine, open_registry(rt.home, rt.engine, rt.settings), rt.settings, out,
                          now=rt.now(), days=days, since=since, until=until, by=by)
    show(rt.json, result, key_values("Report", result))
