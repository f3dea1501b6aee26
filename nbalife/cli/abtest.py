"""``nbalife abtest``: A/B tests with gradual rollout (commands arrive with their issue)."""

import typer

NAME = "abtest"
app = typer.Typer(
    help="A/B tests of candidate model sets with gradual rollout. No commands yet.",
    no_args_is_help=True,
)
