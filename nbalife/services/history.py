"""Reading the lifecycle audit log (the ``events`` table)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine

from nbalife.errors import BadInput
from nbalife.store.engine import reachable
from nbalife.store.events import KINDS, Event, list_events, recorded_kinds


def history(engine: Engine, *, kind: str | None = None, since: dt.datetime | None = None,
            limit: int = 50) -> list[Event]:
    """The newest ``limit`` events, optionally of one kind and at or after ``since``; a kind
    neither in the vocabulary nor in the log is exit 2."""
    with reachable(engine), engine.connect() as conn:
        if kind is not None and kind not in KINDS:
            known = KINDS | recorded_kinds(conn)
            if kind not in known:
                raise BadInput(f"--kind {kind!r}: no such event kind; use one of {', '.join(sorted(known))}")
        return list_events(conn, kind=kind, since=since, limit=limit)
