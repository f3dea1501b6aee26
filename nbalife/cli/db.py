"""``nbalife db``: create and check the SQL store."""

from __future__ import annotations

import typer

from nbalife.cli.render import key_values, show, table
from nbalife.cli.runtime import runtime

NAME = "db"
app = typer.Typer(help="The SQL store (SQLite by default, PostgreSQL in production).", no_args_is_help=True)


@app.command()
def init(ctx: typer.Context) -> None:
    """Create the tables and indexes (idempotent)."""
    from nbalife.store.engine import check

    rt = runtime(ctx)
    status = check(rt.engine)
    show(rt.json, status, key_values("Store ready", {"backend": status.backend, "url": status.url}))


@app.command("check")
def check_cmd(ctx: typer.Context) -> None:
    """Report backend, URL (no password) and table counts; exit 4 if unreachable."""
    from nbalife.store.engine import check

    rt = runtime(ctx)
    status = check(rt.engine)
    show(
        rt.json,
        status,
        key_values("Store", {"backend": status.backend, "url": status.url, "server": status.server_version}),
        table("Tables", ["table", "rows"], sorted(status.tables.items())),
    )
