"""``nbalife dejavu``: production's pattern database: update, query, stats."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from nbalife.cli.options import parse_date
from nbalife.cli.render import key_values, show, table
from nbalife.cli.runtime import runtime

NAME = "dejavu"
app = typer.Typer(help="Dejavu pattern database: update, query, stats.", no_args_is_help=True)


@app.command()
def update(
    ctx: typer.Context,
    since: Annotated[Optional[str], typer.Option(help="Only games on or after this date (YYYY-MM-DD).",
                                                 callback=parse_date)] = None,
    until: Annotated[Optional[str], typer.Option(help="Only games on or before this date (default: yesterday).",
                                                 callback=parse_date)] = None,
) -> None:
    """Add the finished games production's database lacks, keep the dejavu.max_size most recent,
    and register a minor version (promoted when dejavu.auto_promote)."""
    from nbalife.services.dejavu import update as run
    from nbalife.services.registry import open_registry

    rt = runtime(ctx)
    result = run(rt.engine, open_registry(rt.home, rt.engine, rt.settings), rt.settings, now=rt.now(),
                 since=since, until=until)
    show(rt.json, result, key_values(f"Dejavu update of {result.production}", {
        "cutoff": result.cutoff, "finished games in window": result.candidates, "added": result.added,
        "dropped": result.dropped, "patterns": f"{result.size_before} -> {result.size_after}",
        "dates": f"{result.first_date} .. {result.last_date}", "registered": result.version,
        "promoted": result.promoted, "gate refused": result.refused,
        "retired (stale candidates)": ", ".join(result.retired) or None}))
    if result.version is None and not rt.json:
        typer.echo("nothing to do: no finished game is missing from the pattern database", err=True)


@app.command()
def query(
    ctx: typer.Context,
    pattern: Annotated[str, typer.Option(help="19 comma-separated numbers: d0..d18.")],
    k: Annotated[int, typer.Option(min=1, help="How many analogs.")] = 10,
) -> None:
    """The analog games of a pattern: id, date, teams, distance, and what happened next."""
    from nbalife.services.dejavu import query as run
    from nbalife.services.registry import open_registry

    rt = runtime(ctx)
    result = run(open_registry(rt.home, rt.engine, rt.settings), pattern, k)
    show(rt.json, result, table(
        f"Analogs in {result.version}", ["game", "date", "home", "away", "distance", "d24 - d18", "d24"],
        [(a.game_id, a.date, a.home, a.away, a.distance, a.future_move, a.halftime_diff)
         for a in result.analogs]))


@app.command()
def stats(ctx: typer.Context) -> None:
    """Size, date range and seasons of production's pattern database."""
    from nbalife.services.dejavu import stats as run
    from nbalife.services.registry import open_registry

    rt = runtime(ctx)
    result = run(open_registry(rt.home, rt.engine, rt.settings))
    show(rt.json, result,
         key_values(f"Dejavu database of {result.version}", {
             "patterns": result.size, "k": result.k, "aggregation": result.aggregation,
             "dates": f"{result.first_date} .. {result.last_date}"}),
         table("Games per season", ["season", "games"], sorted(result.seasons.items())))
