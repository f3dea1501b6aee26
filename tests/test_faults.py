"""``replay --fault``: spec parsing and checking, how the faults perturb a season, and the faults rows."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import given, settings as hsettings
from hypothesis import strategies as st

from nbalife.config import LeagueSettings
from nbalife.errors import BadInput
from nbalife.interchange import load_games
from nbalife.services.faults import KINDS, check_faults, last_fire, parse_fault, perturb

ZONE = LeagueSettings().timezone

POLICY = {"lstm.hidden_size": 4, "lstm.num_layers": 1, "lstm.epochs": 2, "lstm.patience": 1, "dejavu.k": 20}


@pytest.fixture(scope="module")
def season_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """A simulated history and a short season after it (2023-10-24 .. about 2023-11-14)."""
    from nbalife.interchange import write_games
    from nbalife.simulate import simulate_season

    folder = tmp_path_factory.mktemp("fault-files")
    return [write_games(simulate_season(500, season="2022-23", seed=1), folder / "history.csv"),
            write_games(simulate_season(150, season="2023-24", seed=2), folder / "season.csv")]


@pytest.fixture(scope="module")
def policy():  # noqa: ANN201
    from nbalife.config import load_settings

    return load_settings(None, environ={"NBALIFE_REGISTRY__FREEZE": "none"}, overrides=POLICY).settings


@pytest.mark.parametrize(("spec", "named"), [
    ("meteor@2023-10-30", "unknown kind 'meteor'"),
    ("bad-model@2024-06-01", "2024-06-01 is outside the replayed season 2023-10-24..2023-11-"),
    ("bias@2023-10-30:XXX", "unknown team 'XXX'"),
    ("job-stop@2023-10-30:brew-coffee", "unknown job 'brew-coffee'"),
    ("variance@2023-10-30", "variance needs a factor"),
    ("variance@2023-10-30:-1", "variance factor '-1'"),
    ("outcomes-stop@2023-10-30:soon", "days 'soon'"),
    ("bad-model@2023-10-30:now", "bad-model takes no parameter"),
    ("bad-model 2023-10-30", "expected KIND@YYYY-MM-DD[:PARAM]"),
])
def test_bad_fault_specs_are_exit_2_naming_the_spec(cli, season_files, spec: str, named: str) -> None:  # noqa: ANN001
    result = cli("replay", "--games", season_files[0], "--games", season_files[1], "--fault", spec)
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: --fault {spec!r}: ") and named in result.output
    assert "Traceback" not in result.output


@given(st.text(max_size=40))
@hsettings(max_examples=200, deadline=None)
def test_any_spec_text_parses_or_is_bad_input(text: str) -> None:
    try:
        fault = parse_fault(text)
    except BadInput as exc:
        assert str(exc).startswith("--fault ") and "\n" not in str(exc)
    else:
        assert fault.kind in KINDS


def test_variance_scales_the_last_six_minutes_and_bias_swaps_one_team(repo_data) -> None:  # noqa: ANN001
    season = load_games(repo_data / "nba_2022-23.csv")
    day = "2023-01-01"
    faults = check_faults([f"variance@{day}:1.3", f"bias@{day}:BOS"], season)
    changed = perturb(season, faults[:1])
    after = season["game_date"] >= day
    ratio = (changed.loc[after, "d24"] - changed.loc[after, "d18"]).var() / (
        season.loc[after, "d24"] - season.loc[after, "d18"]).var()
    assert 1.25 < ratio < 1.35
    assert changed.loc[~after].equals(season.loc[~after])
    assert (changed["d24"] - changed["final_diff"]).equals(season["d24"] - season["final_diff"])
    assert (changed.loc[after, [f"d{i}" for i in range(19)]].to_numpy() ==
            season.loc[after, [f"d{i}" for i in range(19)]].to_numpy()).all()
    swapped = perturb(season, faults[1:])
    theirs = after & ((season["home"] == "BOS") | (season["away"] == "BOS"))
    assert (swapped.loc[theirs, "d24"] == -season.loc[theirs, "d24"]).all()
    assert (swapped.loc[theirs, "final_diff"] == -season.loc[theirs, "final_diff"]).all()
    assert swapped.loc[~theirs].equals(season.loc[~theirs])


def test_wrapper_records_follow_the_schedule() -> None:
    at = dt.datetime(2023, 11, 7, 9, 30, tzinfo=dt.timezone.utc)  # 04:30 in New York
    assert last_fire("0 2 * * *", at, ZONE) == dt.datetime(2023, 11, 7, 7, 0, tzinfo=dt.timezone.utc)
    assert last_fire("*/10 * * * *", at, ZONE) == at
    assert last_fire("0 4 1 * *", at, ZONE) == dt.datetime(2023, 11, 1, 8, 0, tzinfo=dt.timezone.utc)


@pytest.mark.slow
def test_same_seed_gives_the_same_fault_rows_and_the_bad_model_is_rolled_back(season_files,  # noqa: ANN001
                                                                              policy) -> None:  # noqa: ANN001
    from nbalife.services.replay import replay

    faults = ["bad-model@2023-10-27", "outcomes-stop@2023-11-01:2", "job-stop@2023-10-26:conformal-check"]
    here = replay(season_files, settings=policy, faults=faults)
    again = replay(season_files, settings=policy, faults=faults)
    assert here.faults == again.faults and here.false_alarms is None
    rows = {row.kind: row for row in here.faults}
    bad = rows["bad-model"]
    assert bad.detected_by == "worse-production" and bad.action == "rollback" and bad.recovered_at == bad.detected_at
    assert bad.days_to_detect < 3 and bad.damage.mae > bad.damage.baseline_mae
    stop = rows["outcomes-stop"]
    assert stop.detected_by == "stale-results" and stop.days_to_detect < 1 and stop.recovered_at is not None
    job = rows["job-stop"]
    assert job.detected_by == "stale-jobs" and 1 <= job.days_to_detect < 1.2 and job.recovered_at is None


@pytest.mark.slow
def test_cli_replay_without_faults_reports_false_alarms(cli, season_files, tmp_path) -> None:  # noqa: ANN001
    import yaml

    policy_file = tmp_path / "policy.yaml"
    nested: dict[str, dict] = {"registry": {"freeze": None}}
    for key, value in POLICY.items():
        section, _, item = key.partition(".")
        nested.setdefault(section, {})[item] = value
    policy_file.write_text(yaml.safe_dump(nested))
    base = ["replay", "--games", season_files[0], "--games", season_files[1], "--policy", policy_file]
    quiet = json.loads(cli("--json", *base).stdout)
    assert quiet["faults"] == [] and quiet["false_alarms"] == []
    faulty = cli("--json", *base, "--fault", "outcomes-stop@2023-11-01:2")
    assert faulty.exit_code == 0, faulty.output
    (row,) = json.loads(faulty.stdout)["faults"]
    assert row["detected_by"] == "stale-results" and json.loads(faulty.stdout)["false_alarms"] is None
    assert set(row) >= {"kind", "injected_at", "detected_at", "detected_by", "games_to_detect", "days_to_detect",
                        "action", "recovered_at", "damage"}
    text = cli(*base, "--fault", "outcomes-stop@2023-11-01:2")
    assert "Faults" in text.stdout and "stale-results" in text.stdout

