"""``nbalife drift check`` and the drift statistics: both backends, exit codes, the event."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
from conftest import install_production, pin_now, store_seasons
from hypothesis import given, settings
from hypothesis import strategies as st

from nbalife.interchange import DIFF_COLUMNS, load_games
from nbalife.monitoring.drift import compare, features, is_drift, psi
from nbalife.store.events import list_events
from nbalife.store.games import upsert_games

NOW = dt.datetime(2022, 1, 15, 12, tzinfo=dt.timezone.utc)


@pytest.fixture
def seasons(engine, repo_data):  # noqa: ANN001, ANN201
    """The real 2020-21 and 2021-22 seasons in the store."""
    return store_seasons(engine, repo_data, ("nba_2020-21.csv", "nba_2021-22.csv"), NOW)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    pin_now(monkeypatch, NOW)
    return NOW


def test_features_of_a_pattern() -> None:
    pattern = np.array([[0, 2, 2, -1] + [-1] * 14 + [3]])
    found = features(pattern)
    assert found["d18"].tolist() == [3.0]
    assert found["minute_change"].tolist() == [2, 0, -3] + [0] * 14 + [4]
    assert found["volatility"].tolist() == pytest.approx([9 / 18])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(-30, 30), min_size=1, max_size=200),
       st.lists(st.integers(-30, 30), min_size=1, max_size=200), st.integers(2, 20))
def test_psi_is_zero_on_the_same_sample_and_never_negative(a: list[int], b: list[int], bins: int) -> None:
    assert psi(np.array(a), np.array(a), bins) == pytest.approx(0.0, abs=1e-12)
    assert psi(np.array(a), np.array(b), bins) >= 0.0


def test_psi_of_a_known_shift() -> None:
    reference = np.repeat([0.0, 1.0], 500)  # one edge at the median: two bins of 50%
    recent = np.repeat([0.0, 1.0], [250, 750])
    assert psi(reference, recent, bins=2) == pytest.approx(0.25 * np.log(0.75 / 0.5) - 0.25 * np.log(0.25 / 0.5))


def test_drift_needs_both_levels() -> None:
    assert is_drift(0.001, 0.3, max_pvalue=0.01, min_psi=0.2)
    assert not is_drift(0.001, 0.1, max_pvalue=0.01, min_psi=0.2)
    assert not is_drift(0.2, 0.3, max_pvalue=0.01, min_psi=0.2)
    rng = np.random.default_rng(0)
    walk = np.cumsum(rng.integers(-3, 4, size=(2000, 19)), axis=1)
    walk[:, 0] = 0
    same = compare(walk[:1000], walk[1000:], bins=10, max_pvalue=0.01, min_psi=0.2)
    wild = compare(walk[:1000], walk[1000:] * 2, bins=10, max_pvalue=0.01, min_psi=0.2)
    assert [f.drifted for f in same] == [False, False, False]
    assert [f.drifted for f in wild] == [True, True, True]


def test_drift_check_on_real_games_then_on_wilder_ones(cli_db, engine, seasons, tiny_model_set, clock) -> None:
    version = install_production(cli_db.home, engine, tiny_model_set)
    result = cli_db("--json", "drift", "check", "--days", "30")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["outcome"], report["version"], report["drifted"]) == ("ok", version, [])
    assert report["reference_first"] == "2020-12-22" and report["since"] == "2021-12-17"
    assert report["recent_games"] > 100 and report["reference_games"] == len(seasons[0])
    assert [f["feature"] for f in report["features"]] == ["d18", "minute_change", "volatility"]

    recent = seasons[1][seasons[1]["game_date"] >= report["since"]].copy()
    recent[DIFF_COLUMNS] = recent[DIFF_COLUMNS] * 2  # scoring runs twice as wild
    with engine.begin() as conn:
        upsert_games(conn, recent, NOW)
    result = cli_db("drift", "check")
    assert result.exit_code == 1, result.output
    assert "volatility drifted: KS p-value" in result.stderr and "PSI" in result.stderr
    assert "DRIFT" in result.stdout

    with engine.connect() as conn:
        events = list_events(conn, kind="drift_check")
    assert [e.outcome for e in events] == ["drift", "ok"]
    assert events[0].details["features"]["volatility"]["psi"] > 0.2
    assert events[0].details["drifted"] == ["d18", "minute_change", "volatility"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_too_few_recent_games_is_not_an_error(cli_db, engine, tiny_model_set, repo_data, monkeypatch) -> None:
    """Between seasons the window holds no games: said, exit 0."""
    pin_now(monkeypatch, dt.datetime(2021, 9, 1, tzinfo=dt.timezone.utc))
    with engine.begin() as conn:
        upsert_games(conn, load_games(repo_data / "nba_2020-21.csv"), NOW)
    install_production(cli_db.home, engine, tiny_model_set)
    result = cli_db("--json", "drift", "check")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["outcome"] == "too_few"
    assert "fewer than drift.min_games" in json.loads(result.stdout)["message"]


def test_bad_input(cli) -> None:  # noqa: ANN001
    result = cli("drift", "check", "--days", "0")
    assert result.exit_code == 2 and "--days 0" in result.stderr
    result = cli("drift", "check")
    assert result.exit_code == 2 and "no production model set" in result.stderr
