"""The SQL store on both backends: schema, database errors, events, locks."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import time
from pathlib import Path

import pytest
from sqlalchemy import inspect

from nbalife.errors import BadInput, LockHeld, Unreachable
from nbalife.locks import advisory_lock, file_lock, run_lock
from nbalife.store.engine import redact, store_error
from nbalife.store.events import list_events, record_event

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone.utc)


def test_schema_has_tables_and_time_indexes(engine) -> None:
    inspector = inspect(engine)
    assert {"games", "predictions", "lifecycle_events", "ab_tests"} <= set(inspector.get_table_names())
    indexed = {tuple(i["column_names"]) for i in inspector.get_indexes("predictions")}
    assert ("created_at",) in indexed and ("game_id", "arm") in indexed
    assert ("game_date",) in {tuple(i["column_names"]) for i in inspector.get_indexes("games")}
    assert ("kind", "at") in {tuple(i["column_names"]) for i in inspector.get_indexes("lifecycle_events")}


def test_events_round_trip_in_time_order(engine) -> None:
    with engine.begin() as conn:
        record_event(conn, "check", "ok", at=NOW, details={"mae": 4.2})
        record_event(conn, "promotion", "ok", at=NOW + dt.timedelta(hours=1), version="1.1.0")
    with engine.connect() as conn:
        events = list_events(conn)
        promotions = list_events(conn, kind="promotion")
    assert [e.kind for e in events] == ["promotion", "check"]
    assert events[0].at == NOW + dt.timedelta(hours=1) and events[0].at.tzinfo is not None
    assert events[1].details == {"mae": 4.2}
    assert [e.version for e in promotions] == ["1.1.0"]


def test_event_is_rolled_back_with_its_transaction(engine) -> None:
    with pytest.raises(RuntimeError), engine.begin() as conn:
        record_event(conn, "retrain", "ok", at=NOW)
        raise RuntimeError("boom")
    with engine.connect() as conn:
        assert list_events(conn) == []


def test_redact_hides_password() -> None:
    assert redact("postgresql+psycopg://u:pw@h:5432/d") == "postgresql+psycopg://u:***@h:5432/d"
    assert redact("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"


def test_database_errors_are_classified_in_one_place() -> None:
    from sqlalchemy.exc import DatabaseError, IntegrityError, InterfaceError, OperationalError

    url = "postgresql+psycopg://u:pw@h/d"
    refused = store_error(OperationalError("SELECT 1", {}, Exception("connection refused\nmore")), url)
    assert isinstance(refused, Unreachable)
    assert str(refused) == "database postgresql+psycopg://u:***@h/d is unreachable: connection refused"
    assert isinstance(store_error(InterfaceError("SELECT 1", {}, Exception("closed"))), Unreachable)
    lost = DatabaseError("SELECT 1", {}, Exception("gone"), connection_invalidated=True)
    assert str(store_error(lost)) == "database connection lost"
    not_a_database = store_error(DatabaseError("SELECT 1", {}, Exception("file is not a database")), url)
    assert isinstance(not_a_database, BadInput) and "file is not a database" in str(not_a_database)
    assert store_error(IntegrityError("INSERT", {}, Exception("duplicate key"))) is None  # a bug
    assert store_error(ValueError("not a database error")) is None


def test_sqlite_busy_is_unreachable_but_a_bad_statement_is_a_bug(tmp_path: Path) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from nbalife.store.engine import make_engine

    url = f"sqlite:///{tmp_path / 'busy.db'}"
    holder, waiter = make_engine(url), make_engine(url, busy_timeout_s=0.1)
    with pytest.raises(OperationalError) as bad_statement, waiter.connect() as conn:
        conn.execute(text("SELECT * FROM no_such_table"))
    assert store_error(bad_statement.value, url) is None
    with holder.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        conn.commit()
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        with pytest.raises(OperationalError) as busy, waiter.begin() as other:
            other.exec_driver_sql("INSERT INTO t VALUES (1)")
        conn.rollback()
    failure = store_error(busy.value, url)
    assert isinstance(failure, Unreachable) and str(failure) == f"database {url} is unreachable: database is locked"


def _hold_file_lock(path: str, seconds: float, ready) -> None:  # noqa: ANN001
    with file_lock(Path(path)):
        ready.set()
        time.sleep(seconds)


def test_file_lock_excludes_other_process_then_frees(tmp_path: Path) -> None:
    path = tmp_path / "locks" / "job.lock"
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold_file_lock, args=(str(path), 1.0, ready))
    holder.start()
    assert ready.wait(10)
    started = time.monotonic()
    with pytest.raises(LockHeld, match="lock 'job' is held by another run"):
        with file_lock(path, wait_s=0.2):
            pass
    assert time.monotonic() - started >= 0.2
    with file_lock(path, wait_s=10):  # waits for the holder to finish
        pass
    holder.join()


def _hold_advisory(url: str, seconds: float, ready) -> None:  # noqa: ANN001
    from nbalife.store.engine import make_engine

    with advisory_lock(make_engine(url), "job"):
        ready.set()
        time.sleep(seconds)


def test_advisory_lock_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    from nbalife.store.engine import make_engine

    engine = make_engine(pg_url)
    ready = multiprocessing.get_context("spawn").Event()
    holder = multiprocessing.get_context("spawn").Process(target=_hold_advisory, args=(pg_url, 1.5, ready))
    holder.start()
    assert ready.wait(30)
    with pytest.raises(LockHeld):
        with run_lock("job", home=tmp_path, engine=engine, wait_s=0.2):
            pass
    with run_lock("job", home=tmp_path, engine=engine, wait_s=20):
        pass
    holder.join()
    assert not (tmp_path / "locks").exists()  # PostgreSQL stores use no lock files
