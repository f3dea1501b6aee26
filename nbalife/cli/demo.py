"""``nbalife demo``: the main job end to end on the embedded default."""

from __future__ import annotations

from typing import Annotated

import typer

from nbalife.cli.render import key_values, show, table
from nbalife.cli.runtime import runtime


def demo(
    ctx: typer.Context,
    games: Annotated[int, typer.Option(min=500, help="Games in the simulated season (at least 500).")] = 1230,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """The lifecycle on a simulated season in a fresh SQLite home (temp unless --home):
    ingest, train, register, promote, predict, outcomes, evaluate."""
    from nbalife.services.demo import run_demo

    rt = runtime(ctx)
    result = run_demo(rt.home if rt.home_given else None, games=games, seed=seed, now=rt.now(),
                      settings=rt.settings)
    show(
        rt.json,
        result,
        key_values("nbalife demo", {"home": result.home, "database": result.database, **result.steps}),
        table("Games", ["season", "games", "first", "last", "d24 mean", "d24 sd"],
              [(r.season, r.games, r.first_date, r.last_date, r.halftime_mean, r.halftime_sd)
               for r in result.seasons]),
        table("Forecasters on the upcoming games", ["model", "n", "MAE", "RMSE", "bias", "coverage", "width"],
              [(s.model, s.n, s.mae, s.rmse, s.bias, s.coverage, s.width) for s in result.scores]),
    )
