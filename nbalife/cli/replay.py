"""``nbalife replay``: the lifecycle policy over a season in simulated time, in a temporary home."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, List, Optional

import typer

from nbalife.cli.options import parse_date
from nbalife.cli.render import key_values, show, table
from nbalife.cli.runtime import runtime


def replay(
    ctx: typer.Context,
    games: Annotated[List[Path], typer.Option("--games", help="Games file with results (repeat for several).")],
    since: Annotated[Optional[str], typer.Option("--from", help="First replayed day (default: the files' last "
                                                              "season, or the day after --train-until).",
                                                 callback=parse_date)] = None,
    until: Annotated[Optional[str], typer.Option("--to", help="Last replayed day (default: the last game).",
                                                 callback=parse_date)] = None,
    policy: Annotated[Optional[Path], typer.Option(help="Configuration file whose policy is replayed "
                                                        "(default: this home's configuration).")] = None,
    train_until: Annotated[Optional[str], typer.Option(help="Last day of the first model's training games "
                                                            "(default: the day before --from).",
                                                       callback=parse_date)] = None,
    abtest_mode: Annotated[str, typer.Option(help="Mode of the A/B tests a registered retrain starts: "
                                                  "split or shadow.")] = "split",
    report: Annotated[Optional[Path], typer.Option(
        "--report", help="Also write the season's `nbalife report` page (*.html), the policy beside doing "
                         "nothing.", metavar="FILE")] = None,
    forecasts: Annotated[Optional[Path], typer.Option(
        "--forecasts", help="Also write every game's served forecast (version, arm, context) and the first "
                            "model's (*.csv or *.parquet).", metavar="FILE")] = None,
    fault: Annotated[Optional[List[str]], typer.Option(
        "--fault", metavar="KIND@DATE[:PARAM]",
        help="Inject a fault (repeat for several): variance@D:1.3, bias@D:TEAM, bad-model@D, "
             "outcomes-stop@D:DAYS, job-stop@D:JOB, stale-model@D.")] = None,
) -> None:
    """Train on the games before the window, then play it day by day: each game forecast at minute
    18, its result stored, outcomes synced and every scheduled job run at its cron time. Prints the
    policy's actions and the weekly coverage, width and MAE next to doing nothing and persistence."""
    from nbalife.config import load_settings
    from nbalife.services.replay import replay as run

    rt = runtime(ctx)
    settings = load_settings(policy).settings if policy is not None else rt.settings
    result = run(list(games), settings=settings, since=since, until=until, train_until=train_until,
                 abtest_mode=abtest_mode, report=report, forecasts=forecasts, faults=fault)
    columns = ["week", "games", "coverage", "width", "MAE", "nothing cov", "nothing width", "nothing MAE",
               "persistence MAE"]
    show(
        rt.json,
        result,
        key_values("Replay", {
            "replayed": f"{result.replay_games} games {result.replay_first}..{result.replay_last}",
            "first model": f"{result.first_production}, trained on {result.train_games} games "
                           f"{result.train_first}..{result.train_last}",
            "production at the end": result.last_production,
            "report": result.report,
            "forecasts": result.forecasts,
            "seconds": round(result.seconds, 1),
        }),
        table("Versions the jobs made (each counted once)", ["kind", "registered", "promoted", "waiting",
                                                            "rejected runs"],
              [(v.kind, v.registered, v.promoted, v.waiting, v.rejected) for v in result.versions]),
        table("Production's changes", ["at", "version"], result.productions),
        table("Alerts by cause", ["job", "cause", "alerts", "days"],
              [(a.job, a.cause, a.alerts, a.days) for a in result.alerts]),
        table("Actions", ["at", "job", "outcome", "version", "detail"],
              [(a.at, a.job, a.outcome, a.version, a.detail) for a in result.actions
               if a.job != "metrics-check"]),
        table("Weekly figures: the policy, the first model untouched, persistence", columns,
              [(w.period, w.games, w.coverage, w.width, w.mae, w.nothing_coverage, w.nothing_width, w.nothing_mae,
                w.persistence_mae) for w in [*result.weeks, result.total]]),
        table(f"Time per job kind ({result.seconds:.1f} s in all)", ["job", "runs", "seconds"],
              [(j.job, j.runs, j.seconds) for j in result.jobs]),
        *_fault_tables(result),
    )


def _fault_tables(result) -> list:  # noqa: ANN001
    """The faults' rows, or without faults every guardrail alert (each one false)."""
    if result.false_alarms is not None:
        return [table(f"False alarms: {len(result.false_alarms)} guardrail alerts without a fault",
                      ["guardrail", "first", "last", "checks", "action", "detail"],
                      [(a.guardrail, a.first_at, a.last_at, a.checks, a.action, a.detail)
                       for a in result.false_alarms])]

    def when(moment) -> str:  # noqa: ANN001
        return "-" if moment is None else f"{moment:%Y-%m-%d %H:%M}"

    return [table("Faults (times UTC; damage: MAE and coverage of the games until recovery, without the fault)",
                  ["fault", "injected", "detected", "by", "games", "days", "action", "recovered", "MAE", "coverage"],
                  [(f.fault, when(f.injected_at), when(f.detected_at), f.detected_by, f.games_to_detect,
                    f.days_to_detect, f.action, when(f.recovered_at),
                    f"{_num(f.damage.mae)} / {_num(f.damage.baseline_mae)}",
                    f"{_num(f.damage.coverage)} / {_num(f.damage.baseline_coverage)}") for f in result.faults])]


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
