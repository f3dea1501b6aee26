"""``nbalife status``: one screen from what is recorded; quick, no torch or scipy."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from conftest import install_production, pin_now, store_seasons

from nbalife.store.abtests import insert_test

NOW = dt.datetime(2022, 1, 15, 12, tzinfo=dt.timezone.utc)


@pytest.fixture
def served(cli_db, engine, repo_data, tiny_model_set, tmp_path, monkeypatch):  # noqa: ANN001, ANN201
    """Production trained on 2020-21; the week before NOW of 2021-22 predicted and resolved; one drift check."""
    pin_now(monkeypatch, NOW - dt.timedelta(hours=1))
    _, new = store_seasons(engine, repo_data, ("nba_2020-21.csv", "nba_2021-22.csv"), NOW, until="2022-01-15")
    version = install_production(cli_db.home, engine, tiny_model_set)
    week = new[new["game_date"] >= "2022-01-09"]
    week.to_csv(tmp_path / "week.csv", index=False)
    assert cli_db("predict", "--input", tmp_path / "week.csv", "--output", tmp_path / "out.csv").exit_code == 0
    assert cli_db("outcomes", "sync").exit_code == 0
    pin_now(monkeypatch, NOW)
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


def write_record(logs: Path, job: str, code: int, ended: float, success: float | None, message: str = "") -> None:
    """A job's last run as scripts/nbalife-cron records it (the format of nbalife.ops.jobs)."""
    logs.mkdir(exist_ok=True)
    (logs / f"{job}.exit").write_text(f"{code} {int(ended)}\n")
    (logs / f"{job}.message").write_text(message + "\n")
    if success is not None:
        (logs / f"{job}.success").write_text(f"{int(success)}\n")


def test_last_runs_reads_the_wrappers_records_and_finds_stale_jobs(tmp_path: Path) -> None:
    from nbalife.ops.jobs import job_periods, last_runs, stale_jobs

    now = dt.datetime(2024, 1, 15, 12, tzinfo=dt.timezone.utc)
    at = now.timestamp()
    logs = tmp_path / "logs"
    write_record(logs, "outcomes", 0, at - 300, at - 300)
    write_record(logs, "metrics-export", 2, at - 60, at - 3 * 3600, "error: folder x does not exist")
    write_record(logs, "gc", 1, at - 6 * 86400, at - 6 * 86400)
    write_record(logs, "by-hand", 4, at - 99 * 86400, None, "error: database unreachable")
    (logs / "verify.exit").write_text("garbage\n")
    (logs / ".outcomes.exit.123").write_text("0 1\n")  # a record being written
    runs = last_runs(tmp_path)
    assert sorted(runs) == ["by-hand", "gc", "metrics-export", "outcomes", "verify"]
    assert runs["metrics-export"].exit_code == 2 and runs["metrics-export"].message == "error: folder x does not exist"
    assert runs["metrics-export"].period == dt.timedelta(minutes=5) and runs["gc"].period == dt.timedelta(days=7)
    assert runs["verify"].exit_code is None and runs["verify"].ended_at is None
    assert runs["by-hand"].period is None and not runs["by-hand"].stale(now)
    assert stale_jobs(runs, now) == ["metrics-export", "verify"]  # 3 h > 2 x 5 min; verify never completed
    assert stale_jobs(runs, now + dt.timedelta(days=9)) == ["outcomes", "metrics-export", "verify", "gc"]
    assert set(stale_jobs(runs, now, missing=True)) - set(runs) == {"metrics-check", "abtest-advance",
                                                                    "conformal-check", "dejavu-update", "drift-check",
                                                                    "lstm-retrain", "guard-check"}
    assert job_periods()["lstm-retrain"] == dt.timedelta(days=31) and job_periods()["metrics-check"] == \
        dt.timedelta(hours=1)
    assert last_runs(tmp_path / "nowhere") == {}


def test_status_shows_each_cron_jobs_last_exit_and_the_stale_ones(cli, home: Path, monkeypatch) -> None:  # noqa: ANN001
    pin_now(monkeypatch, NOW)
    at = NOW.timestamp()
    write_record(home / "logs", "outcomes", 0, at - 300, at - 300)
    write_record(home / "logs", "metrics-export", 2, at - 60, None, "error: --prometheus x: folder y does not exist")
    status = json.loads(cli("--json", "status").stdout)["cron"]
    jobs = {j["job"]: j for j in status["jobs"]}
    assert (jobs["outcomes"]["exit_code"], jobs["outcomes"]["stale"]) == (0, False)
    assert (jobs["metrics-export"]["exit_code"], jobs["metrics-export"]["stale"]) == (2, True)
    assert status["stale"] == ["metrics-export"] and "conformal-check" in status["never_ran"]
    text = cli("status").stdout
    assert "stale: metrics-export" in text and "folder y does not exist" in text
