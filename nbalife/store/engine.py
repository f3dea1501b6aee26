"""Engines for SQLite (embedded default) and PostgreSQL, and the one map of database errors."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DatabaseError,
    DBAPIError,
    InterfaceError,
    NoSuchModuleError,
    OperationalError,
    SQLAlchemyError,
)

from nbalife.errors import BadInput, LockHeld, NbalifeError, Unreachable
from nbalife.redaction import redact as redact_text

# SQLite reports a bad statement as OperationalError too; only these mean it cannot be used.
SQLITE_UNAVAILABLE = ("SQLITE_CANTOPEN", "SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_IOERR", "SQLITE_READONLY",
                      "SQLITE_FULL")
# PostgreSQL SQLSTATEs: connection exceptions, shutdown, too many connections, bad login, no such
# database mean the store cannot be reached; deadlock and serialization failure mean a concurrent
# run got in the way (retried by ``retrying``, then reported as contention, exit 3).
UNREACHABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300", "28", "3D000")
CONFLICT_SQLSTATES = {"40P01": "deadlock", "40001": "serialization failure"}
MALFORMED = "malformed database URL"
_T = TypeVar("_T")


def default_url(home: Path) -> str:
    """The embedded store: ``sqlite:///<home>/nbalife.db``."""
    return f"sqlite:///{Path(home).resolve() / 'nbalife.db'}"


def parse_url(text: str) -> URL:
    """``text`` parsed by SQLAlchemy's URL parser, or BadInput "malformed database URL" that never
    echoes it (a URL that did not parse may hold a password anywhere)."""
    try:
        url = make_url(text)
    except (ArgumentError, ValueError, TypeError):
        raise BadInput(f"{MALFORMED}: expected DIALECT://[USER[:PASSWORD]@]HOST[:PORT]/DATABASE "
                       "(percent-encode @ : / in a password)") from None
    if url.get_backend_name() == "sqlite" and (url.username or url.password or url.host or url.port):
        raise BadInput(f"{MALFORMED}: a SQLite URL is sqlite:///PATH (no user, password or host)")
    if url.get_backend_name() != "sqlite" and text.count("@") > 1:
        raise BadInput(f"{MALFORMED}: more than one @ (percent-encode @ in a password as %40)")
    if url.password is not None and not url.username:
        raise BadInput(f"{MALFORMED}: a password without a user name")
    if any(c in (url.host or "") for c in "@/ ") or any(c in (url.username or "") for c in "@ "):
        raise BadInput(f"{MALFORMED}: an unencoded @ or space in the user, password or host "
                       "(percent-encode it, e.g. %40)")
    after = [url.host or "", url.database or "", *url.query.keys(), *(str(v) for v in url.query.values())]
    if url.get_backend_name() != "sqlite" and any("@" in part for part in after):
        raise BadInput(f"{MALFORMED}: an unencoded @ after the password (percent-encode it, e.g. %40)")
    if url.port is not None and not 1 <= url.port <= 65535:
        raise BadInput(f"{MALFORMED}: port {url.port} out of range 1-65535")
    return url


def redact(url: str | URL) -> str:
    """The URL as it may be displayed (``nbalife.redaction.redact``: password and secret query
    values hidden); a URL that does not parse is never echoed."""
    try:
        parsed = parse_url(url) if isinstance(url, str) else url
    except BadInput:
        return f"<{MALFORMED}>"
    return redact_text(parsed.render_as_string(hide_password=False))


def make_engine(url: str, *, busy_timeout_s: float = 30.0, connect_timeout_s: float = 10.0) -> Engine:
    """Create an engine; SQLite gets WAL mode, a busy timeout and an existing folder."""
    parsed = parse_url(url)
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise BadInput(f"database URL {redact(parsed)!r}: use sqlite:///PATH or postgresql+psycopg://…")
    try:
        if backend == "sqlite":
            if parsed.database in (None, "", ":memory:"):
                raise BadInput(f"database URL {redact(parsed)!r}: an in-memory SQLite store keeps nothing; "
                               "use sqlite:///PATH")
            folder = Path(parsed.database).parent
            if not folder.is_dir():
                raise BadInput(f"database folder {folder} does not exist")
            engine = create_engine(parsed, connect_args={"timeout": busy_timeout_s})

            @event.listens_for(engine, "connect")
            def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
                cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.close()

            return engine
        return create_engine(parsed, pool_pre_ping=True, connect_args={"connect_timeout": int(connect_timeout_s)})
    except NoSuchModuleError:
        raise BadInput(f"database URL {redact(parsed)!r}: unknown driver (use postgresql+psycopg)") from None
    except (ArgumentError, ValueError) as exc:
        raise BadInput(f"database URL {redact(parsed)!r}: invalid ({type(exc).__name__})") from None


def lock_for_write(conn: Connection) -> None:
    """On SQLite, start the transaction with ``BEGIN IMMEDIATE`` so that it holds the store's write
    lock before it reads: what it counts stays true until it commits (PostgreSQL needs nothing)."""
    if conn.dialect.name != "sqlite":
        return
    dbapi = conn.connection.dbapi_connection
    if dbapi is not None and not dbapi.in_transaction:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error (psycopg 3 ``sqlstate``, psycopg2 ``pgcode``), or None."""
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


def store_error(exc: BaseException, url: str | URL | None = None) -> NbalifeError | None:
    """The expected failure a SQLAlchemy error stands for, or None for a bug.

    By SQLSTATE first: a deadlock or serialization failure is contention with a concurrent run
    (``LockHeld``, exit 3); connection, login and missing-database states are ``Unreachable``
    (exit 4). Without one: connection failures (for SQLite: cannot open, busy past the timeout,
    I/O, read-only, full) are ``Unreachable``; a file that is not a database is ``BadInput``.
    ``url`` is named, redacted, when known.
    """
    where = f"database {redact(url)}" if url else "database"
    state = sqlstate(exc)
    if state in CONFLICT_SQLSTATES:
        return LockHeld(f"{where}: {CONFLICT_SQLSTATES[state]} with a concurrent run (SQLSTATE {state}); "
                        "nothing was written, run it again")
    sqlite_error = getattr(getattr(exc, "orig", None), "sqlite_errorname", None)  # Python >= 3.11
    if isinstance(exc, OperationalError) and sqlite_error and not sqlite_error.startswith(SQLITE_UNAVAILABLE):
        return None
    if (state or "").startswith(UNREACHABLE_SQLSTATES) or isinstance(exc, (OperationalError, InterfaceError)):
        reason = str(exc.orig if getattr(exc, "orig", None) is not None else exc).strip().splitlines()
        return Unreachable(f"{where} is unreachable: {reason[0] if reason else type(exc).__name__}")
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return Unreachable(f"{where} connection lost")
    if type(exc) is DatabaseError:  # e.g. SQLite: "file is not a database"
        return BadInput(f"{where}: {exc.orig}")
    return None


def retrying(work: Callable[[], _T], *, attempts: int = 4, pause_s: float = 0.05) -> _T:
    """``work()``, run again (after a growing pause) while it fails by deadlock or serialization
    failure, at most ``attempts`` times in all; then that failure as ``LockHeld`` saying so.
    ``work`` must own its transaction, so that a failed attempt has written nothing."""
    attempt = 1
    while True:
        try:
            return work()
        except DBAPIError as exc:
            if sqlstate(exc) not in CONFLICT_SQLSTATES:
                raise
            if attempt >= attempts:
                raise LockHeld(f"{store_error(exc)} (persisted after {attempts} attempts)") from exc
        time.sleep(pause_s * 2 ** (attempt - 1))
        attempt += 1


@contextmanager
def reachable(engine: Engine) -> Iterator[None]:
    """Raise database errors as the expected failure they stand for, naming the store."""
    try:
        yield
    except SQLAlchemyError as exc:
        failure = store_error(exc, engine.url)
        if failure is None:
            raise
        raise failure from exc
