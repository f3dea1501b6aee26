"""Engines for SQLite (embedded default) and PostgreSQL, and the schema's creation."""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from sqlalchemy import Engine, create_engine, event, func, select
from sqlalchemy.exc import ArgumentError, DatabaseError, DBAPIError, NoSuchModuleError, OperationalError

from nbalife.errors import BadInput, Unreachable
from nbalife.store import schema


def default_url(home: Path) -> str:
    """The embedded store: ``sqlite:///<home>/nbalife.db``."""
    return f"sqlite:///{Path(home).resolve() / 'nbalife.db'}"


def redact(url: str) -> str:
    """The URL with its password replaced by ``***``."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def make_engine(url: str, *, busy_timeout_s: float = 30.0, connect_timeout_s: float = 10.0) -> Engine:
    """Create an engine; SQLite gets WAL mode, a busy timeout and enforced foreign keys."""
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": busy_timeout_s})
            if engine.url.database in (None, "", ":memory:"):
                raise BadInput(f"database URL {url!r}: an in-memory SQLite store keeps nothing; "
                               "use sqlite:///PATH")

            @event.listens_for(engine, "connect")
            def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
                cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.close()

            return engine
        if url.startswith("postgresql"):
            return create_engine(url, pool_pre_ping=True,
                                 connect_args={"connect_timeout": int(connect_timeout_s)})
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise BadInput(f"database URL {redact(url)!r}: {exc}") from None
    raise BadInput(f"database URL {redact(url)!r}: use sqlite:///PATH or postgresql+psycopg://…")


@contextmanager
def reachable(engine: Engine) -> Iterator[None]:
    """Turn connection failures into ``Unreachable`` (exit 4) naming the redacted URL."""
    try:
        yield
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise Unreachable(f"database {redact(str(engine.url))} is unreachable: {reason}") from exc
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise Unreachable(f"database {redact(str(engine.url))} connection lost") from exc
        if type(exc) is DatabaseError:  # e.g. SQLite: "file is not a database"
            raise BadInput(f"database {redact(str(engine.url))}: {exc.orig}") from exc
        raise


def init_schema(engine: Engine) -> None:
    """Create missing tables and indexes (idempotent)."""
    if engine.url.get_backend_name() == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        parent = Path(engine.url.database).parent
        if not parent.is_dir():
            raise BadInput(f"database folder {parent} does not exist")
    with reachable(engine):
        schema.metadata.create_all(engine)


@dataclass(frozen=True)
class StoreStatus:
    """What ``db check`` reports."""

    backend: str
    url: str
    server_version: str
    tables: dict[str, int]


def check(engine: Engine) -> StoreStatus:
    """Connect, create the schema if needed, and count the rows of every table."""
    init_schema(engine)
    with reachable(engine), engine.connect() as conn:
        counts = {
            table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in schema.metadata.sorted_tables
        }
        version = ".".join(str(part) for part in (engine.dialect.server_version_info or ()))
    return StoreStatus(engine.url.get_backend_name(), redact(str(engine.url)), version, counts)
