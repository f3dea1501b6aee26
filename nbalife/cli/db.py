"""``nbalife db``: the SQL store's state, revision and schema upgrades."""

from __future__ import annotations

import typer

from nbalife.cli.render import key_values, show, table
from nbalife.cli.runtime import runtime
from nbalife.errors import CheckFailed

NAME = "db"
app = typer.Typer(help="The SQL store (SQLite by default, PostgreSQL in production).", no_args_is_help=True)


@app.command("check")
def check_cmd(ctx: typer.Context) -> None:
    """Report backend, URL (no password), schema revision and row counts; exit 1 if the store
    is not at the code's revision, 4 if unreachable."""
    from nbalife.services.db import check

    rt = runtime(ctx)
    status = check(rt.unchecked_engine)
    show(
        rt.json,
        status,
        key_values("Store", {"backend": status.backend, "url": status.url, "server": status.server_version,
                             "revision": status.revision, "code needs": status.head}),
        table("Tables", ["table", "rows"], sorted(status.tables.items())),
    )
    if status.problem:
        raise CheckFailed(status.problem)


@app.command()
def upgrade(ctx: typer.Context) -> None:
    """Migrate the schema to the code's revision (creates an empty store; a no-op when current)."""
    from nbalife.services.db import upgrade as run

    rt = runtime(ctx)
    result = run(rt.unchecked_engine, home=rt.home, now=rt.now())
    title = "Store already current" if result.from_revision == result.to_revision else "Store upgraded"
    show(rt.json, result, key_values(title, {
        "url": result.url, "from": result.from_revision or "none", "to": result.to_revision,
        "applied": ", ".join(result.applied) or "nothing"}))
