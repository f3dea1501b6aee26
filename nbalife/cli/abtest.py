"""``nbalife abtest``: A/B tests of a candidate against production, with gradual rollout."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from nbalife.cli.options import parse_version_option
from nbalife.cli.render import key_values, show, stderr, table
from nbalife.cli.runtime import Runtime, runtime
from nbalife.errors import CheckFailed

NAME = "abtest"
app = typer.Typer(
    help="A/B tests of candidate model sets: sticky split or shadow, peeking-safe statistics, staged rollout.",
    no_args_is_help=True,
)


def _registry(rt: Runtime, *, carry_pending: bool = True):  # noqa: ANN202
    from nbalife.services.registry import open_registry

    return open_registry(rt.home, rt.engine, rt.settings, now=rt.now(), carry_pending=carry_pending)


def _test_table(test) -> object:  # noqa: ANN001
    return key_values(f"A/B test {test.test_id}", {
        "status": test.status, "mode": test.mode, "A (champion)": test.champion, "B (candidate)": test.candidate,
        "stage": f"{test.stage + 1}/{len(test.shares)}", "B's share": test.traffic,
        "stages": " -> ".join(f"{s:.0%}" for s in test.shares) + (" -> promote"),
        "min improvement": test.min_improvement, "started": test.started_at,
        "stage started": test.stage_started_at, "ended": test.ended_at, "reason": test.reason})


def _report_tables(report) -> list:  # noqa: ANN001
    analysis, stage = report.analysis, report.stage
    diff, seq, cv = analysis.difference, analysis.sequential, analysis.control_variate
    figures = [("MAE(A) - MAE(B), 95% CI", diff.estimate, f"[{diff.low:.3f}, {diff.high:.3f}]"),
               *((f"{t.name} p-value", t.p_value, f"statistic {t.statistic:.3f}") for t in analysis.tests),
               ("always-valid p (B better)", seq.p_better, f"mixture SPRT, tau = {seq.tau:g} points"),
               ("always-valid p (B worse)", seq.p_worse, "")]
    if cv is not None:
        figures += [("with control variate, 95% CI", cv.interval.estimate,
                     f"[{cv.interval.low:.3f}, {cv.interval.high:.3f}], theta {cv.theta:.3f}"),
                    ("interval narrowed by", f"{cv.narrowing:.0%}",
                     "control variate: each game's persistence error |actual - d18|")]
    return [
        _test_table(report.test),
        table("Arms", ["arm", "games", "MAE", "coverage", "width"],
              [(a.arm, a.n, a.mae, a.coverage, a.width) for a in analysis.arms]),
        table("Statistics (positive: B better)", ["figure", "value", "note"], figures),
        table("Decision", ["decision", "reason", "stage"],
              [(analysis.decision.action, analysis.decision.reason,
                ("ready" if stage.ready else "not ready: ") + ("" if stage.ready else stage.waiting_for()))]),
    ]


@app.command()
def start(
    ctx: typer.Context,
    candidate: Annotated[str, typer.Option(
        callback=parse_version_option, help="Registered, verified version to test (B) against production (A).")],
    mode: Annotated[str, typer.Option(help="split: B serves a share of games; shadow: B only logged beside A.")]
    = "split",
    traffic: Annotated[float, typer.Option(help="B's first share of games in split mode, in (0, 1].")] = 0.1,
    min_improvement: Annotated[Optional[float], typer.Option(
        help="MAE points B must gain to be promoted (default: abtest.min_improvement).")] = None,
) -> None:
    """Start an A/B test (one at a time)."""
    from nbalife.services.abtest import start as run

    rt = runtime(ctx)
    test = run(rt.engine, _registry(rt), rt.settings, rt.home, candidate=candidate, mode=mode, traffic=traffic,
               min_improvement=min_improvement, now=rt.now())
    show(rt.json, test, _test_table(test))


@app.command()
def status(ctx: typer.Context) -> None:
    """Per-arm figures, the MAE difference with its interval, the tests and the decision."""
    from nbalife.services.abtest import status as run

    rt = runtime(ctx)
    report = run(rt.engine, rt.settings, now=rt.now())
    if report is None:
        show(rt.json, {"test": None}, table("A/B test", ["status"], [("no A/B test is running",)]))
        return
    show(rt.json, report, *_report_tables(report))


@app.command()
def advance(
    ctx: typer.Context,
    if_running: Annotated[
        bool, typer.Option("--if-running", help="No running test is nothing to do (exit 0), not an error (cron).")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Move on even inside a live-game freeze window.")] = False,
) -> None:
    """Move the rollout on when the decision allows (cron); exit 1 when it rolls B back; exit 3
    when the live-game freeze defers the step (carried out by the first registry command after it)."""
    from nbalife.errors import Deferred
    from nbalife.services.abtest import advance as run

    rt = runtime(ctx)
    result = run(rt.engine, _registry(rt, carry_pending=False), rt.settings, rt.home, now=rt.now(),
                 if_running=if_running, force=force)
    tables = (_report_tables(result.report) if result.report
              else [_test_table(result.test)] if result.test else [])
    carried = ([table("Carried out after the freeze", ["#", "what", "version", "done", "outcome"],
                      [(c.pending.id, c.pending.action, c.pending.version, c.promoted, c.outcome)
                       for c in result.carried])] if result.carried else [])
    show(rt.json, result, *carried, table("Advance", ["action", "reason"], [(result.action, result.reason)]), *tables)
    if result.pending is not None:
        raise Deferred(result.reason)
    if result.action == "rolled_back":
        raise CheckFailed(f"A/B test {result.test.test_id} rolled back: {result.reason}")


@app.command()
def stop(
    ctx: typer.Context,
    reason: Annotated[str, typer.Option(help="Why the test ends (recorded).")] = "",
) -> None:
    """End the running test without promoting; all traffic returns to production."""
    from nbalife.services.abtest import stop as run

    rt = runtime(ctx)
    test = run(rt.engine, rt.home, reason=reason, now=rt.now())
    show(rt.json, test, _test_table(test))
    if not rt.json:
        stderr.print(f"stopped A/B test {test.test_id}")


@app.command()
def history(ctx: typer.Context) -> None:
    """Every A/B test, newest first, with its outcome."""
    from nbalife.services.abtest import history as run

    rt = runtime(ctx)
    tests = run(rt.engine)
    show(rt.json, tests, table("A/B tests", ["test", "mode", "A", "B", "status", "share", "started", "ended",
                                             "reason"],
                               [(t.test_id, t.mode, t.champion, t.candidate, t.status, t.traffic, t.started_at,
                                 t.ended_at, t.reason) for t in tests]))
