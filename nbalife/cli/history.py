"""``nbalife history``: the lifecycle audit log."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from nbalife.cli.options import parse_moment
from nbalife.cli.render import show, table
from nbalife.cli.runtime import runtime


def history(
    ctx: typer.Context,
    kind: Annotated[Optional[str], typer.Option(help="Only this kind, e.g. promote, rollback, ingest.")] = None,
    since: Annotated[Optional[str], typer.Option(
        callback=parse_moment, help="Only events at or after this date or time (UTC), e.g. 2026-03-01.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1_000_000, help="How many, newest first.")] = 50,
) -> None:
    """The audit log: every job's run and outcome (ingests, checks, registrations, promotions…)."""
    from nbalife.services.history import history as run

    rt = runtime(ctx)
    events = run(rt.engine, kind=kind, since=since, limit=limit)
    show(rt.json, events, table("Lifecycle events", ["at", "kind", "outcome", "version", "user", "host", "details"],
                                [(e.at, e.kind, e.outcome, e.version, e.user, e.host, e.details) for e in events]))
