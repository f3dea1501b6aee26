"""``nbalife drift``: input drift of recent games against production's training window."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from nbalife.cli.options import window_option
from nbalife.cli.render import key_values, show, table
from nbalife.cli.runtime import runtime

NAME = "drift"
app = typer.Typer(help="Input drift of recent games against production's training window.",
                  no_args_is_help=True)


@app.command()
def check(
    ctx: typer.Context,
    days: Annotated[Optional[float], window_option("Recent window in whole days (default drift.window_days).",
                                                   low_days=1)] = None,
) -> None:
    """KS test and PSI per feature (d18, minute changes, volatility); exit 1 when one drifts."""
    from nbalife.errors import CheckFailed
    from nbalife.services.drift import check as run
    from nbalife.services.registry import open_registry

    rt = runtime(ctx)
    report = run(rt.engine, open_registry(rt.home, rt.engine, rt.settings), rt.settings.drift, days=days,
                 now=rt.now())
    show(
        rt.json,
        report,
        key_values("Drift check", {
            "production": report.version,
            "reference": f"{report.reference_first}..{report.reference_last} ({report.reference_games} games)",
            "recent": f"{report.since}..{report.until} ({report.recent_games} games)",
            "levels": f"KS p-value < {report.ks_pvalue_level:g} and PSI >= {report.psi_level:g}",
            "outcome": report.outcome,
            "message": report.message,
        }),
        table("Features", ["feature", "n ref", "n recent", "mean ref", "mean recent", "KS", "KS p-value", "PSI",
                           "drift"],
              [(f.feature, f.n_reference, f.n_recent, f.reference_mean, f.recent_mean, f.ks_statistic,
                f"{f.ks_pvalue:.3g}", f.psi, "DRIFT" if f.drifted else "") for f in report.features]),
    )
    if report.outcome == "drift":
        raise CheckFailed(report.message)
