"""The context component: median regression, forecasts, persistence, and real games."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nbalife.errors import BadInput
from nbalife.forecast.artifacts import NotFitted
from nbalife.forecast.context import JSON_FILE, ContextForecaster, median_regression
from nbalife.forecast.patterns import to_arrays
from nbalife.forecast.ratings import TeamRatings
from nbalife.interchange import load_games
from tests.forecast.conftest import damage_file

DATA = Path(__file__).resolve().parents[2] / "data" / "nba"


def synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Patterns, d24 and edges where the move's median is ``0.3 + edge * 6/48 - 0.05 * d18``."""
    rng = np.random.default_rng(seed)
    steps = rng.normal(0, 2, (n, 19))
    steps[:, 0] = 0
    X = np.cumsum(steps, axis=1)
    edge = rng.normal(2, 6, n)
    move = 0.3 + edge * 6 / 48 - 0.05 * X[:, 18] + rng.laplace(0, 3, n)
    return X, X[:, 18] + move, edge


def test_recovers_the_median_line() -> None:
    X, y, edge = synthetic(6000, 0)
    model = ContextForecaster().fit(X, y, edge)
    assert np.abs(model.coef_ - [0.3, 1.0, -0.05, 0.0, 0.0]).max() < 0.12  # no run effect simulated
    assert model.coef_[2] == pytest.approx(-0.05, abs=0.02)
    assert model.n_games_ == 6000
    forecast = model.predict(X[:5], edge[:5])
    expected = X[:5, 18] + model.coef_[0] + model.coef_[1] * edge[:5] * 6 / 48 \
        + model.coef_[2] * X[:5, 18] + model.coef_[3] * (X[:5, 18] - X[:5, 15]) \
        + model.coef_[4] * (X[:5, 18] - X[:5, 12])
    np.testing.assert_allclose(forecast, expected)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(-20, 20), min_size=1, max_size=60))
def test_intercept_only_gives_a_median(values: list[int]) -> None:
    target = np.array(values, dtype=float)
    (b,) = median_regression(np.ones((len(target), 1)), target)
    loss = np.abs(target - b).sum()
    assert loss == pytest.approx(np.abs(target - np.median(target)).sum())
    assert np.sort(target)[(len(target) - 1) // 2] - 1e-7 <= b <= np.sort(target)[len(target) // 2] + 1e-7


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000))
def test_no_other_line_has_smaller_absolute_error(seed: int) -> None:
    X, y, edge = synthetic(200, seed)
    model = ContextForecaster().fit(X, y, edge)
    best = np.abs(y - model.predict(X, edge)).sum()
    for delta in np.random.default_rng(seed).normal(0, 0.05, (10, 5)):
        other = ContextForecaster.from_dict({**model.to_dict(), "coef": dict(zip(
            ("intercept", "strength", "lead", "run3", "run6"), (model.coef_ + delta).tolist()))})
        assert np.abs(y - other.predict(X, edge)).sum() >= best - 1e-6


def test_round_trip(tmp_path: Path) -> None:
    X, y, edge = synthetic(500, 1)
    model = ContextForecaster().fit(X, y, edge)
    model.save(tmp_path)
    loaded = ContextForecaster.load(tmp_path)
    np.testing.assert_array_equal(loaded.predict(X, edge), model.predict(X, edge))


@pytest.mark.parametrize("how", ["truncate", "garbage", "delete"])
def test_damaged_file_is_bad_input(tmp_path: Path, how: str) -> None:
    X, y, edge = synthetic(100, 2)
    ContextForecaster().fit(X, y, edge).save(tmp_path)
    damage_file(tmp_path / JSON_FILE, how)
    with pytest.raises(BadInput, match=JSON_FILE):
        ContextForecaster.load(tmp_path)


def test_bad_input() -> None:
    X, y, edge = synthetic(50, 3)
    with pytest.raises(NotFitted):
        ContextForecaster().predict(X, edge)
    with pytest.raises(BadInput, match="context edge"):
        ContextForecaster().fit(X, y, edge[:10])
    with pytest.raises(BadInput, match="at least 5 games"):
        ContextForecaster().fit(X[:2], y[:2], edge[:2])
    model = ContextForecaster().fit(X, y, edge)
    with pytest.raises(BadInput, match="context edge .*missing"):
        model.predict(X[:2], [1.0, np.nan])
    with pytest.raises(BadInput, match="not a nbalife.context"):
        ContextForecaster.from_dict({"format": "other"})
    with pytest.raises(BadInput, match="corrupt"):
        ContextForecaster.from_dict({"format": "nbalife.context", "n_games": 1,
                                     "coef": {"intercept": 0.0, "strength": "x", "lead": 0.0}})


def test_beats_persistence_on_a_later_real_season() -> None:
    """Train on 2020-21 and 2021-22, test on 2022-23 with each game's ratings as of its date."""
    train = pd.concat([load_games(DATA / "nba_2020-21.csv"), load_games(DATA / "nba_2021-22.csv")],
                      ignore_index=True)
    test = load_games(DATA / "nba_2022-23.csv")
    ratings = TeamRatings().fit(train)
    tr, te = to_arrays(train), to_arrays(test)
    model = ContextForecaster().fit(tr.X, tr.y, ratings.pregame(train).edge)
    assert 0.8 < model.coef_[1] < 2.0 and -0.1 < model.coef_[2] < 0.0
    forecast = model.predict(te.X, ratings.pregame(test, history=train).edge)
    paired = np.abs(te.y - forecast) - np.abs(te.y - te.X[:, 18])
    se = paired.std(ddof=1) / np.sqrt(len(paired))
    assert paired.mean() < -2 * se  # measured: -0.066 ± 0.023


def test_a_forecast_ignores_later_games_and_its_own_result() -> None:
    """The context forecast of a game, from ratings as of its date, with the store (history)
    growing: later games and the game's own result change nothing; an earlier result does."""
    history = load_games(DATA / "nba_2021-22.csv")
    season = load_games(DATA / "nba_2022-23.csv").iloc[:400].reset_index(drop=True)
    ratings = TeamRatings().fit(history)
    tr = to_arrays(history)
    model = ContextForecaster().fit(tr.X, tr.y, ratings.pregame(history).edge)
    game = season.iloc[[300]]
    x = to_arrays(game).X

    def forecast(store: pd.DataFrame) -> float:
        return float(model.predict(x, ratings.pregame(game, history=store).edge)[0])

    before = season[season["game_date"] < game["game_date"].iloc[0]]
    base = forecast(pd.concat([history, before], ignore_index=True))
    assert forecast(pd.concat([history, season], ignore_index=True)) == base
    earlier = season.index[(season["home"] == game["home"].iloc[0]) & (season.index < 250)][0]
    changed = season.copy()
    changed.loc[earlier, "final_diff"] = int(changed.loc[earlier, "final_diff"]) + 20
    assert forecast(pd.concat([history, changed], ignore_index=True)) != base


def test_a_file_of_the_three_coefficient_form_still_loads() -> None:
    X, y, edge = synthetic(300, 2)
    old = ContextForecaster.from_dict({"format": "nbalife.context", "n_games": 300,
                                       "coef": {"intercept": 0.1, "strength": 1.0, "lead": -0.05}})
    expected = X[:, 18] + 0.1 + edge * 6 / 48 - 0.05 * X[:, 18]
    np.testing.assert_allclose(old.predict(X, edge), expected, atol=1e-6)
