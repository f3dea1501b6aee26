"""``nbalife data``: ingest, export, summarise and simulate games."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from nbalife.cli.options import Season, Since, Until, parse_date
from nbalife.cli.render import key_values, show, table
from nbalife.cli.runtime import runtime

NAME = "data"
app = typer.Typer(help="Game data in the interchange format (CSV or Parquet).", no_args_is_help=True)


@app.command()
def ingest(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(help="CSV or Parquet files of games, loaded in order.")],
    skip_invalid: Annotated[
        bool, typer.Option(help="Load the valid rows; write rejected ones with reasons to --rejects.")
    ] = False,
    rejects: Annotated[
        Optional[Path], typer.Option(help="Where --skip-invalid writes rejected rows (default FILE.rejects.csv).")
    ] = None,
) -> None:
    """Validate and load each file in its own transaction (re-ingest updates games)."""
    from nbalife.services.data import ingest_files

    rt = runtime(ctx)
    results = ingest_files(rt.engine, files, now=rt.now(), skip_invalid=skip_invalid, rejects_path=rejects)
    show(rt.json, results, table(
        "Ingested", ["file", "rows", "inserted", "updated", "rejected", "rejects file"],
        [(r.file, r.rows, r.inserted, r.updated, r.rejected, r.rejects_file or "") for r in results],
    ))


@app.command()
def export(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="Output file (.csv or .parquet).")],
    season: Season = None,
    since: Since = None,
    until: Until = None,
) -> None:
    """Write stored games to a file in the interchange format."""
    from nbalife.services.data import export as run

    rt = runtime(ctx)
    result = run(rt.engine, out, season=season, since=parse_date(since), until=parse_date(until))
    show(rt.json, result, key_values("Exported", result))


@app.command()
def summary(ctx: typer.Context) -> None:
    """Games per season, date range, halftime differential mean and SD."""
    from nbalife.services.data import summary as run

    rt = runtime(ctx)
    rows = run(rt.engine)
    show(rt.json, rows, table(
        "Games", ["season", "games", "first", "last", "d24 mean", "d24 sd"],
        [(r.season, r.games, r.first_date, r.last_date, r.halftime_mean, r.halftime_sd) for r in rows],
    ))


@app.command()
def simulate(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="Output file (.csv or .parquet).")],
    games: Annotated[int, typer.Option(min=1, help="Number of games.")] = 1230,
    season: Annotated[str, typer.Option(help="Season label, e.g. 2023-24.")] = "2023-24",
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same season).")] = 0,
    start_date: Annotated[Optional[str], typer.Option(help="First game date (default Oct 24 of the season).",
                                                      callback=parse_date)] = None,
    drift: Annotated[
        Optional[str],
        typer.Option(help="Mid-season change, e.g. 'at=0.5,variance=1.4,pace=1.05,home_advantage=-1'."),
    ] = None,
    era: Annotated[str, typer.Option(help="Calibration: 'recent' (real 2020-23) or '2015'.")] = "recent",
) -> None:
    """Simulate a season of first halves (possession level), with the oracle forecast."""
    from nbalife.services.data import simulate as run

    rt = runtime(ctx)
    result = run(out, games=games, season=season, seed=seed, start_date=parse_date(start_date), drift=drift,
                 era=era)
    show(rt.json, result, key_values(f"Simulated {result.games} games", result))
