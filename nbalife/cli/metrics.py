"""``nbalife metrics``: performance of the prediction log (commands arrive with their issue)."""

import typer

NAME = "metrics"
app = typer.Typer(
    help="Performance from the prediction log: MAE, coverage, alerts. No commands yet.",
    no_args_is_help=True,
)
