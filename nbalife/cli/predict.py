"""``nbalife predict``: forecast games with the production model set and log them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from nbalife.cli.render import show, table
from nbalife.cli.runtime import runtime
from nbalife.vocab import ARMS

if TYPE_CHECKING:
    from nbalife.services.predict import ForecastRow, PredictResult


def predict(
    ctx: typer.Context,
    game_id: Annotated[Optional[str], typer.Option(help="Game id of a single --pattern.")] = None,
    pattern: Annotated[Optional[str], typer.Option(help="19 comma-separated numbers: d0..d18.")] = None,
    matchup: Annotated[Optional[str], typer.Option(
        help="AWAY@HOME of a single --pattern (with --date): adds team-strength context.")] = None,
    date: Annotated[Optional[str], typer.Option(help="Game date YYYY-MM-DD of a single --pattern.")] = None,
    input_file: Annotated[Optional[Path], typer.Option("--input", help="Games file (d19..d24 may be absent).")] = None,
    output: Annotated[Optional[Path], typer.Option(help="Write forecasts to this CSV or Parquet file.")] = None,
    again: Annotated[bool, typer.Option(help="Log a new row even if the game was predicted before.")] = False,
    arm: Annotated[Optional[str], typer.Option(
        help=f"Expert override: production logs under this arm ({', '.join(ARMS)}), bypassing the A/B test.")] = None,
    explain: Annotated[int, typer.Option(min=0, help="List this many Dejavu analog games (single pattern).")] = 0,
    log: Annotated[bool, typer.Option("--log/--no-log", help="Write the forecasts to the prediction log "
                                                             "(--no-log: only show them).")] = True,
) -> None:
    """Point forecast and interval of d24 for each game, with the version and arm that made it; one
    log row per game (none with --no-log)."""
    from nbalife.services.predict import predict_games
    from nbalife.services.registry import open_registry

    rt = runtime(ctx)
    if (input_file is None) == (pattern is None):
        raise typer.BadParameter("give either --input FILE or --game-id ID --pattern '0,…'", param_hint="--input")
    if pattern is not None and not game_id:
        raise typer.BadParameter("--pattern needs --game-id", param_hint="--game-id")
    result = predict_games(rt.engine, open_registry(rt.home, rt.engine, rt.settings), now=rt.now(),
                           input_file=input_file, game_id=game_id, pattern=pattern, matchup=matchup,
                           date=date, output=output, arm=arm, again=again, explain=explain, log=log)
    _context_notes(result.rows)
    if rt.json:
        show(True, result)
    elif output is not None:
        typer.echo(f"{len(result.rows)} forecasts by {_by(result)} written to {output}; {_logged(result)}", err=True)
    else:
        show(False, result, table(
            f"Forecasts by {_by(result)} ({_logged(result)})",
            ["game", "version", "arm", "d18", "forecast", "lower", "upper", "dejavu", "lstm", "context", "logged"],
            [(r.game_id, r.version, r.arm, r.d18, r.forecast, r.lower, r.upper, r.dejavu, r.lstm,
              r.context if r.context_forecast is None else f"{r.context} {r.context_forecast:.2f}", r.logged)
             for r in result.rows]),
            *([table("Dejavu analogs (nearest first)", ["game", "date", "home", "away", "distance", "d24-d18", "d24"],
                     [(a.game_id, a.date, a.home, a.away, a.distance, a.future_move, a.halftime_diff)
                      for a in result.analogs])] if result.analogs else []))


def _by(result: PredictResult) -> str:
    """``1.10.0``, or, when more than one version served (an A/B test), each with its arm and
    how many games: ``2 versions: 1.10.0 (A, 5 games), 1.11.0 (B, 4 games)``."""
    counts = result.versions
    if len({version for version, _ in counts}) <= 1 and all(arm == "A" for _, arm in counts):
        return result.version
    ordered = sorted(counts.items(), key=lambda item: ARMS.index(item[0][1]) if item[0][1] in ARMS else len(ARMS))
    parts = [f"{version} ({arm}, {n} game{'s' if n != 1 else ''})" for (version, arm), n in ordered]
    served = len({version for version, _ in counts})
    return (f"{served} versions: " if served > 1 else "") + ", ".join(parts)


def _logged(result: PredictResult) -> str:
    if not result.log:
        return "not logged: --no-log"
    return f"{result.logged} logged, {result.skipped} already logged"


def _context_notes(rows: list[ForecastRow]) -> None:
    """On stderr: how many forecasts were pattern-only and which games had a team never seen."""
    none = [r.game_id for r in rows if r.context == "none"]
    unknown = [r.game_id for r in rows if r.context == "unknown-team"]
    if none:
        typer.echo(f"note: {len(none)} forecast(s) pattern-only, without team-strength context "
                   f"(e.g. game {none[0]}; a single --pattern needs --matchup and --date)", err=True)
    if unknown:
        typer.echo(f"note: {len(unknown)} game(s) with a team that has no earlier game got the mean "
                   f"rating (e.g. game {unknown[0]})", err=True)
