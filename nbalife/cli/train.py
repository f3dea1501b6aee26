"""``nbalife train``: fit all models on time-ordered splits and register the model set."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Optional

import typer

from nbalife.cli.options import parse_date
from nbalife.cli.progress import epoch_bar
from nbalife.cli.evaluate import part_table
from nbalife.cli.render import key_values, score_table, show, table
from nbalife.cli.runtime import runtime
from nbalife.files import check_output_path
from nbalife.vocab import DEVICES


def train(
    ctx: typer.Context,
    games_file: Annotated[Optional[Path], typer.Option("--games", help="Train on this file instead of the store.")] = None,
    from_db: Annotated[bool, typer.Option("--from-db", help="Train on the store's games (the default).")] = False,
    until: Annotated[Optional[str], typer.Option(help="Only games on or before this date (YYYY-MM-DD).",
                                                 callback=parse_date)] = None,
    register: Annotated[bool, typer.Option("--register", help="Register the model set in the registry.")] = False,
    promote: Annotated[bool, typer.Option("--promote", help="Also promote it (through the gate).")] = False,
    out: Annotated[Optional[Path], typer.Option(help="Also save the artifacts in this folder.")] = None,
    description: Annotated[str, typer.Option(help="Description recorded in the registry.")] = "",
    device: Annotated[Optional[str], typer.Option(help=f"LSTM device: {', '.join(DEVICES)} (default lstm.device).")] = None,
) -> None:
    """Train Dejavu, LSTM, ensemble and conformal layer; print held-out metrics."""
    from nbalife.services.registry import open_registry
    from nbalife.services.train import load_training_games
    from nbalife.services.train import train as run

    rt = runtime(ctx)
    settings = rt.settings
    if device is not None:
        if device not in DEVICES:
            raise typer.BadParameter(f"{device!r} is not one of {', '.join(DEVICES)}", param_hint="--device")
        settings = replace(settings, lstm=replace(settings.lstm, device=device))
    if games_file is not None and from_db:
        raise typer.BadParameter("use either --games FILE or --from-db", param_hint="--games")
    if promote and not register:
        raise typer.BadParameter("--promote needs --register", param_hint="--promote")
    if out is not None:
        check_output_path(out, option="--out", folder=True)
    games = load_training_games(None if games_file else rt.engine, games_file, until=parse_date(until))
    registry = open_registry(rt.home, rt.engine, settings) if register else None
    with epoch_bar(not rt.json) as progress:
        result = run(games, settings=settings, now=rt.now(), registry=registry,
                     engine=rt.engine if promote else None, promote=promote, out=out,
                     progress=progress, description=description)
    show(
        rt.json,
        result,
        table("Splits (time-ordered)", ["split", "games", "first", "last"],
              [(s.name, s.games, s.first_date, s.last_date) for s in result.splits]),
        score_table("Out-of-fold scores (each season forecast by parts fitted without it)", result.scores),
        part_table("Per part and season, out of fold (intervals leave one season out, on the lattice)",
                   result.parts),
        key_values("Model set", {"version": result.version, "promoted": result.promoted,
                                 "saved to": result.saved_to, "seconds": round(result.seconds, 1)}),
    )
