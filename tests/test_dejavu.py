"""``nbalife dejavu update`` / ``query`` / ``stats``: the pattern database of production."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from nbalife.interchange import load_games
from nbalife.locks import run_lock
from nbalife.registry import Registry
from tests.conftest import install_production

TODAY = dt.datetime.now(dt.timezone.utc).date()
PATTERN = "0,2,4,4,1,-1,-3,0,2,5,7,7,9,8,6,8,10,12,11"


@pytest.fixture
def production(home: Path, engine, tiny_model_set) -> str:  # noqa: ANN001
    return install_production(home, engine, tiny_model_set)


def store_games(engine, repo_data: Path, n: int, first_day: dt.date):  # noqa: ANN001, ANN201
    """The first ``n`` real 2021-22 games, one a day from ``first_day``, in the store."""
    from nbalife.store.games import upsert_games

    games = load_games(repo_data / "nba_2021-22.csv")[:n].copy()
    games["game_date"] = [(first_day + dt.timedelta(days=i)).isoformat() for i in range(n)]
    with engine.begin() as conn:
        upsert_games(conn, games, dt.datetime.now(dt.timezone.utc))
    return games


def update(cli_db, *args: str):  # noqa: ANN001, ANN201
    result = cli_db("--json", "dejavu", "update", *args)
    return result, (json.loads(result.stdout) if result.stdout.strip() else None)


def test_update_adds_finished_games_only_and_keeps_the_window(cli_db, engine, home, production,
                                                             repo_data, tiny_model_set) -> None:
    before = json.loads(cli_db("--json", "dejavu", "stats").stdout)
    games = store_games(engine, repo_data, 30, TODAY - dt.timedelta(days=27))  # the last 3: today on
    result, report = update(cli_db)
    assert result.exit_code == 0, result.output
    assert report["cutoff"] == (TODAY - dt.timedelta(days=1)).isoformat()
    assert report["candidates"] == 27 and report["added"] == 27 and report["version"] == "1.1.0"
    assert not report["promoted"] and report["size_after"] == before["size"] + 27
    registry = Registry(home, engine)
    assert registry.current_version() == production
    info = registry.show("1.1.0")
    assert info.parent == production and info.kind.value == "dejavu_update"
    assert info.params["dejavu_update"]["added"] == 27
    changed = {f.name for f in info.files} - {f.name for f in registry.show(production).files}
    assert not changed
    from nbalife.forecast.dejavu import Dejavu

    stored = set(Dejavu.load(info.path).game_ids_.tolist())
    assert set(games["game_id"][:27]) <= stored and not set(games["game_id"][27:]) & stored

    window = cli_db("--json", "dejavu", "update", env={"NBALIFE_DEJAVU__MAX_SIZE": "100",
                                                        "NBALIFE_DEJAVU__AUTO_PROMOTE": "true"})
    report = json.loads(window.stdout)
    assert window.exit_code == 0 and report["size_after"] == 100 and report["promoted"]
    assert report["retired"] == ["1.1.0"]  # the earlier update of the same base waited: stale now
    assert registry.show("1.1.0").state == "retired"
    assert report["last_date"] == (TODAY - dt.timedelta(days=1)).isoformat()
    assert registry.current_version() == report["version"] == "1.2.0"
    stats = json.loads(cli_db("--json", "dejavu", "stats").stdout)
    assert stats["version"] == "1.2.0" and stats["size"] == 100 and sum(stats["seasons"].values()) == 100

    result, report = update(cli_db)
    assert result.exit_code == 0 and report["version"] is None and report["added"] == 0
    assert "nothing to do" in cli_db("dejavu", "update").stderr
    outcomes = [e["outcome"] for e in json.loads(cli_db("--json", "history", "--kind", "dejavu_update").stdout)]
    assert outcomes == ["nothing_to_do", "nothing_to_do", "promoted", "registered"]


def test_update_says_which_stale_candidates_it_retired(cli_db, engine, home, production, repo_data) -> None:
    from nbalife.store.abtests import insert_test

    store_games(engine, repo_data, 30, TODAY - dt.timedelta(days=30))
    for days in (20, 15, 10):  # three candidates of the same base, each making the one before stale
        result = cli_db("dejavu", "update", "--until", (TODAY - dt.timedelta(days=days)).isoformat())
        assert result.exit_code == 0, result.output
    flat = " ".join(result.stdout.split())
    assert "retired (stale candidates) │ 1.2.0" in flat or "retired (stale candidates) 1.2.0" in flat, result.stdout
    with engine.begin() as conn:  # an A/B test of 1.3.0 keeps it, stale or not
        insert_test(conn, test_id="ab-1", champion=production, candidate="1.3.0", mode="shadow", shares=(0.0,),
                    min_improvement=0.5, now=dt.datetime.now(dt.timezone.utc))
    result, report = update(cli_db)
    assert result.exit_code == 0 and report["version"] == "1.4.0" and report["retired"] == []
    registry = Registry(home, engine)
    assert [registry.show(v).state for v in ("1.1.0", "1.2.0", "1.3.0")] == ["retired", "retired", "candidate"]
    events = json.loads(cli_db("--json", "history", "--kind", "register").stdout)
    assert {e["version"]: e["details"]["retired"] for e in events}["1.3.0"] == ["1.2.0"]


def test_until_and_since_bound_the_games(cli_db, engine, production, repo_data) -> None:
    store_games(engine, repo_data, 20, TODAY - dt.timedelta(days=30))
    result, report = update(cli_db, "--since", (TODAY - dt.timedelta(days=25)).isoformat(),
                            "--until", (TODAY - dt.timedelta(days=20)).isoformat())
    assert result.exit_code == 0, result.output
    assert report["added"] == 6


def test_query_lists_analogs_and_stats(cli_db, production, tiny_model_set) -> None:
    result = cli_db("--json", "dejavu", "query", "--pattern", PATTERN, "--k", "5")
    assert result.exit_code == 0, result.output
    analogs = json.loads(result.stdout)["analogs"]
    assert len(analogs) == 5 and analogs == sorted(analogs, key=lambda a: a["distance"])
    assert {"game_id", "date", "home", "away", "distance", "future_move"} <= set(analogs[0])
    stats = json.loads(cli_db("--json", "dejavu", "stats").stdout)
    assert stats["first_date"] <= stats["last_date"] and set(stats["seasons"]) == {"2020-21"}


@pytest.mark.parametrize("args, named", [
    (["query", "--pattern", "0,1,2"], "--pattern"),
    (["query", "--pattern", PATTERN, "--k", "0"], "--k"),
    (["update", "--since", "2023-02-30"], "--since"),
    (["update", "--until", (TODAY + dt.timedelta(days=3)).isoformat()], "--until"),
])
def test_bad_input_exits_2_naming_the_option(cli_db, production, args: list[str], named: str) -> None:
    result = cli_db("dejavu", *args)
    assert result.exit_code == 2 and named in result.output


def test_no_production_and_lock_held(cli_db, home, engine, tiny_model_set) -> None:  # noqa: ANN001
    for args in (["update"], ["stats"], ["query", "--pattern", PATTERN]):
        result = cli_db("dejavu", *args)
        assert result.exit_code == 2 and "no production model" in result.stderr
    install_production(home, engine, tiny_model_set)
    with run_lock("dejavu", home=home, engine=engine):
        assert cli_db("dejavu", "update").exit_code == 3
