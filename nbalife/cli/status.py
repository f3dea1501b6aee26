"""``nbalife status``: one screen of where the system stands."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from nbalife.cli.render import key_values, show, table
from nbalife.cli.runtime import runtime

if TYPE_CHECKING:
    from rich.table import Table

    from nbalife.services.status import Status


def status(ctx: typer.Context) -> None:
    """Production and its lineage, last run of each job, recent MAE and coverage, drift,
    the A/B test, and which retrain triggers would fire now."""
    from nbalife.services.registry import open_registry
    from nbalife.services.status import status as run

    rt = runtime(ctx)
    result = run(rt.engine, open_registry(rt.home, rt.engine, rt.settings), rt.settings, now=rt.now(), home=rt.home)
    show(rt.json, result, *status_tables(result))


def status_tables(result: Status) -> list[Table]:
    """The tables of ``status`` (``demo`` ends with them too)."""
    lstm, test = result.lstm, result.abtest
    summary = {
        "production": result.production or "none (run `nbalife train --register --promote`)",
        "age (days)": result.production_age_days,
        "lineage": " <- ".join(f"{a.version} ({a.kind}" + (f", {a.tombstone})" if a.tombstone else ")")
                              for a in result.lineage) or None,
        "LSTM fitted by": None if lstm is None else f"{result.named(lstm.version)}, {lstm.days:.1f} days and "
                                                    f"{lstm.games} games ago (cutoff {lstm.cutoff})",
        "A/B test": None if test is None else f"{test.test_id}: {test.champion} vs {test.candidate} ({test.mode}, "
                                              f"stage {test.stage}, B traffic {test.traffic:g}, since "
                                              f"{test.started_at:%Y-%m-%d})",
    }
    drift = result.drift
    cron = result.cron
    cron_tables = [] if cron is None else [table(
        "Cron jobs: no run recorded in HOME/logs (is the schedule installed? `nbalife cron install`)"
        if not cron.jobs else f"Cron jobs (stale: {', '.join(cron.stale) or 'none'}"
        + (f"; never ran here: {', '.join(cron.never_ran)}" if cron.never_ran else "") + ")",
        ["job", "last exit", "ended", "last success", "stale", "message"],
        [(j.job, j.exit_code, j.ended_at, j.last_success, "STALE" if j.stale else "",
          j.message if j.exit_code not in (0, None) else "") for j in cron.jobs])]
    return [
        key_values("Status", summary),
        table("Arm A, last days", ["days", "n", "MAE", "persistence MAE", "coverage"],
              [(w.days, w.n, w.mae, w.persistence_mae, w.coverage) for w in result.windows]),
        table("Last run of each job", ["kind", "at", "outcome", "version"],
              [(j.kind, j.at, j.outcome, result.named(j.version)) for j in result.jobs]),
        *cron_tables,
        table(f"Drift (last check {'-' if drift is None else f'{drift.at:%Y-%m-%d %H:%M}, {drift.outcome}'})",
              ["feature", "KS p-value", "PSI", "drift"],
              [] if drift is None else [(name, f.get("ks_pvalue"), f.get("psi"), "DRIFT" if f.get("drifted") else "")
                                        for name, f in drift.features.items()]),
        table("Retrain triggers now", ["trigger", "fires", "why"],
              [(t.name, "yes" if t.fired else "no", t.reason) for t in result.triggers]),
        table("Guardrails (last `guard check`)", ["guardrail", "state", "at", "finding"],
              [(g.guardrail, g.state, g.at, g.message) for g in result.guardrails]),
    ]
