"""The ``nbalife`` app: global options, command groups and the one error-to-exit-code map."""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperCommand, TyperGroup
from typer.exceptions import TyperException

from nbalife import __version__
from nbalife.cli.coercion import convert_plainly
from nbalife.cli.lazy import LazyCommands
from nbalife.cli.runtime import Runtime
from nbalife.errors import CheckFailed, NbalifeError

GLOBAL_FLAGS = {"--json", "-v", "--verbose"}
MESSAGE_LIMIT = 400  # characters of the one error line


def expected_failure(exc: BaseException) -> NbalifeError | None:
    """The expected failure ``exc`` is (database errors as the store layer classifies them),
    or None for a bug."""
    if isinstance(exc, NbalifeError):
        return exc
    if "sqlalchemy" in sys.modules:  # a database error can only come once SQLAlchemy is loaded
        from nbalife.store.engine import store_error

        return store_error(exc)
    return None


def one_line(message: str, limit: int = MESSAGE_LIMIT) -> str:
    """``message`` as one bounded line: line breaks and every other control character shown
    escaped (``\\n``, ``\\x1b``: a value with a newline still leaves the field named, and a
    terminal escape in a file name stays text), cut to ``limit`` characters."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class NbalifeGroup(TyperGroup):
    """Root group: global flags anywhere on the line; expected failures become one line + code;
    commands built on demand from GROUPS and COMMANDS."""

    def __init__(self, **attrs) -> None:
        if attrs.get("commands"):  # commands registered on the Typer app would be dropped silently
            raise TypeError("add a root command to GROUPS or COMMANDS, not with app.command/app.add_typer")
        super().__init__(**attrs)
        self.commands = LazyCommands(groups=GROUPS, commands=COMMANDS, rich_markup_mode=self.rich_markup_mode)
        convert_plainly(self)

    def format_commands(self, ctx, formatter) -> None:
        """The command list from each module's help text, without building any command."""
        names = list(self.commands)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [(name, TyperCommand(name=name, help=self.commands.help_of(name)).get_short_help_str(limit))
                for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

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
            typer.echo(f"error: {one_line(exc.format_message())}", err=True)
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
            failure = expected_failure(exc)
            if failure is None:
                raise
            verbose = isinstance(ctx.obj, Runtime) and ctx.obj.verbose
            if verbose:
                traceback.print_exc(file=sys.stderr)
            message = one_line(str(failure) or type(failure).__name__)
            typer.echo(f"error: {message}", err=True)
            if isinstance(failure, CheckFailed) and failure.notify and isinstance(ctx.obj, Runtime):
                notify_finding(ctx.obj, ctx.obj.command, message)
            raise typer.Exit(failure.exit_code) from None


def notify_finding(rt: Runtime, job: str, message: str) -> None:
    """Tell the configured notifiers of a finding (exit 1); a failing notifier is only a warning."""
    from nbalife.ops.notify import notify

    try:
        settings = rt.settings.notify
    except NbalifeError:
        return
    payload = {"finding": message, "job": job, "exit_code": CheckFailed.exit_code, "home": str(rt.home),
               "at": rt.now().isoformat()}
    for delivery in notify(payload, command=settings.command, webhook=settings.webhook,
                           timeout_s=settings.timeout_s):
        if delivery.problem:
            typer.echo(f"warning: notify {delivery.target} failed: {delivery.problem}", err=True)


app = typer.Typer(
    cls=NbalifeGroup,
    name="nbalife",
    help="Keep a live NBA halftime forecaster healthy: metrics, recalibration, updates, "
    "retraining, A/B tests, a model registry and cron.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: typer's rich help imports rich.markdown (~0.1 s)
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
        home_origin="--home" if home or not env_home else "environment NBALIFE_HOME",
        config_origin="--config" if config_file or not env_config else "environment NBALIFE_CONFIG",
        db_origin="--db" if db_url else "environment NBALIFE_DB",
        json=json_output,
        verbose=verbose,
    )


# The root's commands, each imported and built only when used (nbalife.cli.lazy). A group is
# the module nbalife.cli.<name> with a Typer ``app``; a command, the module's function <name>.
GROUPS = ("data", "db", "config", "outcomes", "metrics", "conformal", "dejavu", "drift", "lstm", "abtest", "registry",
          "cron", "guard")
COMMANDS = ("train", "predict", "evaluate", "history", "demo", "status", "replay", "report")


def main() -> None:
    """Console-script entry point."""
    app()
