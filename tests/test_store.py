"""The SQL store on both backends: schema, check, events, locks."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import time
from pathlib import Path

import pytest
from sqlalchemy import inspect

from nbalife.errors import LockHeld
from nbalife.locks import advisory_lock, file_lock, run_lock
from nbalife.store.engine import check, redact
from nbalife.store.events import list_events, record_event

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone.utc)


def test_schema_has_tables_and_time_indexes(engine) -> None:
    inspector = inspect(engine)
    assert {"games", "predictions", "lifecycle_events", "ab_tests"} <= set(inspector.get_table_names())
    indexed = {tuple(i["column_names"]) for i in inspector.get_indexes("predictions")}
    assert ("created_at",) in indexed and ("game_id", "arm") in indexed
    assert ("game_date",) in {tuple(i["column_names"]) for i in inspector.get_indexes("games")}
    assert ("kind", "at") in {tuple(i["column_names"]) for i in inspector.get_indexes("lifecycle_events")}


def test_check_reports_backend_and_counts(engine) -> None:
    status = check(engine)
    assert status.backend in {"sqlite", "postgresql"}
    assert status.tables == {"ab_tests": 0, "games": 0, "lifecycle_events": 0, "predictions": 0}
    assert status.server_version


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
