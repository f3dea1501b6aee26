"""``nbalife registry``: versioned model sets, promotion and rollback."""

import typer

NAME = "registry"
app = typer.Typer(
    help="Versioned model sets: register, promote, roll back, verify. No commands yet.",
    no_args_is_help=True,
)
