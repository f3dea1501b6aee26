"""Hardening: concurrent ingests count honestly, deadlocks are retried then reported, on SQLite
and on a real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select, text, update

from nbalife.errors import LockHeld
from nbalife.store import schema
from nbalife.store.engine import make_engine, retrying, store_error
from nbalife.store.games import count_games

ROUNDS = 2


def overlapping_files(real_games: Path, folder: Path) -> tuple[Path, Path, int]:
    """Two files sharing their middle games, the second in reverse order; and how many distinct."""
    games = pd.read_csv(real_games, dtype=str)
    first, second = games.iloc[:200], games.iloc[100:300].iloc[::-1]
    a, b = folder / "a.csv", folder / "b.csv"
    first.to_csv(a, index=False)
    second.to_csv(b, index=False)
    return a, b, len(set(first["game_id"]) | set(second["game_id"]))


def ingest_process(home: Path, db_url: str, path: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "nbalife", "--home", str(home), "--db", db_url, "--json",
                             "data", "ingest", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def test_concurrent_overlapping_ingests_count_each_game_once(db_url: str, engine, home: Path,
                                                             real_games: Path, tmp_path: Path) -> None:
    a, b, distinct = overlapping_files(real_games, tmp_path)
    for _ in range(ROUNDS):
        with engine.begin() as conn:
            conn.execute(schema.games.delete())
        runs = [ingest_process(home, db_url, path) for path in (a, b)]
        outputs = [run.communicate(timeout=120) for run in runs]
        assert [run.returncode for run in runs] == [0, 0], outputs
        reports = [json.loads(out)[0] for out, _ in outputs]
        assert sum(r["inserted"] for r in reports) == distinct
        assert [r["inserted"] + r["updated"] for r in reports] == [200, 200]
        with engine.connect() as conn:
            assert count_games(conn) == distinct
            events = schema.lifecycle_events
            logged = conn.execute(select(events.c.details).where(events.c.kind == "ingest")
                                  .order_by(events.c.id.desc()).limit(2)).scalars().all()
        details = [json.loads(d) for d in logged]
        assert sum(d["inserted"] for d in details) == distinct


def test_an_ingest_overlapping_an_uncommitted_one_counts_after_it(engine, real_games: Path,
                                                                   tmp_path: Path) -> None:
    """The second ingest starts while the first has written but not committed: it must count
    the shared games as updates (a count taken before its write would call them inserts)."""
    from nbalife.interchange import load_games
    from nbalife.store.games import upsert_games

    a, b, distinct = overlapping_files(real_games, tmp_path)
    now = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    written, counts = threading.Event(), {}

    def first() -> None:
        with engine.begin() as conn:
            counts["a"] = upsert_games(conn, load_games(a), now)
            written.set()
            time.sleep(0.5)  # the second ingest starts now, before this one commits

    def second() -> None:
        games = load_games(b)
        written.wait(timeout=30)
        with engine.begin() as conn:
            counts["b"] = upsert_games(conn, games, now)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert counts["a"].inserted == 200 and (counts["b"].inserted, counts["b"].updated) == (100, 100)
    assert counts["a"].inserted + counts["b"].inserted == distinct


def _lock_in_order(engine, first: str, second: str, barrier: threading.Barrier) -> None:  # noqa: ANN001
    """One transaction updating game ``first`` then, once the other holds its own, ``second``."""
    with engine.begin() as conn:
        conn.execute(update(schema.games).where(schema.games.c.game_id == first).values(final_diff=1))
        barrier.wait(timeout=30)
        conn.execute(update(schema.games).where(schema.games.c.game_id == second).values(final_diff=2))


@pytest.fixture
def pg_engine(pg_url: str, real_games: Path):  # noqa: ANN201
    """A PostgreSQL store holding two games, for deadlocks made on purpose."""
    from nbalife.services.data import ingest
    from nbalife.store.migrate import open_store
    from tests.conftest import drop_store

    engine = make_engine(pg_url)
    drop_store(engine)
    open_store(engine)
    ingest(engine, real_games, now=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc))
    ids = pd.read_csv(real_games, dtype=str)["game_id"].iloc[:2].tolist()
    yield engine, ids
    engine.dispose()


def _deadlock(engine, ids: list[str], attempts: int) -> list[BaseException | int]:  # noqa: ANN001
    """Two threads locking the same two rows in opposite order, each through ``retrying``;
    what each ended with: its attempt count, or the error it raised."""
    barrier = threading.Barrier(2)
    outcomes: list[BaseException | int] = [0, 0]

    def worker(index: int, order: list[str]) -> None:
        tries = 0

        def work() -> int:
            nonlocal tries
            tries += 1
            _lock_in_order(engine, order[0], order[1], barrier if tries == 1 else threading.Barrier(1))
            return tries

        try:
            outcomes[index] = retrying(work, attempts=attempts)
        except BaseException as exc:  # noqa: BLE001 - the outcome under test
            outcomes[index] = exc

    threads = [threading.Thread(target=worker, args=(0, ids)), threading.Thread(target=worker, args=(1, ids[::-1]))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_a_deadlock_is_retried_and_both_writers_succeed(pg_engine) -> None:  # noqa: ANN001
    engine, ids = pg_engine
    outcomes = _deadlock(engine, ids, attempts=3)
    assert sorted(outcomes) == [1, 2]  # the victim rolled back and succeeded on its second attempt


def test_a_deadlock_that_persists_is_reported_as_contention_not_unreachable(pg_engine) -> None:  # noqa: ANN001
    engine, ids = pg_engine
    outcomes = _deadlock(engine, ids, attempts=1)
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(failures) == 1 and isinstance(failures[0], LockHeld) and failures[0].exit_code == 3
    message = str(failures[0])
    assert "deadlock" in message and "40P01" in message and "persisted after 1 attempts" in message
    assert "unreachable" not in message


def test_store_error_classifies_by_sqlstate(pg_engine) -> None:  # noqa: ANN001
    from sqlalchemy.exc import DBAPIError

    engine, _ = pg_engine
    with engine.connect() as conn:
        with pytest.raises(DBAPIError) as caught:
            conn.execute(text("DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '40001'; END $$"))
    assert isinstance(store_error(caught.value), LockHeld)
    assert "serialization failure" in str(store_error(caught.value))
    with engine.connect() as conn:
        with pytest.raises(DBAPIError) as caught:
            conn.execute(text("DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '57P01'; END $$"))
    assert store_error(caught.value).exit_code == 4
    with engine.connect() as conn:
        with pytest.raises(DBAPIError) as caught:
            conn.execute(text("SELECT no_such_column FROM games"))
    assert store_error(caught.value) is None  # a bug, not an expected failure


def test_ingest_takes_the_sqlite_write_lock_before_counting(tmp_path: Path, real_games: Path) -> None:
    """While another connection holds the write lock, an ingest waits (and times out as exit 4)
    instead of counting games that a concurrent writer is changing."""
    from nbalife.errors import Unreachable
    from nbalife.services.data import ingest
    from nbalife.store.migrate import open_store

    url = f"sqlite:///{tmp_path / 'nbalife.db'}"
    open_store(make_engine(url))
    holder = make_engine(url)
    waiting = make_engine(url, busy_timeout_s=0.2)
    with holder.connect() as conn:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        with pytest.raises(Unreachable):
            ingest(waiting, real_games, now=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc))
        conn.exec_driver_sql("ROLLBACK")
    result = ingest(waiting, real_games, now=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc))
    assert result.inserted == result.rows
