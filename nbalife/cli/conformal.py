"""``nbalife conformal``: interval coverage checks and recalibration (commands arrive with their issue)."""

import typer

NAME = "conformal"
app = typer.Typer(
    help="Conformal interval coverage checks and recalibration. No commands yet.",
    no_args_is_help=True,
)
