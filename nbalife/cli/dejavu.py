"""``nbalife dejavu``: the analog database's updates (commands arrive with their issue)."""

import typer

NAME = "dejavu"
app = typer.Typer(
    help="Dejavu pattern-database updates. No commands yet.",
    no_args_is_help=True,
)
