"""``nbalife guard check``: each guardrail fires on a crafted home and stays quiet on a healthy one;
a worse production is rolled back through the registry as an ordinary rollback with its evidence."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
from conftest import run_nbalife

from nbalife.cli.runtime import Runtime
from nbalife.config import Settings
from nbalife.interchange import load_games
from nbalife.ops.jobs import write_record
from nbalife.ops.schedule import JOBS
from nbalife.registry import ChangeKind
from nbalife.services.guard import GUARDRAILS, paired_worse, swap_scores
from nbalife.services.registry import open_registry
from nbalife.store.events import list_events
from nbalife.store.games import upsert_games
from nbalife.store.predictions import Prediction, log_predictions, resolve

NOW = dt.datetime(2022, 1, 20, 12, tzinfo=dt.timezone.utc)
SERVED_FROM = "2022-01-17"  # the nights production (the second version) served


def _predict(engine, games, version: str, forecast) -> None:  # noqa: ANN001
    """Log arm A predictions of ``games`` by ``version`` (each made on its night) and resolve them."""
    rows = [Prediction(g.game_id, "A", version, float(f), float(f) - 12, float(f) + 12, None, None, float(g.d18),
                       dt.datetime.fromisoformat(g.game_date).replace(hour=23, tzinfo=dt.timezone.utc), context="none")
            for g, f in zip(games.itertuples(), forecast)]
    with engine.begin() as conn:
        log_predictions(conn, rows)
        resolve(conn, now=NOW - dt.timedelta(hours=6))


@pytest.fixture
def home_of(cli_db, engine, repo_data, tiny_model_set, monkeypatch):  # noqa: ANN001, ANN201
    """A home at NOW: 2021-22 stored up to the day before, version 1 promoted ten days ago and
    version 2 three days ago; ``make(forecast)`` logs version 2's forecasts of its three nights."""
    monkeypatch.setattr(Runtime, "now", staticmethod(lambda: NOW))
    season = load_games(repo_data / "nba_2021-22.csv")
    season = season[season["game_date"] < "2022-01-20"].reset_index(drop=True)
    with engine.begin() as conn:
        upsert_games(conn, season, NOW - dt.timedelta(days=200))
    registry = open_registry(cli_db.home, engine, tiny_model_set.settings)
    first = registry.register(tiny_model_set.folder, ChangeKind.MANUAL, description="first").version
    registry.promote(first, force=True, at=NOW - dt.timedelta(days=10))
    second = registry.register(tiny_model_set.folder, ChangeKind.LSTM_RETRAIN, description="second").version
    registry.promote(second, force=True, at=NOW - dt.timedelta(days=3, hours=6))
    served = season[season["game_date"] >= SERVED_FROM].reset_index(drop=True)
    for job in JOBS:
        write_record(cli_db.home, job.name, 0, NOW - dt.timedelta(minutes=1))

    def make(forecast):  # noqa: ANN001, ANN202
        _predict(engine, served, second, forecast(served))
        return first, second, served, season

    return make


def _check(cli_db, *args: str) -> tuple[int, dict]:  # noqa: ANN001
    result = cli_db("--json", "guard", "check", *args)
    assert result.exit_code in (0, 1), result.output
    body = json.loads(result.stdout)
    return result.exit_code, {f["guardrail"]: f for f in body["findings"]} | {"_": body}


def _as_served(engine, cli_db, tiny_model_set):  # noqa: ANN001, ANN202
    """The model set's forecasts of a frame of games as production serves them (with team strength)."""
    from nbalife.interchange import PATTERN_COLUMNS
    from nbalife.services.forecasting import forecast_games
    from nbalife.services.matchups import with_store
    from nbalife.services.model_loading import load_model_set

    def forecast(games):  # noqa: ANN001, ANN202
        loaded = load_model_set(open_registry(cli_db.home, engine, tiny_model_set.settings))
        patterns = games[PATTERN_COLUMNS].to_numpy(dtype=np.float32)
        return np.asarray(forecast_games(loaded.models, patterns, with_store(engine, games, loaded.models))[0].forecast)

    return forecast


def test_a_healthy_home_keeps_every_guardrail_quiet(cli_db, engine, home_of, tiny_model_set) -> None:
    home_of(_as_served(engine, cli_db, tiny_model_set))
    code, found = _check(cli_db, "--apply")
    assert code == 0, json.dumps({k: v.get("message") for k, v in found.items() if k != "_"})
    assert {name: found[name]["state"] for name in GUARDRAILS} == dict.fromkeys(GUARDRAILS, "ok")
    assert found["worse-production"]["evidence"]["games"] >= 20
    assert found["_"]["action"] is None and found["_"]["rollback"] is None
    with engine.connect() as conn:
        (event,) = list_events(conn, kind="guard_check")
    assert event.outcome == "ok" and set(event.details["guardrails"]) == set(GUARDRAILS)
    status = json.loads(cli_db("--json", "status").stdout)
    assert {g["guardrail"]: g["state"] for g in status["guardrails"]} == dict.fromkeys(GUARDRAILS, "ok")


def test_a_worse_production_is_rolled_back_through_the_registry_with_its_evidence(cli_db, engine, home_of) -> None:
    first, second, served, _ = home_of(lambda g: -g["d18"].to_numpy() + 6.0)
    code, found = _check(cli_db)  # without --apply: alert only
    worse = found["worse-production"]
    assert code == 1 and worse["state"] == "firing" and worse["evidence"]["previous"] == first
    evidence = worse["evidence"]
    assert evidence["vs_persistence"]["p_worse"] < 0.025 and evidence["vs_previous"]["n"] == len(served) > 20
    assert open_registry(cli_db.home, engine, Settings()).current_version() == second

    result = cli_db("guard", "check", "--apply")
    assert result.exit_code == 1 and f"rolled back {second} -> {first}" in result.output
    registry = open_registry(cli_db.home, engine, Settings())
    assert registry.current_version() == first
    with engine.connect() as conn:
        rollback = list_events(conn, kind="rollback")[0]
        guard = list_events(conn, kind="guard_check")[0]
    assert rollback.outcome == "ok" and rollback.details["from"] == second and rollback.details["to"] == first
    assert rollback.details["reason"].startswith("guard: worse than") and f"{len(served)} games" in \
        rollback.details["reason"]
    assert guard.outcome == "rollback" and guard.version == first
    assert guard.details["guardrails"]["worse-production"]["evidence"]["games"] == len(served)
    assert registry.history()[-1].action == "rollback"

    # the rolled-back-to version has served no game since: nothing to judge, no second rollback
    code, found = _check(cli_db, "--apply", "--only", "worse-production")
    assert code == 0 and found["worse-production"]["state"] == "idle"


def test_alert_only_config_never_rolls_back(cli_db, engine, home_of) -> None:
    first, second, _, _ = home_of(lambda g: -g["d18"].to_numpy())
    (cli_db.home / "config.yaml").write_text("guard:\n  action: alert\nregistry:\n  freeze: null\n")
    code, found = _check(cli_db, "--apply")
    assert code == 1 and found["_"]["action"] == "alert" and found["_"]["rollback"] is None
    assert open_registry(cli_db.home, engine, Settings()).current_version() == second


def test_missing_predictions_fire_naming_the_game(cli_db, engine, home_of) -> None:
    _, _, served, season = home_of(lambda g: g["d18"].to_numpy())
    extra = served.iloc[[0]].assign(game_id="0099900001", game_date="2022-01-19")
    with engine.begin() as conn:
        upsert_games(conn, extra, NOW)
    code, found = _check(cli_db, "--only", "missing-predictions")
    assert code == 1 and found["missing-predictions"]["state"] == "firing"
    assert "first 0099900001" in found["missing-predictions"]["message"]
    assert set(found) == {"missing-predictions", "_"}


def test_stale_results_fire_after_the_outcome_lag(cli_db, engine, home_of) -> None:
    home_of(lambda g: g["d18"].to_numpy())
    late = Prediction("0099900002", "A", "9.9.9", 1.0, -11.0, 13.0, None, None, 1.0, NOW - dt.timedelta(hours=13))
    with engine.begin() as conn:
        log_predictions(conn, [late])
    code, found = _check(cli_db, "--only", "stale-results")
    assert code == 1 and "1 games' predictions unresolved after 12 h, first 0099900002" in found["stale-results"][
        "message"]
    # within the lag it is not yet stale
    (cli_db.home / "config.yaml").write_text("monitoring:\n  outcome_lag_hours: 14\nregistry:\n  freeze: null\n")
    code, found = _check(cli_db, "--only", "stale-results")
    assert code == 0 and found["stale-results"]["state"] == "ok"


def test_stale_jobs_is_a_dead_mans_switch_on_the_wrapper_records(cli_db, home_of) -> None:
    home_of(lambda g: g["d18"].to_numpy())
    write_record(cli_db.home, "outcomes", 0, NOW - dt.timedelta(hours=1))  # period 10 min
    write_record(cli_db.home, "lstm-retrain", 0, NOW - dt.timedelta(days=40))  # monthly
    for suffix in ("exit", "success"):
        (cli_db.home / "logs" / f"gc.{suffix}").unlink()
    code, found = _check(cli_db, "--only", "stale-jobs")
    stale = found["stale-jobs"]
    assert code == 1 and stale["evidence"]["stale"] == ["outcomes"] and stale["evidence"]["no_record"] == ["gc"]
    assert "outcomes (last success 1 h ago, limit 0.33 h)" in stale["message"]
    status = json.loads(cli_db("--json", "status").stdout)
    assert {g["guardrail"]: g["state"] for g in status["guardrails"]}["stale-jobs"] == "firing"


def test_feed_swap_flags_a_strong_team_whose_signs_flip(cli_db, engine, home_of) -> None:
    _, _, _, season = home_of(lambda g: g["d18"].to_numpy())
    team = "PHX"
    theirs = season[(season["home"] == team) | (season["away"] == team)].tail(15)
    columns = [f"d{i}" for i in range(25)]
    flipped = theirs.copy()
    flipped[columns] = -flipped[columns]
    flipped["final_diff"] = -flipped["final_diff"]
    with engine.begin() as conn:
        upsert_games(conn, flipped, NOW)
    code, found = _check(cli_db, "--only", "feed-swap")
    assert code == 1 and list(found["feed-swap"]["evidence"]["flagged"]) == [team]


def test_guard_check_exit_codes_as_a_real_process(cli_db, home_of, tmp_path) -> None:
    home_of(lambda g: -g["d18"].to_numpy())
    base = ["--home", str(cli_db.home), "--db", cli_db.db_url]
    bad = run_nbalife(*base, "guard", "check", "--only", "nonsense")
    assert bad.returncode == 2 and bad.stderr.strip().startswith("error: --only 'nonsense': expected one of")
    prom = tmp_path / "guard.prom"
    found = run_nbalife(*base, "guard", "check", "--only", "stale-jobs", "--only", "stale-results",
                        "--prometheus", str(prom))
    # the real clock is years after NOW: every wrapper record is stale
    assert found.returncode == 1 and "stale-jobs: stale:" in found.stderr
    text = prom.read_text()
    assert 'nbalife_guardrail_firing{guardrail="stale-jobs"} 1.0' in text
    assert 'nbalife_guardrail_firing{guardrail="stale-results"} 0.0' in text


def test_paired_worse_is_always_valid_and_catches_a_large_gap() -> None:
    rng = np.random.default_rng(0)
    null_alarms = sum(paired_worse(rng.normal(0, 4, 200) - 0.25, tau=2.0, min_games=7).p_value < 0.025
                      for _ in range(200))
    assert null_alarms <= 5  # at most alpha/2 of 200, with room for chance
    assert paired_worse(rng.normal(2.5, 4, 30), tau=2.0, min_games=7).p_value < 0.001


def test_swap_scores_on_a_real_season(repo_data) -> None:
    season = load_games(repo_data / "nba_2022-23.csv")
    calm = swap_scores(season, recent=15, history=20)
    assert len(calm) == 30 and max(s.llr for s in calm) < 6
    columns = [f"d{i}" for i in range(25)]
    theirs = season.index[(season["home"] == "MIL") | (season["away"] == "MIL")][-15:]
    season.loc[theirs, columns] = -season.loc[theirs, columns]
    season.loc[theirs, "final_diff"] = -season.loc[theirs, "final_diff"]
    assert {s.team: s.llr for s in swap_scores(season, recent=15, history=20)}["MIL"] > 6


def test_ingest_rejects_an_impossible_score_path_naming_the_game(cli_db, real_games, tmp_path) -> None:
    games = load_games(real_games).head(5)
    games.loc[2, "final_diff"] = games.loc[2, "d24"] + 61
    broken = tmp_path / "broken.csv"
    games.to_csv(broken, index=False)
    result = run_nbalife("--home", str(cli_db.home), "--db", cli_db.db_url, "data", "ingest", str(broken))
    game = games.loc[2, "game_id"]
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (f"error: {broken}: row 4 (game {game}): column d24 = '{games.loc[2, 'd24']}': "
                                     f"d24 {games.loc[2, 'd24']} but final_diff {games.loc[2, 'd24'] + 61}: the "
                                     "second half cannot move 61 points (at most 60)")
    assert cli_db("--json", "data", "summary").stdout.strip() == "[]"  # nothing written
    final = games.loc[2, "final_diff"]
    games.loc[2, "final_diff"] = games.loc[2, "d24"]
    games.loc[3, "d7"] = games.loc[3, "d6"] + 16  # more than the points possible in a minute
    games.to_csv(broken, index=False)
    minute = cli_db("data", "ingest", str(broken))
    assert minute.exit_code == 2 and f"(game {games.loc[3, 'game_id']}): column d7" in minute.output
    games.loc[2, "final_diff"] = final
    games.to_csv(broken, index=False)
    skipped = cli_db("--json", "data", "ingest", "--skip-invalid", str(broken))
    assert skipped.exit_code == 0 and json.loads(skipped.stdout)[0]["rejected"] == 2
