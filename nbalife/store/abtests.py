"""Queries on the A/B tests table: at most one test runs (a partial unique index says so)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from nbalife.errors import BadInput
from nbalife.store import schema
from nbalife.store.times import from_db_time, to_db_time

RUNNING = "running"
ACTIVE = (RUNNING,)
ENDINGS = ("promoted", "rolled_back", "stopped")


@dataclass(frozen=True)
class AbTest:
    """One A/B test: champion A (production at start) against candidate B.

    ``test_id`` keys the routing hash; ``shares`` is the rollout ladder of B's traffic (split
    mode) and ``stage`` the index of the current rung.
    """

    id: int
    test_id: str
    champion: str
    candidate: str
    mode: str
    status: str
    stage: int
    traffic: float
    shares: tuple[float, ...]
    min_improvement: float
    started_at: dt.datetime
    stage_started_at: dt.datetime
    ended_at: dt.datetime | None
    reason: str | None


def _test(row: Any) -> AbTest:
    details = json.loads(row.details or "{}")
    return AbTest(row.id, row.name, row.version_a, row.version_b, row.mode, row.status, row.stage,
                  row.traffic_b, tuple(details.get("shares", ())), row.min_improvement,
                  from_db_time(row.started_at), from_db_time(row.stage_started_at), from_db_time(row.ended_at),
                  row.reason)


def active_versions(conn: Connection) -> set[str]:
    """Versions taking part in an A/B test that has not ended (protected from gc)."""
    table = schema.ab_tests
    rows = conn.execute(select(table.c.version_a, table.c.version_b).where(table.c.status.in_(ACTIVE))).all()
    return {version for row in rows for version in row}


def running_test(conn: Connection) -> AbTest | None:
    """The test that is running, if any."""
    row = conn.execute(select(schema.ab_tests).where(schema.ab_tests.c.status == RUNNING)).first()
    return None if row is None else _test(row)


def insert_test(conn: Connection, *, test_id: str, champion: str, candidate: str, mode: str,
                shares: tuple[float, ...], min_improvement: float, now: dt.datetime) -> AbTest:
    """Start a test at its first stage; BadInput when one is already running."""
    try:
        with conn.begin_nested():
            conn.execute(insert(schema.ab_tests).values(
                name=test_id, version_a=champion, version_b=candidate, mode=mode, status=RUNNING, stage=0,
                traffic_b=shares[0], salt=test_id, min_improvement=min_improvement,
                started_at=to_db_time(now), stage_started_at=to_db_time(now),
                details=json.dumps({"shares": list(shares)})))
    except IntegrityError:
        raise BadInput("an A/B test is already running (see `nbalife abtest status`; stop it first)") from None
    found = running_test(conn)
    assert found is not None and found.test_id == test_id
    return found


def move_stage(conn: Connection, test: AbTest, stage: int, *, now: dt.datetime) -> bool:
    """Move ``test`` from its stage to ``stage``; False when another run changed it first."""
    table = schema.ab_tests
    result = conn.execute(
        update(table).where(table.c.id == test.id, table.c.status == RUNNING, table.c.stage == test.stage)
        .values(stage=stage, traffic_b=test.shares[stage], stage_started_at=to_db_time(now)))
    return result.rowcount == 1


def end_test(conn: Connection, test: AbTest, status: str, reason: str, *, now: dt.datetime) -> bool:
    """End a running test as promoted, rolled back or stopped; False when it had already ended."""
    if status not in ENDINGS:
        raise ValueError(f"unknown ending {status!r}")
    table = schema.ab_tests
    result = conn.execute(update(table).where(table.c.id == test.id, table.c.status == RUNNING)
                          .values(status=status, reason=reason, ended_at=to_db_time(now)))
    return result.rowcount == 1


def find_test(conn: Connection, id_: int) -> AbTest:
    """The test with row id ``id_``."""
    return _test(conn.execute(select(schema.ab_tests).where(schema.ab_tests.c.id == id_)).one())


def list_tests(conn: Connection) -> list[AbTest]:
    """Every test, newest first."""
    table = schema.ab_tests
    return [_test(row) for row in conn.execute(select(table).order_by(table.c.started_at.desc(), table.c.id.desc()))]
