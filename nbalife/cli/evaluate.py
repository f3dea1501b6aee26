"""``nbalife evaluate``: score a model set on finished games."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from nbalife.cli.options import parse_version_option
from nbalife.cli.render import score_table, show
from nbalife.cli.runtime import runtime


def evaluate(
    ctx: typer.Context,
    input_file: Annotated[Path, typer.Option("--input", help="Games file with results (d0..d24).")],
    version: Annotated[Optional[str], typer.Option(
        callback=parse_version_option, help="Registry version; default: production.")] = None,
) -> None:
    """MAE, RMSE, bias, coverage and width of every model next to persistence and the oracle."""
    from nbalife.services.evaluate import evaluate as run
    from nbalife.services.model_loading import load_model_set
    from nbalife.services.registry import open_registry

    rt = runtime(ctx)
    loaded = load_model_set(open_registry(rt.home, rt.engine, rt.settings), version)
    result = run(input_file, loaded, rt.engine)
    context = ", ".join(f"{n} {label}" for label, n in sorted(result.context.items()))
    show(rt.json, result,
         score_table(f"{result.games} games of {input_file}, model set {result.version} (context: {context})",
                     result.scores),
         part_table("Per part and season (intervals on the lattice: the layer's radius around each part)",
                    result.parts))


def part_table(title: str, parts: list):  # noqa: ANN201 - a rich Table
    """One row per season and part: MAE, gain over persistence ± SE, lattice coverage, outcomes
    held, Winkler score."""
    from nbalife.cli.render import table

    def num(value: float | None, digits: int = 3) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    rows = [(p.group, p.model, p.n, num(p.mae), "-" if p.gain is None else f"{p.gain:+.3f} ± {num(p.gain_se)}",
             num(p.coverage), num(p.held, 2), num(p.winkler, 2)) for p in parts]
    return table(title, ["season", "part", "games", "MAE", "gain over persistence", "coverage", "held", "Winkler"],
                 rows)
