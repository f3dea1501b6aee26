"""``nbalife lstm``: retraining on triggers, gated by a comparison with production."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from nbalife.cli.render import key_values, show, table
from nbalife.cli.runtime import runtime

NAME = "lstm"
app = typer.Typer(help="LSTM retraining, gated by a comparison with production.", no_args_is_help=True)


@app.command()
def retrain(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option("--force", help="Retrain even when no trigger fires.")] = False,
    epochs: Annotated[Optional[int], typer.Option(help="Training epochs (default lstm.epochs).")] = None,
) -> None:
    """Retrain when a trigger fires; register the candidate (never promote) only if it beats
    production on the same held-out games. Exit 1 when it is rejected."""
    from nbalife.cli.progress import epoch_bar
    from nbalife.errors import CheckFailed
    from nbalife.services.lstm import retrain as run
    from nbalife.services.registry import open_registry

    rt = runtime(ctx)
    registry = open_registry(rt.home, rt.engine, rt.settings)
    with epoch_bar(not rt.json) as progress:
        result = run(rt.engine, registry, rt.settings, home=rt.home, now=rt.now(), force=force, epochs=epochs,
                     progress=progress)
    show(
        rt.json,
        result,
        key_values("LSTM retrain", {
            "production": result.production, "outcome": result.outcome, "candidate": result.version,
            "LSTM fitted by": f"{result.age.version} {result.age.days:.1f} days ago, {result.age.games} games since",
            "training cutoff": result.cutoff, "held out": f"{result.holdout_first}..{result.holdout_last}"
            if result.holdout_first else None, "message": result.message,
            "retired (stale candidates)": ", ".join(result.retired) or None,
        }),
        table("Triggers", ["trigger", "fires", "why"], [(t.name, "yes" if t.fired else "no", t.reason)
                                                        for t in result.triggers]),
        table("Held-out games", ["model", "n", "MAE", "coverage", "width"],
              [(s.model, s.n, s.mae, s.coverage, s.width) for s in result.scores]),
    )
    if result.outcome == "rejected":
        raise CheckFailed(result.message)
