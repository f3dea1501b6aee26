"""``nbalife cron``: the schedule as this installation runs it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from nbalife.cli.render import key_values, show
from nbalife.cli.runtime import runtime

NAME = "cron"
app = typer.Typer(help="The job schedule (league time): show it, install it into a crontab, remove it.",
                  no_args_is_help=True)

CrontabFile = Annotated[
    Optional[Path], typer.Option("--file", help="Edit this crontab file instead of the user's crontab "
                                                "(one in /etc/cron.d gets the user column).")
]
System = Annotated[bool, typer.Option("--system", help="A system crontab with a user column; alone, "
                                                       "the file /etc/cron.d/nbalife.")]
User = Annotated[Optional[str], typer.Option("--user", help="The user column of a system crontab "
                                                            "(default: the current user).")]


def _env_pairs(pairs: list[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise typer.BadParameter(f"{pair[:60]!r} is not NAME=VALUE", param_hint="--env")
        env[name] = value
    return env


def _warn(lines: list[str]) -> None:
    for line in lines:
        typer.echo(f"warning: {line}", err=True)


@app.command("show")
def show_schedule(
    ctx: typer.Context,
    fmt: Annotated[str, typer.Option("--format", help="crontab, or kubernetes (CronJob manifests).")] = "crontab",
    image: Annotated[str, typer.Option(help="Container image (kubernetes).")] = "nbalife:latest",
    env: Annotated[Optional[list[str]], typer.Option(
        help="NAME=VALUE for the containers (kubernetes); repeat. Never the database URL.")] = None,
    namespace: Annotated[Optional[str], typer.Option(help="Namespace of the CronJobs (kubernetes).")] = None,
    db_secret: Annotated[str, typer.Option(
        help="Secret holding the database URL, read into NBALIFE_DB (kubernetes).")] = "nbalife-db",
    db_secret_key: Annotated[str, typer.Option(help="Key of the database URL in that Secret.")] = "url",
    system: System = False,
    user: User = None,
) -> None:
    """Print the schedule with this installation's absolute paths (or as Kubernetes CronJobs);
    warn on stderr when a job's time falls inside the live-game freeze."""
    from nbalife.services.cron import show as run

    rt = runtime(ctx)
    result = run(rt.home, rt.settings, fmt=fmt, image=image, env=_env_pairs(env or []), namespace=namespace,
                 user=user, system=system or user is not None, secret=db_secret, secret_key=db_secret_key)
    _warn(result.warnings)
    typer.echo(result.text, nl=False)


@app.command()
def install(ctx: typer.Context, file: CrontabFile = None, system: System = False, user: User = None) -> None:
    """Add (or refresh) nbalife's marked block in the crontab; other lines are left byte for byte."""
    from nbalife.services.cron import install as run

    rt = runtime(ctx)
    result = run(rt.home, rt.settings, file=file, system=system or user is not None, user=user)
    _warn(result.warnings)
    show(rt.json, result, key_values("cron install", result))


@app.command()
def uninstall(ctx: typer.Context, file: CrontabFile = None, system: System = False) -> None:
    """Remove nbalife's marked block from the crontab; other lines are left byte for byte."""
    from nbalife.services.cron import uninstall as run

    rt = runtime(ctx)
    result = run(file=file, system=system)
    show(rt.json, result, key_values("cron uninstall", result))
