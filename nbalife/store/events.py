"""The lifecycle audit log: every check, recalibration, update, retrain, promotion, rollback."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import socket
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select

from nbalife.store import schema
from nbalife.store.times import from_db_time, to_db_time


@dataclass(frozen=True)
class Event:
    """One row of the audit log."""

    at: dt.datetime
    kind: str
    outcome: str
    version: str | None
    details: dict[str, Any]
    user: str
    host: str


def current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def record_event(
    conn: Connection,
    kind: str,
    outcome: str,
    *,
    at: dt.datetime,
    version: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one event; the caller's transaction decides whether it is kept."""
    conn.execute(
        insert(schema.lifecycle_events).values(
            at=to_db_time(at),
            kind=kind,
            outcome=outcome,
            version=version,
            details=json.dumps(details or {}, default=str, sort_keys=True),
            user=current_user(),
            host=socket.gethostname(),
        )
    )


def list_events(conn: Connection, *, kind: str | None = None, limit: int = 50) -> list[Event]:
    """The newest events first, optionally of one kind."""
    table = schema.lifecycle_events
    query = select(table).order_by(table.c.at.desc(), table.c.id.desc()).limit(limit)
    if kind is not None:
        query = query.where(table.c.kind == kind)
    return [
        Event(from_db_time(r.at), r.kind, r.outcome, r.version, json.loads(r.details), r.user, r.host)
        for r in conn.execute(query).all()
    ]
