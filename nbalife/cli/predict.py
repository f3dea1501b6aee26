"""``nbalife predict``: forecast games with the production model set and log them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from nbalife.cli.render import show, table
from nbalife.cli.runtime import runtime


def predict(
    ctx: typer.Context,
    game_id: Annotated[Optional[str], typer.Option(help="Game id of a single --pattern.")] = None,
    pattern: Annotated[Optional[str], typer.Option(help="19 comma-separated numbers: d0..d18.")] = None,
    input_file: Annotated[Optional[Path], typer.Option("--input", help="Games file (d19..d24 may be absent).")] = None,
    output: Annotated[Optional[Path], typer.Option(help="Write forecasts to this CSV or Parquet file.")] = None,
    again: Annotated[bool, typer.Option(help="Log a new row even if the game was predicted before.")] = False,
    arm: Annotated[str, typer.Option(help="Model arm logged with the rows: A, B or shadow.")] = "A",
    explain: Annotated[int, typer.Option(min=0, help="List this many Dejavu analog games (single pattern).")] = 0,
) -> None:
    """Point forecast and interval of d24 for each game; one log row per game."""
    from nbalife.services.predict import predict_games
    from nbalife.services.registry import open_registry

    rt = runtime(ctx)
    if (input_file is None) == (pattern is None):
        raise typer.BadParameter("give either --input FILE or --game-id ID --pattern '0,…'", param_hint="--input")
    if pattern is not None and not game_id:
        raise typer.BadParameter("--pattern needs --game-id", param_hint="--game-id")
    result = predict_games(rt.engine, open_registry(rt.home, rt.engine, rt.settings), now=rt.now(),
                           input_file=input_file, game_id=game_id, pattern=pattern, output=output,
                           arm=arm, again=again, explain=explain)
    if rt.json:
        show(True, result)
    elif output is not None:
        typer.echo(f"{len(result.rows)} forecasts by {result.version} written to {output}; "
                   f"{result.logged} logged, {result.skipped} already logged", err=True)
    else:
        show(False, result, table(
            f"Forecasts by {result.version} ({result.logged} logged, {result.skipped} already logged)",
            ["game", "d18", "forecast", "lower", "upper", "dejavu", "lstm", "logged"],
            [(r.game_id, r.d18, r.forecast, r.lower, r.upper, r.dejavu, r.lstm, r.logged) for r in result.rows]),
            *([table("Dejavu analogs (nearest first)", ["game", "date", "home", "away", "distance", "d24-d18", "d24"],
                     [(a.game_id, a.date, a.home, a.away, a.distance, a.future_move, a.halftime_diff)
                      for a in result.analogs])] if result.analogs else []))
