"""Team ratings as of a date: leakage, the plain-loop reference, unknown teams, fit, persistence."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbalife.errors import BadInput
from nbalife.forecast.artifacts import NotFitted
from nbalife.forecast.ratings import JSON_FILE, TeamRatings
from nbalife.interchange import load_games

DATA = Path(__file__).resolve().parents[2] / "data" / "nba"
TEAMS = ["ATL", "BOS", "CHI", "DAL", "GSW"]
PARAMS = {"update_rate": 0.05, "carry_over": 0.6, "home_rate": 0.01, "home_prior": 2.0}


def ratings(update_rate: float = 0.05, carry_over: float = 0.6, home_rate: float = 0.01,
            home_prior: float = 2.0) -> TeamRatings:
    """A fitted instance with chosen parameters (through ``from_dict``)."""
    return TeamRatings.from_dict({
        "format": "nbalife.ratings", "params": TeamRatings().get_params(),
        "update_rate": update_rate, "carry_over": carry_over, "home_rate": home_rate,
        "home_prior": home_prior, "fit_mse": 0.0, "n_games": 0})


def schedule(rows: list[tuple[int, int, int, float | None]]) -> pd.DataFrame:
    """Games from ``(day, home index, away offset, final or None)``; 8 days make a season."""
    day = np.array([r[0] for r in rows], dtype=np.int64)
    home = [TEAMS[r[1] % len(TEAMS)] for r in rows]
    away = [TEAMS[(r[1] + 1 + r[2] % (len(TEAMS) - 1)) % len(TEAMS)] for r in rows]
    first = 2020 + day // 8
    return pd.DataFrame({
        "game_id": [f"G{i:04d}" for i in range(len(rows))],
        "season": [f"{y}-{(y + 1) % 100:02d}" for y in first],
        "game_date": (np.datetime64("2020-10-20") + day).astype(str),
        "home": home, "away": away,
        "final_diff": [np.nan if r[3] is None else float(r[3]) for r in rows],
    })


def reference(games: pd.DataFrame, p: dict[str, float]) -> list[tuple[float, float, float, bool, bool]]:
    """The rule written as a plain loop over dates and games (no numpy)."""
    rating: dict[str, float] = {}
    home_adv, season = p["home_prior"], ""
    out: dict[int, tuple[float, float, float, bool, bool]] = {}
    for date in sorted(set(games["game_date"])):
        today = games[games["game_date"] == date]
        for i, g in today.iterrows():
            shrink = p["carry_over"] if season and g["season"] > season else 1.0
            out[i] = (rating.get(g["home"], 0.0) * shrink, rating.get(g["away"], 0.0) * shrink,
                      home_adv, g["home"] in rating, g["away"] in rating)
        done = today[today["final_diff"].notna()]
        if done.empty:
            continue
        if season and max(done["season"]) > season:
            rating = {team: value * p["carry_over"] for team, value in rating.items()}
        season = max(season, max(done["season"]))
        moves: dict[str, float] = {}
        errors = 0.0
        for _, g in done.iterrows():
            error = g["final_diff"] - (rating.get(g["home"], 0.0) - rating.get(g["away"], 0.0)
                                       + home_adv)
            moves[g["home"]] = moves.get(g["home"], 0.0) + p["update_rate"] * error
            moves[g["away"]] = moves.get(g["away"], 0.0) - p["update_rate"] * error
            errors += error
        for team, move in moves.items():
            rating[team] = rating.get(team, 0.0) + move
        home_adv += p["home_rate"] * errors
    return [out[i] for i in range(len(games))]


def as_tuples(frame: pd.DataFrame, model: TeamRatings, history: pd.DataFrame | None = None):
    pre = model.pregame(frame, history=history)
    return list(zip(pre.home_rating, pre.away_rating, pre.home_adv, pre.known_home,
                    pre.known_away, strict=True))


game_rows = st.lists(
    st.tuples(st.integers(0, 23), st.integers(0, 4), st.integers(0, 3),
              st.one_of(st.none(), st.integers(-30, 30).filter(bool).map(float))),
    min_size=1, max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(game_rows)
def test_vectorised_pass_equals_the_plain_loop(rows) -> None:
    games = schedule(rows)
    got = as_tuples(games, ratings(**PARAMS))
    want = reference(games, PARAMS)
    assert [g[3:] for g in got] == [w[3:] for w in want]
    np.testing.assert_allclose([g[:3] for g in got], [w[:3] for w in want], atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(game_rows, st.data())
def test_no_leakage_from_later_or_same_day_games(rows, data) -> None:
    games = schedule(rows)
    model = ratings(**PARAMS)
    i = data.draw(st.integers(0, len(games) - 1))
    day = games["game_date"].iloc[i]
    before = as_tuples(games, model)[i]
    changed = games.copy()
    later = changed["game_date"] >= day  # its own result, same-day games and later ones
    changed.loc[later, "final_diff"] = data.draw(st.integers(-40, 40).filter(bool))
    extra = schedule([(23, 0, 1, 12.0), (23, 2, 0, -5.0)])
    extra["game_id"] = ["X1", "X2"]
    extra = extra[extra["game_date"] >= day]
    assert as_tuples(pd.concat([changed, extra], ignore_index=True), model)[i] == before


@settings(max_examples=60, deadline=None)
@given(game_rows, st.data())
def test_an_earlier_result_changes_the_forecast(rows, data) -> None:
    games = schedule(rows)
    earlier = [j for j in range(len(games)) for i in range(len(games))
               if games["game_date"].iloc[j] < games["game_date"].iloc[i]
               and not np.isnan(games["final_diff"].iloc[j])]
    if not earlier:
        return
    j = data.draw(st.sampled_from(earlier))
    model = ratings(**PARAMS)
    base = model.pregame(games)
    changed = games.copy()
    changed.loc[j, "final_diff"] += 10
    moved = model.pregame(changed)
    later = (games["game_date"] > games["game_date"].iloc[j]).to_numpy()
    earlier_or_same = ~later
    assert np.array_equal(base.edge[earlier_or_same], moved.edge[earlier_or_same])
    assert not np.allclose(base.home_adv[later], moved.home_adv[later])  # home_rate > 0
    teams = {games["home"].iloc[j], games["away"].iloc[j]}
    next_game = np.flatnonzero(later & (games["home"].isin(teams) | games["away"].isin(teams)))
    if next_game.size:
        k = next_game[0]
        rating_moved = (base.home_rating[k] != moved.home_rating[k]
                        or base.away_rating[k] != moved.away_rating[k])
        assert rating_moved


@settings(max_examples=60, deadline=None)
@given(game_rows, st.integers(0, 22))
def test_a_checkpoint_then_later_results_equal_the_whole_pass(rows, cut) -> None:
    games = schedule(rows)
    dates = games["game_date"].to_numpy(str)
    cut_day = str(np.datetime64("2020-10-20") + cut)
    past, later = games[dates <= cut_day], games[dates > cut_day].reset_index(drop=True)
    if past["final_diff"].isna().all() or later.empty:
        return
    model = ratings(**PARAMS).checkpoint(past)
    point = model.checkpoint_
    result_days = sorted(set(past.loc[past["final_diff"].notna(), "game_date"]))
    if len(result_days) < 2:
        assert point is None
        return
    assert point["day"] == result_days[-2]  # the last result day may be incomplete
    kept = past.loc[past["game_date"] <= point["day"], "final_diff"].dropna()
    assert point["totals"] == [len(kept), float(kept.sum()), float((kept ** 2).sum())]
    loaded = TeamRatings.from_dict(json.loads(json.dumps(model.to_dict())))
    asked = later[later["game_date"] > point["day"]].reset_index(drop=True)
    if asked.empty:
        return
    whole = as_tuples(asked, model, history=games)
    start = loaded.pregame(asked, history=games, start=True)  # results up to the day skipped
    got = list(zip(start.home_rating, start.away_rating, start.home_adv, start.known_home,
                   start.known_away, strict=True))
    assert [g[3:] for g in got] == [w[3:] for w in whole]
    np.testing.assert_allclose([g[:3] for g in got], [w[:3] for w in whole], atol=1e-9)


def test_a_checkpoint_needs_games_after_its_day_and_a_sound_file(tmp_path: Path) -> None:
    games = schedule([(0, 0, 0, 10.0), (1, 1, 0, -4.0), (2, 0, 1, None)])
    model = ratings(**PARAMS).checkpoint(games)
    assert model.checkpoint_["day"] == "2020-10-20"
    assert model.pregame(games.iloc[1:], start=True).known_home.tolist() == [True, True]
    with pytest.raises(BadInput, match="on or before its day 2020-10-20"):
        model.pregame(games, start=True)
    one_day = ratings(**PARAMS).checkpoint(games.iloc[:1])
    assert one_day.checkpoint_ is None and "checkpoint" not in one_day.to_dict()
    with pytest.raises(BadInput, match="none kept"):
        one_day.pregame(games.iloc[2:], start=True)
    with pytest.raises(NotFitted):
        ratings(**PARAMS).pregame(games.iloc[2:], start=True)
    data = model.to_dict()
    data["checkpoint"]["ratings"]["ATL"] = "high"
    (tmp_path / JSON_FILE).write_text(json.dumps(data))
    with pytest.raises(BadInput, match="checkpoint"):
        TeamRatings.load(tmp_path)


def test_history_and_the_file_count_once_and_the_store_counts() -> None:
    games = schedule([(0, 0, 0, 10.0), (1, 1, 0, -4.0), (2, 0, 1, 3.0), (3, 1, 1, None)])
    model = ratings(**PARAMS)
    whole = model.pregame(games)
    split = model.pregame(games.iloc[2:], history=games.iloc[:2])
    np.testing.assert_array_equal(split.edge, whole.edge[2:])
    twice = model.pregame(games, history=games)  # a game in both counts once
    np.testing.assert_array_equal(twice.edge, whole.edge)
    alone = model.pregame(games.iloc[2:])
    assert alone.edge[0] != whole.edge[2]


def test_unknown_team_gets_the_mean_and_a_flag() -> None:
    games = schedule([(0, 0, 0, 10.0), (1, 0, 0, 8.0)])  # ATL vs BOS twice
    newcomer = pd.DataFrame({"game_id": ["N1"], "season": ["2020-21"], "game_date": ["2020-10-22"],
                             "home": ["ATL"], "away": ["NEW"]})
    pre = ratings(**PARAMS).pregame(newcomer, history=games)
    assert pre.known_home.tolist() == [True] and pre.known_away.tolist() == [False]
    assert pre.away_rating[0] == 0.0 and pre.home_rating[0] > 0
    first = ratings(**PARAMS).pregame(games)
    assert first.known_home.tolist() == [False, True]
    assert first.edge[0] == pytest.approx(PARAMS["home_prior"])


def test_a_new_season_shrinks_toward_the_mean() -> None:
    games = schedule([(0, 0, 0, 20.0), (9, 0, 0, None)])  # day 9 is the next season
    pre = ratings(**PARAMS).pregame(games)
    first_update = PARAMS["update_rate"] * (20.0 - PARAMS["home_prior"])
    assert pre.home_rating[1] == pytest.approx(first_update * PARAMS["carry_over"])
    assert pre.away_rating[1] == pytest.approx(-first_update * PARAMS["carry_over"])


@pytest.fixture(scope="module")
def real() -> dict[str, pd.DataFrame]:
    names = {"2020-21": "nba_2020-21.csv", "2021-22": "nba_2021-22.csv",
             "2022-23": "nba_2022-23.csv"}
    return {season: load_games(DATA / name) for season, name in names.items()}


def test_fitted_ratings_predict_later_final_margins(real: dict[str, pd.DataFrame]) -> None:
    train = pd.concat([real["2020-21"], real["2021-22"]], ignore_index=True)
    model = TeamRatings().fit(train)
    assert model.update_rate_ in model.update_rates and model.carry_over_ in model.carry_overs
    assert 0.5 < model.home_prior_ < 3.0
    test = real["2022-23"]
    edge = model.pregame(test, history=train).edge
    final = test["final_diff"].to_numpy(float)
    assert np.mean((final - edge) ** 2) < 0.93 * np.mean((final - final.mean()) ** 2)
    assert np.corrcoef(edge, final)[0, 1] > 0.3


def test_fit_is_deterministic_and_round_trips(tmp_path: Path,
                                              real: dict[str, pd.DataFrame]) -> None:
    model = TeamRatings().fit(real["2020-21"])
    again = TeamRatings().fit(real["2020-21"])
    assert model.to_dict() == again.to_dict()
    loaded = TeamRatings.load(Path(model.save(tmp_path)[0]).parent)
    assert loaded.to_dict() == model.to_dict()
    games = real["2021-22"].iloc[:300]
    np.testing.assert_array_equal(loaded.pregame(games, history=real["2020-21"]).edge,
                                  model.pregame(games, history=real["2020-21"]).edge)


@pytest.mark.parametrize(("content", "named"), [
    ("{not json", "corrupt"),
    ('{"format": "nbalife.dejavu"}', "not a nbalife.ratings"),
    ('{"format": "nbalife.ratings", "params": {}}', "update_rate"),
    ('{"format": "nbalife.ratings", "params": {}, "update_rate": 9, "carry_over": 0.5, '
     '"home_rate": 0, "home_prior": 1, "fit_mse": 1, "n_games": 1}', "out of range"),
])
def test_damaged_file_is_bad_input(tmp_path: Path, content: str, named: str) -> None:
    (tmp_path / JSON_FILE).write_text(content)
    with pytest.raises(BadInput, match=named) as caught:
        TeamRatings.load(tmp_path)
    assert str(tmp_path / JSON_FILE) in str(caught.value)


def test_missing_file_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="missing model file"):
        TeamRatings.load(tmp_path)


def test_bad_input() -> None:
    games = schedule([(0, 0, 0, 10.0)])
    with pytest.raises(NotFitted):
        TeamRatings().pregame(games)
    with pytest.raises(BadInput, match="no finished games"):
        TeamRatings().fit(games.assign(final_diff=np.nan))
    with pytest.raises(BadInput, match="no finished game has two teams"):
        TeamRatings().fit(games)
    with pytest.raises(BadInput, match="update_rates"):
        TeamRatings(update_rates=(0.9,)).fit(games)
    with pytest.raises(BadInput, match="missing column.*home"):
        ratings().pregame(games.drop(columns=["home"]))
    with pytest.raises(BadInput, match="both sides"):
        ratings().pregame(games.assign(away="ATL"))
    with pytest.raises(BadInput, match="2020-13-01"):
        ratings().pregame(games.assign(game_date="2020-13-01"))
    assert json.loads(json.dumps(ratings().to_dict()))["format"] == "nbalife.ratings"
