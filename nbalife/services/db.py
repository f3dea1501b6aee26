"""The store's own jobs: report its state and revision, upgrade its schema."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, func, inspect, select

from nbalife.locks import run_lock
from nbalife.store import migrate, schema
from nbalife.store.engine import reachable, redact
from nbalife.store.events import record_event


@dataclass(frozen=True)
class StoreStatus:
    """What ``db check`` reports; ``problem`` says why the code cannot use the store."""

    backend: str
    url: str
    server_version: str
    revision: str | None
    head: str
    tables: dict[str, int]
    problem: str | None


@dataclass(frozen=True)
class Upgrade:
    """What ``db upgrade`` did: the revision before and after, and the revisions applied."""

    url: str
    from_revision: str | None
    to_revision: str
    applied: list[str]


def check(engine: Engine) -> StoreStatus:
    """Connect (creating an empty store at head), read the revision, count every table's rows."""
    with reachable(engine):
        revision = migrate.revision_of(engine)
        if revision.empty:
            migrate.open_store(engine)
            revision = migrate.revision_of(engine)
        with engine.connect() as conn:
            present = set(inspect(conn).get_table_names())
            counts = {
                table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
                for table in schema.metadata.sorted_tables if table.name in present
            }
        version = ".".join(str(part) for part in (engine.dialect.server_version_info or ()))
    return StoreStatus(engine.url.get_backend_name(), redact(str(engine.url)), version, revision.current,
                       migrate.head(), counts, migrate.refusal(engine, revision.current))


def upgrade(engine: Engine, *, home: Path, now: dt.datetime) -> Upgrade:
    """Migrate the store to head under the ``db`` run lock, in one transaction with its event."""
    with run_lock("db", home=home, engine=engine), reachable(engine):
        with migrate.schema_transaction(engine) as conn:
            before, applied = migrate.migrate(conn, home=home)
            record_event(conn, "db_upgrade", "ok", at=now,
                         details={"from": before, "to": migrate.head(), "applied": applied})
    return Upgrade(redact(str(engine.url)), before, migrate.head(), applied)
