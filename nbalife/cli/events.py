"""``nbalife events``: the lifecycle audit log."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from nbalife.cli.render import show, table
from nbalife.cli.runtime import runtime


def events(
    ctx: typer.Context,
    kind: Annotated[Optional[str], typer.Option(help="Only this kind, e.g. promotion, rollback, ingest.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1_000_000, help="How many, newest first.")] = 50,
) -> None:
    """The audit log: every check, ingest, registration, promotion and rollback."""
    from nbalife.services.events import recent

    rt = runtime(ctx)
    rows = recent(rt.engine, kind=kind, limit=limit)
    show(rt.json, rows, table("Lifecycle events", ["at", "kind", "outcome", "version", "user", "host", "details"],
                              [(e.at, e.kind, e.outcome, e.version, e.user, e.host, e.details) for e in rows]))
