"""The online conformal layer's state rows and the served predictions that advance them."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, func, select

from nbalife.store import schema
from nbalife.store.times import from_db_time, to_db_time
from nbalife.store.upsert import upsert

SERVED_ARMS = ("A", "B")  # arms whose intervals were served (a shadow forecast serves nothing)


@dataclass(frozen=True)
class StateRow:
    """One layer's stored state: ``state`` as the layer wrote it (``OnlineState.to_dict``)."""

    layer: str
    version: str
    radius: float
    n: int
    misses: int
    state: dict[str, Any]
    through: dt.datetime | None
    updated_at: dt.datetime


@dataclass(frozen=True)
class ServedRow:
    """One resolved, served prediction: what advances its layer."""

    id: int
    game_id: str
    version: str
    arm: str
    created_at: dt.datetime
    resolved_at: dt.datetime
    forecast: float
    lower: float
    upper: float
    actual: float | None


def read_state(conn: Connection, layer: str) -> StateRow | None:
    """The stored state of ``layer``, or None."""
    table = schema.conformal_state
    row = conn.execute(select(table).where(table.c.layer == layer)).first()
    if row is None:
        return None
    return StateRow(row.layer, row.version, float(row.radius), int(row.n), int(row.misses),
                    json.loads(row.state), None if row.through is None else from_db_time(row.through),
                    from_db_time(row.updated_at))


def write_state(conn: Connection, row: StateRow) -> None:
    """Insert or replace the state row of ``row.layer``."""
    upsert(conn, schema.conformal_state, [{
        "layer": row.layer, "version": row.version, "radius": row.radius, "n": row.n,
        "misses": row.misses, "state": json.dumps(row.state, sort_keys=True),
        "through": None if row.through is None else to_db_time(row.through),
        "updated_at": to_db_time(row.updated_at)}], key=["layer"])


def served_versions(conn: Connection) -> dict[str, int]:
    """Every version with served predictions, and how many of them have an outcome."""
    table = schema.predictions
    query = (select(table.c.model_version, func.count(table.c.actual))
             .where(table.c.arm.in_(SERVED_ARMS)).group_by(table.c.model_version))
    return {version: int(count) for version, count in conn.execute(query)}


def served_rows(conn: Connection, versions: tuple[str, ...], *, resolved: bool = True) -> list[ServedRow]:
    """The served predictions of ``versions``: with ``resolved``, those with an outcome in the
    order they advance the layer (resolved_at, created_at, id); else every one by created_at."""
    table = schema.predictions
    query = select(table.c.id, table.c.game_id, table.c.model_version, table.c.arm, table.c.created_at,
                   table.c.resolved_at, table.c.forecast, table.c.lower, table.c.upper, table.c.actual
                   ).where(table.c.model_version.in_(versions), table.c.arm.in_(SERVED_ARMS))
    if resolved:
        query = query.where(and_(table.c.actual.is_not(None), table.c.resolved_at.is_not(None))
                            ).order_by(table.c.resolved_at, table.c.created_at, table.c.id)
    else:
        query = query.order_by(table.c.created_at, table.c.id)
    return [ServedRow(int(r.id), r.game_id, r.model_version, r.arm, from_db_time(r.created_at),
                      None if r.resolved_at is None else from_db_time(r.resolved_at),
                      float(r.forecast), float(r.lower), float(r.upper),
                      None if r.actual is None else float(r.actual))
            for r in conn.execute(query)]
