"""Two real processes race for one job's run lock: a file lock on one SQLite home, a PostgreSQL
advisory lock between two homes (two hosts) sharing one store. The loser exits 3 with one line
and changes nothing; once the lock is free the same command does its work."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from nbalife.registry import Registry
from tests.conftest import REPO, install_production, run_nbalife

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
GAMES = 40
ENV = {"NBALIFE_CONFORMAL__MIN_SAMPLES": str(GAMES), "NBALIFE_REGISTRY__FREEZE": "none"}
JOB = ("conformal", ["conformal", "check", "--apply"])  # the lock name, and the command taking it first
HOLDER = """
import sys
from pathlib import Path
from nbalife.locks import run_lock
from nbalife.store.engine import make_engine
home, url, name, ready = sys.argv[1:]
with run_lock(name, home=Path(home), engine=make_engine(url)):
    Path(ready).touch()
    sys.stdin.read()  # held until the test closes our stdin
"""


def drifted_window(engine: Any, home: Path, repo_data: Path) -> None:
    """Production predicted ``GAMES`` real 2021-22 games a day ago; their results, stored with the
    move ``d24 - d18`` doubled, pull coverage far below target."""
    import numpy as np

    from nbalife.interchange import PATTERN_COLUMNS, load_games
    from nbalife.services.model_loading import load_model_set
    from nbalife.services.outcomes import sync
    from nbalife.services.predict import forecast
    from nbalife.store.games import upsert_games

    games = load_games(repo_data / "nba_2021-22.csv").iloc[:GAMES].copy()
    forecast(engine, load_model_set(Registry(home, engine)), list(games["game_id"]),
             games[PATTERN_COLUMNS].to_numpy(np.float32), now=NOW - dt.timedelta(days=1))
    games["d24"] = games["d18"] + 2 * (games["d24"] - games["d18"])
    with engine.begin() as conn:
        upsert_games(conn, games, NOW)
    assert sync(engine, now=NOW).resolved == GAMES


class Holder:
    """Process A: holds ``name``'s run lock for ``home`` on ``url`` until released."""

    def __init__(self, home: Path, url: str, name: str, ready: Path) -> None:
        self.process = subprocess.Popen([sys.executable, "-c", HOLDER, str(home), url, name, str(ready)],
                                        stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert self.process.poll() is None, self.process.stderr.read()
            if time.monotonic() > deadline:
                self.process.kill()
                pytest.fail("the lock holder never got its lock")
            time.sleep(0.05)

    def release(self) -> None:
        self.process.stdin.close()
        assert self.process.wait(timeout=30) == 0, self.process.stderr.read()


def job_events(engine: Any) -> list[str]:
    from nbalife.store.events import list_events

    with engine.connect() as conn:
        return [e.outcome for e in list_events(conn, kind="conformal_check")]


@pytest.fixture
def holder_home(db_url: str, home: Path, tmp_path: Path) -> Path:
    """Where process A runs: the same home on SQLite; another host's home on PostgreSQL."""
    if db_url.startswith("sqlite"):
        return home
    other = tmp_path / "other-host"
    other.mkdir()
    return other


def test_the_loser_of_a_two_process_race_exits_3_and_changes_nothing(
        db_url: str, engine: Any, home: Path, holder_home: Path, tmp_path: Path, tiny_model_set: Any,
        repo_data: Path) -> None:
    production = install_production(home, engine, tiny_model_set)
    drifted_window(engine, home, repo_data)
    registry = Registry(home, engine)
    versions = registry.versions()
    name, command = JOB
    job = ("--home", str(home), "--db", db_url, *command)

    holder = Holder(holder_home, db_url, name, tmp_path / "ready")
    try:
        blocked = run_nbalife(*job, env=ENV)
    finally:
        holder.release()
    assert blocked.returncode == 3, blocked.stderr
    assert blocked.stderr.count("\n") == 1 and "Traceback" not in blocked.stderr
    assert f"lock {name!r} is held by another run" in blocked.stderr
    assert (registry.versions(), registry.current_version()) == (versions, production)
    assert job_events(engine) == []

    done = run_nbalife(*job, env=ENV)
    assert done.returncode == 1, done.stderr  # coverage drift found: recalibrated and applied
    assert set(registry.versions()) == {*versions, "1.0.1"} and registry.current_version() == "1.0.1"
    assert job_events(engine) == ["drift"]


def test_a_lock_of_another_sqlite_home_does_not_block(home: Path, tmp_path: Path, tiny_model_set: Any) -> None:
    """File locks are per home: only a shared PostgreSQL store makes two homes one lock domain."""
    from nbalife.store.engine import make_engine
    from nbalife.store.migrate import open_store

    url = f"sqlite:///{home / 'nbalife.db'}"
    engine = make_engine(url)
    open_store(engine)
    install_production(home, engine, tiny_model_set)
    other = tmp_path / "other-home"
    other.mkdir()
    holder = Holder(other, url, JOB[0], tmp_path / "ready")
    try:
        done = run_nbalife("--home", str(home), "--db", url, *JOB[1], env=ENV)
    finally:
        holder.release()
    assert done.returncode == 0, done.stderr  # too few outcomes to judge: ok, and not blocked
    assert job_events(engine) == ["too_few"]
    assert (other / "locks" / f"{JOB[0]}.lock").is_file()
    engine.dispose()
