"""``nbalife lstm``: retraining with validation gates (commands arrive with their issue)."""

import typer

NAME = "lstm"
app = typer.Typer(
    help="LSTM retraining with validation gates. No commands yet.",
    no_args_is_help=True,
)
