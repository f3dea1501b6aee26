"""The ``nbalife`` app: global options, command groups and the one error-to-exit-code map."""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException

from nbalife import __version__
from nbalife.cli import (
    abtest,
    conformal,
    config,
    data,
    db,
    dejavu,
    demo,
    evaluate,
    events,
    lstm,
    metrics,
    outcomes,
    predict,
    registry,
    train,
)
from nbalife.cli.runtime import Runtime
from nbalife.errors import NbalifeError, Unreachable

GLOBAL_FLAGS = {"--json", "-v", "--verbose"}


def exit_code_of(exc: BaseException) -> int | None:
    """The exit code of an expected failure, or None for a bug."""
    if isinstance(exc, NbalifeError):
        return exc.exit_code
    module = type(exc).__module__
    if module.startswith("sqlalchemy") and type(exc).__name__ in {"OperationalError", "InterfaceError"}:
        return Unreachable.exit_code
    return None


class NbalifeGroup(TyperGroup):
    """Root group: global flags anywhere on the line; expected failures become one line + code."""

    def parse_args(self, ctx, args):  # noqa: ANN001, ANN201
        if ctx.parent is None:
            head = args.index("--") if "--" in args else len(args)
            flags = [a for a in args[:head] if a in GLOBAL_FLAGS]
            args = flags + [a for a in args[:head] if a not in GLOBAL_FLAGS] + args[head:]
        return super().parse_args(ctx, args)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):  # noqa: ANN001, ANN201
        """Usage errors too are one line, ``error: …``, and exit 2."""
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except TyperException as exc:  # click's usage errors (typer >= 0.29 vendors click)
            if not standalone_mode:
                raise
            typer.echo(f"error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except typer.Abort:
            if not standalone_mode:
                raise
            typer.echo("error: aborted", err=True)
            sys.exit(1)
        if standalone_mode:
            sys.exit(result if isinstance(result, int) else 0)
        return result

    def invoke(self, ctx):  # noqa: ANN001, ANN201
        try:
            return super().invoke(ctx)
        except Exception as exc:  # one place maps failures to exit codes
            code = exit_code_of(exc)
            if code is None:
                raise
            verbose = isinstance(ctx.obj, Runtime) and ctx.obj.verbose
            if verbose:
                traceback.print_exc(file=sys.stderr)
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if not isinstance(exc, NbalifeError):
                message = f"database unreachable: {message}"
            typer.echo(f"error: {message}", err=True)
            raise typer.Exit(code) from None


app = typer.Typer(
    cls=NbalifeGroup,
    name="nbalife",
    help="Keep a live NBA halftime forecaster healthy: metrics, recalibration, updates, "
    "retraining, A/B tests, a model registry and cron.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"nbalife {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    home: Annotated[
        Optional[Path],
        typer.Option(help="nbalife home: store, models/, model_registry/, locks/ (env NBALIFE_HOME; default: the current directory)"),
    ] = None,
    config_file: Annotated[
        Optional[Path],
        typer.Option("--config", help="Configuration file (env NBALIFE_CONFIG; default: HOME/config.yaml)"),
    ] = None,
    db_url: Annotated[
        Optional[str],
        typer.Option("--db", help="Database URL, e.g. postgresql+psycopg://user@host/db (env NBALIFE_DB)"),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Machine output: JSON on stdout.")] = False,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="Show tracebacks of failures.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Global options come before or after the command (``--json`` and ``-v`` anywhere)."""
    env_home = os.environ.get("NBALIFE_HOME")
    chosen = home or (Path(env_home) if env_home else None)
    env_config = os.environ.get("NBALIFE_CONFIG")
    ctx.obj = Runtime(
        home=(chosen or Path.cwd()).resolve(),
        home_given=chosen is not None,
        config_path=config_file or (Path(env_config) if env_config else None),
        db_url=db_url or os.environ.get("NBALIFE_DB") or None,
        json=json_output,
        verbose=verbose,
    )


for module in (data, db, config, outcomes, metrics, conformal, dejavu, lstm, abtest, registry):
    app.add_typer(module.app, name=module.NAME)
app.command("train")(train.train)
app.command("predict")(predict.predict)
app.command("evaluate")(evaluate.evaluate)
app.command("events")(events.events)
app.command("demo")(demo.demo)


def main() -> None:
    """Console-script entry point."""
    app()
