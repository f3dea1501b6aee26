"""The lifecycle audit log: every check, recalibration, update, retrain, promotion, rollback."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select

from nbalife.identity import current_user, host_name
from nbalife.store import schema
from nbalife.store.times import from_db_time, to_db_time


# The audit log's vocabulary: the kinds of the jobs (a new job adds its kind here).
KINDS = frozenset({"ingest", "outcomes", "db_upgrade", "register", "promote", "rollback", "gc", "recover",
                   "abtest_start", "abtest_advance", "abtest_rollback", "abtest_stop",
                   "drift_check", "lstm_retrain", "conformal_check", "dejavu_update", "metrics_check",
                   "correction", "guard_check"})


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
            host=host_name(),
        )
    )


def list_events(conn: Connection, *, kind: str | None = None, since: dt.datetime | None = None,
                limit: int = 50) -> list[Event]:
    """The newest events first, optionally of one kind and at or after ``since``."""
    table = schema.lifecycle_events
    query = select(table).order_by(table.c.at.desc(), table.c.id.desc()).limit(limit)
    if kind is not None:
        query = query.where(table.c.kind == kind)
    if since is not None:
        query = query.where(table.c.at >= to_db_time(since))
    return [
        Event(from_db_time(r.at), r.kind, r.outcome, r.version, json.loads(r.details), r.user, r.host)
        for r in conn.execute(query).all()
    ]


def recorded_kinds(conn: Connection) -> set[str]:
    """The kinds present in the log."""
    return set(conn.execute(select(schema.lifecycle_events.c.kind).distinct()).scalars())


def production_switches(conn: Connection) -> list[Event]:
    """Completed promotions and rollbacks, oldest first: which version served from when."""
    table = schema.lifecycle_events
    query = (select(table).where(table.c.kind.in_(("promote", "rollback")), table.c.outcome == "ok")
             .order_by(table.c.at, table.c.id))
    return [
        Event(from_db_time(r.at), r.kind, r.outcome, r.version, json.loads(r.details), r.user, r.host)
        for r in conn.execute(query).all()
    ]


def event_keys(conn: Connection, kinds: frozenset[str] | set[str]) -> set[tuple[str, dt.datetime, str | None]]:
    """(kind, time, version) of every event of ``kinds``: what a journal is reconciled against."""
    table = schema.lifecycle_events
    rows = conn.execute(select(table.c.kind, table.c.at, table.c.version).where(table.c.kind.in_(sorted(kinds))))
    return {(r.kind, r.at, r.version) for r in rows}
