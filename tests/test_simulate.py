"""The season simulator: calibration against real NBA figures, oracle, drift, format."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nbalife.errors import BadInput
from nbalife.interchange import DIFF_COLUMNS, GAME_COLUMNS, MAX_MINUTE_CHANGE, load_games, validate, write_games
from nbalife.forecast.ratings import TeamRatings
from nbalife.simulate import (
    ERAS,
    TEAMS,
    Drift,
    SeasonStats,
    SimulationParams,
    era_params,
    parse_drift,
    simulate_season,
)

REAL = Path(__file__).resolve().parents[1] / "data" / "nba"
RECENT_FILES = ["nba_2020-21.csv", "nba_2021-22.csv", "nba_2022-23.csv"]


@pytest.fixture(scope="module")
def simulated() -> tuple[pd.DataFrame, SeasonStats]:
    return simulate_season(5000, seed=7, return_stats=True)


@pytest.fixture(scope="module")
def games(simulated: tuple[pd.DataFrame, SeasonStats]) -> pd.DataFrame:
    return simulated[0]


@pytest.fixture(scope="module")
def old_era() -> pd.DataFrame:
    return simulate_season(5000, seed=7, era="2015")


def last_six(frame: pd.DataFrame) -> pd.Series:
    return frame["d24"] - frame["d18"]


def halves(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    middle = len(frame) // 2
    return frame.iloc[:middle], frame.iloc[middle:]


FIGURES = {
    "mean_d24": lambda f: f["d24"].mean(),
    "sd_d24": lambda f: f["d24"].std(),
    "sd_d18": lambda f: f["d18"].std(),
    "sd_last_six": lambda f: last_six(f).std(),
    "persistence_mae": lambda f: last_six(f).abs().mean(),
    "sd_final": lambda f: f["final_diff"].std(),
    "mean_final": lambda f: f["final_diff"].mean(),
    "home_wins": lambda f: (f["final_diff"] > 0).mean(),
}


# --- calibration. Recent era (real 2020-21 .. 2022-23): mean d24 +0.65 .. +1.34, SD 11.3 .. 11.7,
# SD d18 10.1 .. 10.4, SD d24-d18 5.85 .. 6.12, MAE 4.66 .. 4.88, final SD 13.7 .. 15.3,
# final mean +0.9 .. +2.5, home wins 54.4 .. 58.0%. 2015 era (real 2015-16 sample): mean d24
# +1.5, SD 10.2, SD d18 9.2, SD d24-d18 5.6, MAE 4.51, final SD 13.0, final mean +2.0.

@pytest.mark.parametrize(("figure", "low", "high"), [
    ("mean_d24", 0.3, 2.0), ("sd_d24", 10.9, 12.2), ("sd_d18", 9.6, 10.8),
    ("sd_last_six", 5.8, 6.4), ("persistence_mae", 4.6, 5.05), ("sd_final", 14.0, 16.0),
    ("mean_final", 1.0, 3.0), ("home_wins", 0.53, 0.60),
])
def test_calibration_recent(games: pd.DataFrame, figure: str, low: float, high: float) -> None:
    assert low <= FIGURES[figure](games) <= high


@pytest.mark.parametrize(("figure", "low", "high"), [
    ("mean_d24", 0.3, 2.5), ("sd_d24", 9.7, 11.0), ("sd_d18", 8.6, 9.9),
    ("sd_last_six", 5.3, 6.0), ("persistence_mae", 4.25, 4.8), ("sd_final", 12.2, 14.0),
    ("mean_final", 1.0, 3.0), ("home_wins", 0.52, 0.60),
])
def test_calibration_2015(old_era: pd.DataFrame, figure: str, low: float, high: float) -> None:
    assert low <= FIGURES[figure](old_era) <= high


def test_possessions_and_points(simulated: tuple[pd.DataFrame, SeasonStats]) -> None:
    stats = simulated[1]
    assert 97.0 <= stats.possessions_per_48 <= 101.0
    assert 1.12 <= stats.points_per_possession <= 1.16
    assert 0.01 <= stats.overtime_share <= 0.08


@pytest.mark.parametrize("figure", ["sd_d24", "sd_last_six", "persistence_mae", "sd_final"])
def test_each_era_is_closer_to_its_own_real_seasons(games: pd.DataFrame, old_era: pd.DataFrame,
                                                    figure: str) -> None:
    recent = pd.concat([pd.read_csv(REAL / name) for name in RECENT_FILES], ignore_index=True)
    early = pd.read_csv(REAL / "nba_2015_16_early.csv")
    measure = FIGURES[figure]
    assert measure(games) == pytest.approx(measure(recent), rel=0.05)
    assert measure(old_era) == pytest.approx(measure(early), rel=0.05)
    assert abs(measure(games) - measure(recent)) < abs(measure(old_era) - measure(recent))


def test_ratings_of_simulated_games_predict_like_real_ones() -> None:
    """Team ratings fitted on 2,307 simulated games, as of each later game's date, explain a
    share of the next 1,230 final margins' variance like real ratings (2022-23: 9.4%)."""
    shares = []
    for seed in (1, 2):
        frame = simulate_season(3537, seed=seed)
        train, test = frame.iloc[:2307], frame.iloc[2307:]
        edge = TeamRatings().fit(train).pregame(test, history=train).edge
        final = test["final_diff"].to_numpy(float)
        shares.append(1 - np.mean((final - edge) ** 2) / np.var(final))
    assert 0.05 < np.mean(shares) < 0.15


def test_strength_counts_more_in_the_first_half() -> None:
    frame = simulate_season(3000, seed=4, params=era_params("recent", form_sd=0.0,
                                                            lead_reversion=0.0))
    edge = frame["oracle_d24"] - frame["d18"]  # six first-half minutes of the true edge
    second_half = frame["final_diff"] - frame["d24"]
    slope_first = np.polyfit(edge * 4, frame["d24"], 1)[0]  # 24 minutes = 4 x 6
    slope_second = np.polyfit(edge * 4, second_half, 1)[0]
    assert slope_first == pytest.approx(1.0, abs=0.15)
    assert slope_second < slope_first


# --- the oracle

@pytest.fixture(params=["games", "old_era"])
def either_era(request: pytest.FixtureRequest) -> pd.DataFrame:
    return request.getfixturevalue(request.param)


def test_oracle_beats_persistence_and_is_unbiased(either_era: pd.DataFrame) -> None:
    games = either_era
    error = games["d24"] - games["oracle_d24"]
    assert error.abs().mean() < last_six(games).abs().mean()
    assert abs(error.mean()) < 0.3


def test_oracle_predicts_the_last_six_minutes(either_era: pd.DataFrame) -> None:
    games = either_era
    expected = games["oracle_d24"] - games["d18"]
    slope = np.polyfit(expected, last_six(games), 1)[0]
    assert 0.7 < slope < 1.3


# --- format

def test_columns_and_types(games: pd.DataFrame) -> None:
    assert list(games.columns) == [*GAME_COLUMNS, "oracle_d24"]
    assert all(games[c].dtype == np.int64 for c in [*DIFF_COLUMNS, "final_diff"])
    assert games["oracle_d24"].dtype == np.float64
    assert games["game_id"].is_unique
    assert (games["d0"] == 0).all()
    assert (games["final_diff"] != 0).all()  # ties after 48 minutes play overtime
    assert (games["home"] != games["away"]).all()
    assert set(games["home"]) | set(games["away"]) == set(TEAMS) and len(TEAMS) == 30


def test_passes_the_ingest_validator(games: pd.DataFrame) -> None:
    valid, rejections = validate(games.astype(str))
    assert rejections == []
    assert len(valid) == len(games)


def test_extreme_drift_stays_valid() -> None:
    frame = simulate_season(1000, seed=2, drift=Drift(at=0.0, pace=2.0, variance=3.0, three_rate=0.3))
    steps = frame[DIFF_COLUMNS].diff(axis=1).abs().max().max()
    assert steps <= MAX_MINUTE_CHANGE
    assert validate(frame.astype(str))[1] == []


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_round_trip(tmp_path: Path, suffix: str) -> None:
    frame = simulate_season(200, seed=3)
    loaded = load_games(write_games(frame, tmp_path / f"season{suffix}"))
    for column in ["game_id", "season", "game_date", "home", "away"]:
        assert loaded[column].tolist() == frame[column].tolist()
    assert (loaded[DIFF_COLUMNS] == frame[DIFF_COLUMNS]).all().all()
    assert loaded["final_diff"].astype("int64").tolist() == frame["final_diff"].tolist()
    assert loaded["oracle_d24"].astype(float).tolist() == frame["oracle_d24"].tolist()


def test_dates(games: pd.DataFrame) -> None:
    dates = pd.to_datetime(games["game_date"])
    assert games["game_date"].iloc[0] == "2023-10-24"
    assert dates.is_monotonic_increasing
    per_day = dates.value_counts()
    assert per_day.max() <= 15
    assert 6.0 <= len(games) / ((dates.max() - dates.min()).days + 1) <= 9.0
    later = simulate_season(10, season="2024-25", start_date=dt.date(2024, 11, 2))
    assert later["game_date"].iloc[0] == "2024-11-02"


# --- determinism

def test_same_seed_same_season() -> None:
    pd.testing.assert_frame_equal(simulate_season(300, seed=5), simulate_season(300, seed=5))


def test_other_seed_or_season_differs() -> None:
    base = simulate_season(300, seed=5)
    assert not base[DIFF_COLUMNS].equals(simulate_season(300, seed=6)[DIFF_COLUMNS])
    other = simulate_season(300, seed=5, season="2024-25")
    assert set(other["game_id"]).isdisjoint(base["game_id"])


def test_neutral_drift_changes_nothing() -> None:
    pd.testing.assert_frame_equal(simulate_season(300, seed=5, drift=Drift(at=0.0)),
                                  simulate_season(300, seed=5))


# --- drift

def test_variance_drift_widens_the_last_six_minutes() -> None:
    first, second = halves(simulate_season(8000, seed=11, drift=Drift(at=0.5, variance=1.5)))
    assert last_six(second).std() >= 1.15 * last_six(first).std()
    error = second["d24"] - second["oracle_d24"]
    assert abs(error.mean()) < 0.3  # the oracle knows the drift


def test_low_variance_drift_narrows() -> None:
    first, second = halves(simulate_season(4000, seed=12, drift=Drift(at=0.5, variance=0.5)))
    assert last_six(second).std() <= 0.85 * last_six(first).std()


def test_home_advantage_drift_shifts_the_mean() -> None:
    first, second = halves(simulate_season(6000, seed=13, drift=Drift(at=0.5, home_advantage=6.0)))
    assert second["d24"].mean() - first["d24"].mean() >= 1.5
    assert second["final_diff"].mean() - first["final_diff"].mean() >= 3.0


def test_pace_drift_scores_more_often() -> None:
    _, stats = simulate_season(400, seed=14, drift=Drift(at=0.0, pace=1.2), return_stats=True)
    assert stats.possessions_per_48 == pytest.approx(1.2 * 99, rel=0.03)


# --- parsing and bad input

def test_parse_drift() -> None:
    assert parse_drift("at=0.5,pace=1.1,variance=1.3,home_advantage=0,three_rate=0.05") == Drift(
        at=0.5, pace=1.1, variance=1.3, home_advantage=0.0, three_rate=0.05)
    assert parse_drift(" at = 0.25 , variance=2 ") == Drift(at=0.25, variance=2.0)
    assert parse_drift("") == Drift()


@pytest.mark.parametrize(("text", "named"), [
    ("speed=2", ["speed"]),
    ("pace=fast", ["pace", "fast"]),
    ("variance=-1", ["variance", "-1"]),
    ("at=1.5", ["at", "1.5"]),
    ("home_advantage=nan", ["home_advantage", "nan"]),
    ("pace", ["pace"]),
    ("pace=1.1,pace=1.2", ["pace"]),
])
def test_parse_drift_rejects(text: str, named: list[str]) -> None:
    with pytest.raises(BadInput) as caught:
        parse_drift(text)
    message = str(caught.value)
    assert caught.value.exit_code == 2 and "\n" not in message
    assert all(word in message for word in named)


@pytest.mark.parametrize(("kwargs", "named"), [
    ({"n_games": 0}, "0"),
    ({"n_games": -5}, "-5"),
    ({"n_games": 2.5}, "2.5"),
    ({"n_games": 10**9}, "1000000000"),
    ({"n_games": 10, "season": "2023"}, "2023"),
    ({"n_games": 10, "season": "2023-25"}, "2023-25"),
    ({"n_games": 10, "seed": -1}, "-1"),
    ({"n_games": 10, "start_date": "2023-10-24"}, "2023-10-24"),
    ({"n_games": 1230, "start_date": dt.date(9999, 12, 1)}, "run past 9999-12-31"),
])
def test_bad_input(kwargs: dict, named: str) -> None:
    n_games = kwargs.pop("n_games")
    with pytest.raises(BadInput, match=named):
        simulate_season(n_games, **kwargs)


def test_eras() -> None:
    assert set(ERAS) == {"recent", "2015"}
    assert era_params("recent") == SimulationParams()
    assert era_params("2015", team_sd=3.0).team_sd == 3.0
    assert era_params("2015").lead_reversion > era_params("recent").lead_reversion
    pd.testing.assert_frame_equal(simulate_season(200, seed=1, era="2015"),
                                  simulate_season(200, seed=1, params=ERAS["2015"]))
    assert not simulate_season(200, seed=1)[DIFF_COLUMNS].equals(
        simulate_season(200, seed=1, era="2015")[DIFF_COLUMNS])
    with pytest.raises(BadInput, match="era '1999' is not known"):
        simulate_season(10, era="1999")


def test_cli_era(cli, tmp_path: Path) -> None:  # noqa: ANN001 (the CliRunner fixture)
    out = tmp_path / "old.csv"
    result = cli("--json", "data", "simulate", "--games", "200", "--era", "2015", "--out", out)
    assert result.exit_code == 0, result.output
    assert '"era": "2015"' in result.stdout
    pd.testing.assert_frame_equal(
        load_games(out)[DIFF_COLUMNS].astype("int64"),
        simulate_season(200, era="2015")[DIFF_COLUMNS])
    bad = cli("data", "simulate", "--games", "10", "--era", "1999", "--out", tmp_path / "x.csv")
    assert bad.exit_code == 2 and "1999" in bad.output
    assert not (tmp_path / "x.csv").exists()


def test_bad_params() -> None:
    with pytest.raises(BadInput, match="strength_persistence"):
        SimulationParams(strength_persistence=1.5)
    with pytest.raises(BadInput, match="team_sd"):
        SimulationParams(team_sd=-1.0)
    with pytest.raises(BadInput, match="three_rate"):
        simulate_season(10, params=SimulationParams(three_rate=0.8), drift=Drift(three_rate=0.3))
