"""``nbalife replay``: the season engine's cron times, reproducible actions, and bad input."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nbalife.errors import BadInput
from nbalife.ops.schedule import JOBS, fire_times, local_at
from tests.conftest import run_nbalife

NY = "America/New_York"  # league.timezone's default

# Tiny models; a policy that applies what it finds, with a short conformal window so the daily
# check has something to judge.
POLICY = {"lstm.hidden_size": 4, "lstm.num_layers": 1, "lstm.epochs": 2, "lstm.patience": 1, "dejavu.k": 20,
          "conformal.min_samples": 10, "conformal.window_days": 4, "conformal.auto_apply": True,
          "dejavu.auto_promote": True}


@pytest.fixture(scope="module")
def season_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """A simulated history (the first model's games) and a short season after it."""
    from nbalife.interchange import write_games
    from nbalife.simulate import simulate_season

    folder = tmp_path_factory.mktemp("replay-files")
    history = write_games(simulate_season(500, season="2022-23", seed=1), folder / "history.csv")
    season = write_games(simulate_season(90, season="2023-24", seed=2), folder / "season.csv")
    return [history, season]


@pytest.fixture(scope="module")
def policy():  # noqa: ANN201
    from nbalife.config import load_settings

    return load_settings(None, environ={"NBALIFE_REGISTRY__FREEZE": "none"}, overrides=POLICY).settings


def _actions(result) -> list[tuple]:  # noqa: ANN001
    return [(a.at, a.job, a.outcome, a.version, a.detail) for a in result.actions]


def test_same_files_and_seed_give_the_same_actions(season_files: list[Path], policy, db_url: str) -> None:  # noqa: ANN001
    from nbalife.services.replay import replay

    here = replay(season_files, settings=policy, db_url=db_url)
    again = replay(season_files, settings=policy)
    assert _actions(here) and _actions(here) == _actions(again)
    assert {a.job for a in here.actions} >= {"dejavu-update", "conformal-check"}
    assert here.total == again.total
    assert here.replay_games == 90 and here.train_games == 500
    assert sum(w.games for w in here.weeks) == 90 == here.total.games
    untouched = dataclasses.replace(here.total, coverage=here.total.nothing_coverage, width=here.total.nothing_width,
                                    mae=here.total.nothing_mae)
    assert here.total != untouched  # the policy's jobs changed the forecasts
    assert {"train", "predict", "ingest", "outcomes", "conformal-check", "metrics-check"} <= {j.job for j in here.jobs}


def _policy_file(path: Path) -> Path:
    import yaml

    nested: dict[str, dict] = {}
    for key, value in POLICY.items():
        section, _, item = key.partition(".")
        nested.setdefault(section, {})[item] = value
    path.write_text(yaml.safe_dump(nested))
    return path


def test_cli_reports_the_replay_as_json(cli, season_files: list[Path], tmp_path: Path) -> None:  # noqa: ANN001
    policy_file = _policy_file(tmp_path / "policy.yaml")
    result = cli("--json", "replay", "--games", season_files[0], "--games", season_files[1], "--policy",
                 policy_file, "--to", "2023-10-29")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["replay_first"] == "2023-10-24" and report["replay_last"] <= "2023-10-29"
    assert report["weeks"] and report["jobs"][0]["job"] == "train"
    assert [v["kind"] for v in report["versions"]] == ["recalibration", "Dejavu update", "LSTM retrain"]
    assert report["productions"][0][1] == report["first_production"]
    assert all(a["alerts"] >= a["days"] >= 1 for a in report["alerts"])
    assert not (cli.home / "nbalife.db").exists()  # the user's home is never touched


def test_replay_serves_the_forecasts_predict_serves(cli, season_files: list[Path], tmp_path: Path) -> None:  # noqa: ANN001
    """The same model set and games: ``predict --input`` in a home trained as the replay's first
    model, and the replay's forecasts (served by that version, and the first model untouched),
    agree game by game, team-strength context included."""
    import numpy as np
    import pandas as pd

    history, season = season_files
    _policy_file(cli.home / "config.yaml")
    replayed = tmp_path / "replayed.csv"
    done = cli("--json", "replay", "--games", history, "--games", season, "--policy", cli.home / "config.yaml",
               "--forecasts", replayed)
    assert done.exit_code == 0, done.output
    first = json.loads(done.stdout)["first_production"]
    assert cli("data", "ingest", history).exit_code == 0
    trained = cli("train", "--games", history, "--register", "--promote")
    assert trained.exit_code == 0, trained.output
    predicted = tmp_path / "predicted.csv"
    shown = cli("predict", "--input", season, "--output", predicted, "--no-log")
    assert shown.exit_code == 0, shown.output
    assert "not logged" in shown.output
    ours, theirs = pd.read_csv(predicted), pd.read_csv(replayed)
    assert set(ours["version"]) == {first} and len(ours) == len(theirs) == 90
    assert (ours["context"] == "ratings").mean() > 0.9  # the context is really there
    both = ours.merge(theirs, on="game_id", suffixes=("", "_replay"))
    for column in ("forecast", "lower", "upper"):
        np.testing.assert_allclose(both[column], both[f"{column}_first"], rtol=1e-9, atol=1e-9)
    served = both[both["version_replay"] == first]
    assert 0 < len(served) < len(both)  # the policy's recalibrations served the rest
    for column in ("forecast", "lower", "upper"):
        np.testing.assert_allclose(served[column], served[f"{column}_replay"], rtol=1e-9, atol=1e-9)
    assert (served["context"] == served["context_replay"]).all()
    with sqlite3.connect(cli.home / "nbalife.db") as conn:
        assert conn.execute("select count(*) from predictions").fetchone() == (0,)  # --no-log logged nothing


@pytest.mark.parametrize(("extra", "named"), [
    (["--from", "2023-11-05", "--to", "2023-11-01"], "--from 2023-11-05 is after --to 2023-11-01"),
    (["--from", "2023-13-01"], "2023-13-01"),
    (["--train-until", "2023-11-02", "--from", "2023-11-01"], "--train-until 2023-11-02"),
    (["--from", "2030-01-01"], "--from 2030-01-01"),
    (["--abtest-mode", "canary"], "canary"),
    (["--forecasts", "forecasts.txt"], "--forecasts forecasts.txt: unknown file type '.txt'"),
])
def test_bad_window_is_exit_2_naming_the_value(cli, season_files: list[Path], extra: list[str],  # noqa: ANN001
                                               named: str) -> None:
    result = cli("replay", "--games", season_files[0], "--games", season_files[1], *extra)
    assert result.exit_code == 2, result.output
    assert named in result.output


def test_bad_files_and_policy_are_exit_2(tmp_path: Path, season_files: list[Path]) -> None:
    import pandas as pd

    broken = tmp_path / "broken.csv"
    frame = pd.read_csv(season_files[1], dtype=str)
    frame.loc[3, "game_date"] = "2023-02-30"
    frame.to_csv(broken, index=False)
    done = run_nbalife("--home", str(tmp_path), "replay", "--games", str(season_files[0]), "--games", str(broken))
    assert done.returncode == 2 and str(broken) in done.stderr and "Traceback" not in done.stderr

    missing = run_nbalife("--home", str(tmp_path), "replay", "--games", str(tmp_path / "nope.csv"))
    assert missing.returncode == 2 and "nope.csv" in missing.stderr

    policy = tmp_path / "policy.yaml"
    policy.write_text("conformal:\n  target_coverage: 2\n")
    bad = run_nbalife("--home", str(tmp_path), "replay", "--games", str(season_files[0]), "--policy", str(policy))
    assert bad.returncode == 2 and "target_coverage" in bad.stderr

    one_season = run_nbalife("--home", str(tmp_path), "replay", "--games", str(season_files[1]))
    assert one_season.returncode == 2 and "--from" in one_season.stderr


def test_a_game_in_two_files_is_bad_input(season_files: list[Path]) -> None:
    from nbalife.services.replay import load_season_files

    with pytest.raises(BadInput, match="appears in more than one row"):
        load_season_files([season_files[1], season_files[1]])


@given(st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 31)))
def test_cron_times_of_the_schedule(day: dt.date) -> None:
    by_name = {job.name: job.when for job in JOBS}
    assert fire_times(by_name["conformal-check"], day, NY) == [local_at(day, dt.time(2, 0), NY)]
    assert fire_times(by_name["dejavu-update"], day, NY) == ([local_at(day, dt.time(3, 0), NY)] if day.weekday() == 0 else [])
    assert fire_times(by_name["lstm-retrain"], day, NY) == ([local_at(day, dt.time(4, 0), NY)] if day.day == 1 else [])
    assert len(fire_times(by_name["abtest-advance"], day, NY)) == 96
    assert len(fire_times(by_name["metrics-check"], day, NY)) == 24
    assert fire_times("0 12 13 * 5", day, NY) == (  # cron's rule: day of month OR day of week
        [local_at(day, dt.time(12, 0), NY)] if day.day == 13 or day.weekday() == 4 else [])
    assert fire_times("5-9/2 0 * * *", day, "UTC") == [
        dt.datetime.combine(day, dt.time(0, m), dt.timezone.utc) for m in (5, 7, 9)]


@pytest.mark.parametrize("expression", ["61 * * * *", "* * *", "a * * * *", "*/0 * * * *", "0 0 0 * *"])
def test_bad_cron_expression_is_bad_input(expression: str) -> None:
    with pytest.raises(BadInput, match="cron"):
        fire_times(expression, dt.date(2024, 1, 1), NY)


def test_a_version_waiting_many_days_is_counted_once_and_alerts_by_cause() -> None:
    """A recalibration a daily check reports for five days is one version registered and waiting;
    a Dejavu update that became production is promoted; alerts count per cause and league day."""
    from nbalife.services.replay import alert_counts, version_counts
    from nbalife.services.season import Action

    day = dt.datetime(2023, 1, 10, 7, tzinfo=dt.timezone.utc)
    actions = [Action(day + dt.timedelta(days=i), "conformal-check", "registered", "1.0.1", "", ("coverage",))
               for i in range(5)]
    actions += [Action(day, "dejavu-update", "promoted", "1.1.0", ""),
                Action(day, "lstm-retrain", "rejected", "1.0.0", ""),
                Action(day.replace(hour=4, minute=59), "metrics-check", "alert", None, "", ("n", "coverage")),
                Action(day.replace(hour=5), "metrics-check", "alert", None, "", ("n",))]  # 23:59 and 00:00 in New York
    rows = {v.kind: v for v in version_counts(actions, [(day, "1.0.0"), (day, "1.1.0")])}
    assert dataclasses.astuple(rows["recalibration"]) == ("recalibration", 1, 0, 1, 0)
    assert dataclasses.astuple(rows["Dejavu update"]) == ("Dejavu update", 1, 1, 0, 0)
    assert dataclasses.astuple(rows["LSTM retrain"]) == ("LSTM retrain", 0, 0, 0, 1)
    alerts = {(a.job, a.cause): (a.alerts, a.days) for a in alert_counts(actions, NY)}
    assert alerts == {("conformal-check", "coverage"): (5, 5), ("metrics-check", "coverage"): (1, 1),
                      ("metrics-check", "n"): (2, 2)}
    in_la = {(a.job, a.cause): (a.alerts, a.days) for a in alert_counts(actions, "America/Los_Angeles")}
    assert in_la[("metrics-check", "n")] == (2, 1)  # 20:59 and 21:00 in Los Angeles: one league day
