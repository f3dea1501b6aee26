"""``nbalife status``: one screen from what is recorded; quick, no torch or scipy."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from conftest import install_production

from nbalife.cli.runtime import Runtime
from nbalife.interchange import load_games
from nbalife.store.abtests import insert_test
from nbalife.store.games import upsert_games

NOW = dt.datetime(2022, 1, 15, 12, tzinfo=dt.timezone.utc)


@pytest.fixture
def served(cli_db, engine, repo_data, tiny_model_set, tmp_path, monkeypatch):  # noqa: ANN001, ANN201
    """Production trained on 2020-21; the week before NOW of 2021-22 predicted and resolved; one drift check."""
    monkeypatch.setattr(Runtime, "now", staticmethod(lambda: NOW - dt.timedelta(hours=1)))
    old, new = (load_games(repo_data / name) for name in ("nba_2020-21.csv", "nba_2021-22.csv"))
    new = new[new["game_date"] <= "2022-01-15"]
    with engine.begin() as conn:
        upsert_games(conn, old, NOW)
        upsert_games(conn, new, NOW)
    version = install_production(cli_db.home, engine, tiny_model_set)
    week = new[new["game_date"] >= "2022-01-09"]
    week.to_csv(tmp_path / "week.csv", index=False)
    assert cli_db("predict", "--input", tmp_path / "week.csv", "--output", tmp_path / "out.csv").exit_code == 0
    assert cli_db("outcomes", "sync").exit_code == 0
    monkeypatch.setattr(Runtime, "now", staticmethod(lambda: NOW))
    assert cli_db("drift", "check").exit_code == 0
    return version, week, new


def test_status_shows_production_jobs_figures_drift_and_triggers(cli_db, engine, served) -> None:
    version, week, new = served
    result = cli_db("--json", "status")
    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)
    assert status["production"] == version and status["abtest"] is None
    assert [(a["version"], a["kind"]) for a in status["lineage"]] == [(version, "manual")]
    jobs = {j["kind"]: j["outcome"] for j in status["jobs"]}
    assert jobs["drift_check"] == "ok" and jobs["promote"] == "ok"
    week_figures, month = status["windows"]
    assert (week_figures["days"], week_figures["n"], month["n"]) == (7, len(week), len(week))
    assert 2 < week_figures["mae"] < 8 and 2 < week_figures["persistence_mae"] < 8
    assert set(status["drift"]["features"]) == {"d18", "minute_change", "volatility"}
    assert status["lstm"]["games"] == len(new) and status["lstm"]["cutoff"] == "2021-05-16"
    fires = {t["name"]: t["fired"] for t in status["triggers"]}
    assert fires == {"time": False, "volume": True, "degradation": False, "drift": False}

    text = cli_db("status")
    assert text.exit_code == 0 and f"{version} (manual)" in text.stdout and "Retrain triggers now" in text.stdout

    with engine.begin() as conn:
        insert_test(conn, test_id="ab-1", champion=version, candidate="1.1.0", mode="split", shares=(0.1, 1.0),
                    min_improvement=0.5, now=NOW)
    test = json.loads(cli_db("--json", "status").stdout)["abtest"]
    assert (test["test_id"], test["champion"], test["candidate"], test["traffic"]) == ("ab-1", version, "1.1.0", 0.1)


def test_status_without_production(cli) -> None:
    result = cli("--json", "status")
    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)
    assert (status["production"], status["lineage"], status["triggers"]) == (None, [], [])
