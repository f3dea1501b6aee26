"""Reading the lifecycle audit log."""

from __future__ import annotations

from sqlalchemy import Engine

from nbalife.store.engine import reachable
from nbalife.store.events import Event, list_events


def recent(engine: Engine, *, kind: str | None = None, limit: int = 50) -> list[Event]:
    """The newest ``limit`` events, optionally of one kind."""
    with reachable(engine), engine.connect() as conn:
        return list_events(conn, kind=kind, limit=limit)
