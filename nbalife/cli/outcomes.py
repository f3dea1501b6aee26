"""``nbalife outcomes``: match logged predictions with halftime results."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from nbalife.cli.render import key_values, show
from nbalife.cli.runtime import runtime

NAME = "outcomes"
app = typer.Typer(help="Outcomes of logged predictions.", no_args_is_help=True)


@app.command()
def sync(
    ctx: typer.Context,
    game_id: Annotated[Optional[list[str]], typer.Option(help="Only these games (repeatable).")] = None,
) -> None:
    """Fill actual and error for every prediction whose game has a halftime result (idempotent)."""
    from nbalife.services.outcomes import sync as run
    from nbalife.services.registry import open_registry

    rt = runtime(ctx)
    result = run(rt.engine, now=rt.now(), game_ids=game_id or None,
                 registry=open_registry(rt.home, rt.engine, rt.settings))
    show(rt.json, result, key_values("Outcomes", {"resolved": result.resolved, "pending games": result.pending}))
