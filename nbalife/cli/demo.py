"""``nbalife demo``: the main job end to end on the embedded default."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from nbalife.cli.render import key_values, score_table, show, table
from nbalife.cli.runtime import runtime


def demo(
    ctx: typer.Context,
    games: Annotated[int, typer.Option(min=500, help="Games in the simulated season (at least 500).")] = 1230,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    real: Annotated[bool, typer.Option("--real", help="Real NBA seasons instead of a simulated one.")] = False,
    data_dir: Annotated[
        Optional[Path], typer.Option("--data", help="Folder of the real seasons (default: the bundled data/nba).")
    ] = None,
    days: Annotated[
        Optional[int], typer.Option(min=1, help="With --real: stop after this many game days of the last season.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Use a --home that is not empty (its games and "
                                                         "production are replaced).")] = False,
    lifecycle: Annotated[bool, typer.Option(
        "--lifecycle", help="The whole lifecycle: a season of scheduled jobs in simulated time, "
                            "an A/B test, a rollback.")] = False,
    quick: Annotated[bool, typer.Option("--quick", help="With --lifecycle: fewer games, a tiny LSTM.")] = False,
) -> None:
    """The lifecycle on a fresh SQLite home (temp unless --home; one not empty needs --force): ingest, train, register, promote,
    predict, outcomes, evaluate. Simulated by default; --real trains on 2020-21 and 2021-22 and plays
    2022-23 day by day."""
    from nbalife.services.demo import BUNDLED_DATA, run_demo, run_lifecycle_demo, run_real_demo

    rt = runtime(ctx)
    home = rt.home if rt.home_given else None
    if lifecycle:
        run = run_lifecycle_demo(home, quick=quick, real=real, seed=seed, settings=rt.settings, force=force,
                                 data_dir=data_dir or BUNDLED_DATA)
        show(rt.json, run,
             key_values("nbalife demo --lifecycle", {"home": run.home, "production": run.production}),
             table("Steps", ["step", "what it did", "seconds"],
                   [(s.name, s.description, s.seconds) for s in run.steps]),
             table("What the scheduled jobs did", ["at", "job", "outcome", "version", "detail"],
                   [(a.at, a.job, a.outcome, a.version, a.detail) for a in run.actions]))
        return
    if quick:
        raise typer.BadParameter("--quick goes with --lifecycle", param_hint="--quick")
    if real:
        result = run_real_demo(home, data_dir or BUNDLED_DATA, now=rt.now(), settings=rt.settings, days=days,
                               force=force)
    else:
        result = run_demo(home, games=games, seed=seed, now=rt.now(), settings=rt.settings, force=force)
    show(
        rt.json,
        result,
        key_values("nbalife demo", {"home": result.home, "database": result.database, **result.steps}),
        table("Games", ["season", "games", "first", "last", "d24 mean", "d24 sd"],
              [(r.season, r.games, r.first_date, r.last_date, r.halftime_mean, r.halftime_sd)
               for r in result.seasons]),
        score_table("Forecasters on the predicted games", result.scores),
    )
