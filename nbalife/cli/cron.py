"""``nbalife cron``: the schedule as this installation runs it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from nbalife.cli.render import key_values, show
from nbalife.cli.runtime import runtime

NAME = "cron"
app = typer.Typer(help="The job schedule: show it, install it into a crontab, remove it.", no_args_is_help=True)

CrontabFile = Annotated[
    Optional[Path], typer.Option("--file", help="Edit this crontab file instead of the user's crontab.")
]


def _env_pairs(pairs: list[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise typer.BadParameter(f"{pair[:60]!r} is not NAME=VALUE", param_hint="--env")
        env[name] = value
    return env


@app.command("show")
def show_schedule(
    ctx: typer.Context,
    fmt: Annotated[str, typer.Option("--format", help="crontab, or kubernetes (CronJob manifests).")] = "crontab",
    image: Annotated[str, typer.Option(help="Container image (kubernetes).")] = "nbalife:latest",
    env: Annotated[Optional[list[str]], typer.Option(help="NAME=VALUE for the containers (kubernetes); repeat.")] = None,
    namespace: Annotated[Optional[str], typer.Option(help="Namespace of the CronJobs (kubernetes).")] = None,
) -> None:
    """Print the schedule with this installation's absolute paths (or as Kubernetes CronJobs)."""
    from nbalife.services.cron import show as run

    rt = runtime(ctx)
    typer.echo(run(rt.home, fmt=fmt, image=image, env=_env_pairs(env or []), namespace=namespace), nl=False)


@app.command()
def install(ctx: typer.Context, file: CrontabFile = None) -> None:
    """Add (or refresh) nbalife's marked block in the crontab; other lines are left alone."""
    from nbalife.services.cron import install as run

    rt = runtime(ctx)
    result = run(rt.home, file=file)
    show(rt.json, result, key_values("cron install", result))


@app.command()
def uninstall(ctx: typer.Context, file: CrontabFile = None) -> None:
    """Remove nbalife's marked block from the crontab; other lines are left alone."""
    from nbalife.services.cron import uninstall as run

    rt = runtime(ctx)
    result = run(file=file)
    show(rt.json, result, key_values("cron uninstall", result))
