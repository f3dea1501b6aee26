"""Schema revisions (Alembic): the cheap check every command makes, creation of an empty
store at head, and upgrades, each in one transaction that concurrent runs wait for."""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from sqlalchemy import Connection, Engine, column, func, inspect, select, table
from sqlalchemy.exc import OperationalError, ProgrammingError

from nbalife.errors import BadInput
from nbalife.store.engine import reachable, redact

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version"
BASELINE = "0001"
BASELINE_TABLES = frozenset({"games", "predictions", "lifecycle_events", "ab_tests"})
_versions = table(VERSION_TABLE, column("version_num"))
_LOCK_KEY = int.from_bytes(hashlib.sha256(b"nbalife:schema").digest()[:8], "big", signed=True)


def revisions() -> list[str]:
    """Every revision, oldest first, from the file names ``versions/NNNN_slug.py``."""
    return sorted(path.name.split("_", 1)[0] for path in (MIGRATIONS / "versions").glob("[0-9]*_*.py"))


def head() -> str:
    """The revision this code needs."""
    return revisions()[-1]


@dataclass(frozen=True)
class StoreRevision:
    """Where a store stands: its recorded revision (None if none) and whether it has tables."""

    current: str | None
    empty: bool


def _revision_in(conn: Connection) -> StoreRevision:
    names = set(inspect(conn).get_table_names())
    if VERSION_TABLE not in names:
        return StoreRevision(None, empty=not names)
    found = sorted(conn.execute(select(_versions.c.version_num)).scalars())
    return StoreRevision(",".join(found) or None, empty=False)


def revision_of(engine: Engine) -> StoreRevision:
    """The store's revision: one query on a versioned store."""
    try:
        with engine.connect() as conn:
            found = sorted(conn.execute(select(_versions.c.version_num)).scalars())
    except (OperationalError, ProgrammingError):
        with engine.connect() as conn:
            revision = _revision_in(conn)
        if revision.current is not None:
            raise  # the version table is there: the query failed for another reason
        return revision
    return StoreRevision(",".join(found) or None, empty=False)


def refusal(engine: Engine, current: str | None) -> str | None:
    """Why the code cannot use a store at ``current`` (None when it can)."""
    needed, where = head(), f"the store at {redact(str(engine.url))}"
    if current == needed:
        return None
    if current is None:
        return (f"{where} has no schema revision (made before migrations), the code needs {needed}: "
                "run `nbalife db upgrade`")
    if current not in revisions():
        return (f"{where} is at revision {current}, which this nbalife does not know (it needs "
                f"{needed}): use the nbalife that upgraded it")
    return f"{where} is at revision {current}, the code needs {needed}: run `nbalife db upgrade`"


@contextmanager
def schema_transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction for schema changes that excludes other writers until it ends.

    SQLite: ``BEGIN IMMEDIATE`` with the driver in autocommit mode, so DDL is transactional
    too. PostgreSQL: a transaction-scoped advisory lock.
    """
    with engine.connect() as conn:
        if engine.dialect.name != "sqlite":
            with conn.begin():
                conn.execute(select(func.pg_advisory_xact_lock(_LOCK_KEY)))
                yield conn
            return
        conn.execution_options(isolation_level="AUTOCOMMIT")
        with conn.begin():  # SQLAlchemy's view; the driver's transaction is the BEGIN below
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.exec_driver_sql("ROLLBACK")
                raise
            conn.exec_driver_sql("COMMIT")


def _config(conn: Connection, home: Path | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    config.attributes["home"] = home
    return config


def migrate(conn: Connection, target: str | None = None, *, home: Path | None = None) -> tuple[str | None, list[str]]:
    """Bring the store on ``conn`` to ``target`` (default head); return the revision it was
    at and the revisions applied, oldest first. A store of baseline tables made before
    migrations is stamped at the baseline first. ``home`` is the nbalife home whose files a
    revision may import (the folder registry)."""
    from alembic import command

    target = target or head()
    before = _revision_in(conn)
    if before.current is not None and before.current not in revisions():
        raise BadInput(refusal(conn.engine, before.current))
    config = _config(conn, home)
    start = before.current
    if start is None and not before.empty:
        missing = BASELINE_TABLES - set(inspect(conn).get_table_names())
        if missing:
            raise BadInput(f"the store at {redact(str(conn.engine.url))} has tables but not "
                           f"{', '.join(sorted(missing))}: it is not an nbalife store")
        command.stamp(config, BASELINE)
        start = BASELINE
    known = revisions()
    first = 0 if start is None else known.index(start) + 1
    applied = known[first:known.index(target) + 1]
    if applied:
        command.upgrade(config, target)
    return before.current, applied


def open_store(engine: Engine) -> None:
    """Make sure the code can use the store: create an empty one at head, refuse (exit 2) one
    at another revision. One query when the store is current."""
    with reachable(engine):
        revision = revision_of(engine)
        if revision.empty:
            with schema_transaction(engine) as conn:
                revision = _revision_in(conn)  # another process may have created it meanwhile
                if revision.empty:
                    migrate(conn)
                    return
        reason = refusal(engine, revision.current)
    if reason:
        raise BadInput(reason)
