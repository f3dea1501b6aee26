"""``nbalife config``: show and validate settings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nbalife.cli.render import show, table
from nbalife.cli.runtime import runtime

NAME = "config"
app = typer.Typer(help="Settings: defaults < config.yaml < NBALIFE_* env < command line.", no_args_is_help=True)


@app.command("show")
def show_cmd(ctx: typer.Context) -> None:
    """Print every effective value and where it came from."""
    rt = runtime(ctx)
    rows = rt.loaded.items()
    show(rt.json, [{"key": k, "value": v, "source": s} for k, v, s in rows],
         table("Settings", ["key", "value", "source"], rows))


@app.command()
def validate(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A config.yaml to check.")],
) -> None:
    """Check a configuration file: unknown keys, wrong types, out-of-range values (exit 2)."""
    from nbalife.config import load_settings

    rt = runtime(ctx)
    loaded = load_settings(file, environ={})
    changed = [(k, v) for k, v, s in loaded.items() if s != "default"]
    show(rt.json, {"file": str(file), "valid": True, "set": dict(changed)},
         table(f"{file}: valid", ["key", "value"], changed))


@app.command()
def defaults() -> None:
    """Print the default configuration as YAML (what config.yaml holds)."""
    from nbalife.config import default_yaml

    typer.echo(default_yaml(), nl=False)
