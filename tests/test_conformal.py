"""``nbalife conformal check`` / ``status``: coverage drift, recalibrated patch versions, exit codes."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nbalife.interchange import PATTERN_COLUMNS, load_games
from nbalife.locks import run_lock
from nbalife.registry import Registry
from tests.conftest import install_production, run_nbalife

NOW = dt.datetime.now(dt.timezone.utc)


@pytest.fixture
def production(home: Path, engine, tiny_model_set) -> str:  # noqa: ANN001
    return install_production(home, engine, tiny_model_set)


def log_window(engine, home: Path, repo_data: Path, *, n: int, stretch: float,  # noqa: ANN001
               skip: int = 0, days_ago: int = 1) -> None:
    """Predict ``n`` real 2021-22 games (after the first ``skip``) with production ``days_ago``,
    then store their results with the move ``d24 - d18`` multiplied by ``stretch`` (drift) and
    sync."""
    from nbalife.services.model_loading import load_model_set
    from nbalife.services.outcomes import sync
    from nbalife.services.predict import forecast
    from nbalife.store.games import upsert_games

    games = load_games(repo_data / "nba_2021-22.csv")[skip:skip + n].copy()
    forecast(engine, load_model_set(Registry(home, engine)), list(games["game_id"]),
             games[PATTERN_COLUMNS].to_numpy(np.float32), now=NOW - dt.timedelta(days=days_ago))
    games["d24"] = (games["d18"] + stretch * (games["d24"] - games["d18"])).round().astype(int)
    with engine.begin() as conn:
        upsert_games(conn, games, NOW)
    assert sync(engine, now=NOW).resolved == n


def check(cli_db, *args: str, env: dict[str, str] | None = None):  # noqa: ANN001, ANN201
    result = cli_db("--json", "conformal", "check", *args, env=env)
    return result, (json.loads(result.stdout) if result.stdout.strip() else None)


def test_drift_registers_a_patch_and_apply_promotes_it(cli_db, engine, home, production, repo_data) -> None:
    log_window(engine, home, repo_data, n=150, stretch=1.5)
    result, report = check(cli_db)
    assert result.exit_code == 1, result.output
    assert report is not None, repr(result.exception)
    assert report["outcome"] == "drift" and report["n"] == 150 and report["coverage"] < 0.9
    fixed = report["recalibration"]
    assert fixed["version"] == "1.0.1" and not fixed["applied"]
    assert fixed["new_quantile"] > fixed["old_quantile"] and fixed["coverage_after"] >= 0.95
    registry = Registry(home, engine)
    assert registry.current_version() == production
    info = registry.show("1.0.1")
    assert info.parent == production and info.kind.value == "recalibration"
    record = info.params["recalibration"]
    assert record["method"] == "split" and record["n"] == 150
    assert (record["old_quantile"], record["new_quantile"]) == (fixed["old_quantile"], fixed["new_quantile"])
    assert record["coverage_before"] == report["coverage"]
    old = {f.name: f.sha256 for f in registry.show(production).files}
    new = {f.name: f.sha256 for f in info.files}
    assert {name for name in old if old[name] != new[name]} == {"conformal.json"}
    result, report = check(cli_db)  # the next day's check: drift still, and 1.0.1 still waits
    assert result.exit_code == 1 and "still waiting" in result.stderr, result.output
    assert report["recalibration"]["version"] == "1.0.1" and report["recalibration"]["waiting"]
    assert sorted(registry.versions()) == [production, "1.0.1"]

    result, report = check(cli_db, "--apply")  # promotes the waiting 1.0.1: no duplicate
    applied = report["recalibration"]
    assert result.exit_code == 1 and "promoted" in result.stderr, result.stderr
    assert applied["applied"], applied["refused"]
    assert registry.current_version() == applied["version"] == "1.0.1"
    assert sorted(registry.versions()) == [production, "1.0.1"]

    status = json.loads(cli_db("--json", "conformal", "status").stdout)
    assert status["version"] == applied["version"] and status["method"] == "split"
    assert status["quantile"] == pytest.approx(applied["new_quantile"]) and status["n_since"] == 0
    result, report = check(cli_db)  # the new version has no outcomes of its own yet
    assert result.exit_code == 0 and report["outcome"] == "too_few"
    log_window(engine, home, repo_data, n=150, stretch=1.5, skip=150)  # the drift goes on
    result, report = check(cli_db)
    assert result.exit_code == 0 and report["outcome"] == "ok" and report["n"] == 150
    assert abs(report["coverage"] - 0.95) <= 0.05
    events = json.loads(cli_db("--json", "history", "--kind", "conformal_check").stdout)
    assert [e["outcome"] for e in events][:3] == ["ok", "too_few", "drift"]
    assert events[2]["details"]["apply"] is True and events[2]["version"] == production


def test_no_drift_and_too_few_exit_0(cli_db, engine, home, production, repo_data) -> None:
    result, report = check(cli_db)
    assert result.exit_code == 0 and report["outcome"] == "too_few" and report["n"] == 0
    assert "too few" in cli_db("conformal", "check").stderr
    log_window(engine, home, repo_data, n=150, stretch=1.0)
    result, report = check(cli_db)
    assert result.exit_code == 0, result.output
    assert report["outcome"] == "ok" and report["recalibration"] is None
    assert Registry(home, engine).versions() == [production]


def test_the_sequential_rule_finds_drift_before_min_samples(cli_db, engine, home, production,
                                                           repo_data) -> None:
    log_window(engine, home, repo_data, n=50, stretch=3.0)
    result, report = check(cli_db)  # a loud CUSUM, but production has 50 < min_samples outcomes
    assert result.exit_code == 0 and report["outcome"] == "too_few", result.output
    assert report["cusum"] > report["cusum_threshold"] == 5.5
    log_window(engine, home, repo_data, n=60, stretch=1.0, skip=50, days_ago=12)  # outside the window
    result, report = check(cli_db, env={"NBALIFE_CONFORMAL__CUSUM_THRESHOLD": "null"})
    assert result.exit_code == 0 and report["outcome"] == "too_few" and report["cusum"] is None
    result, report = check(cli_db)
    assert result.exit_code == 1 and "miss CUSUM" in result.stderr, result.output
    assert report["outcome"] == "drift" and report["trigger"] == "sequential"
    assert report["n"] == 50 < report["min_samples"] and report["cusum"] > report["cusum_threshold"]
    fixed = report["recalibration"]
    assert fixed["new_quantile"] > fixed["old_quantile"] and fixed["coverage_after"] >= 0.95
    record = Registry(home, engine).show(fixed["version"]).params["recalibration"]
    assert record["trigger"] == "sequential" and record["refit_n"] == report["min_samples"]


@given(st.lists(st.booleans(), max_size=200), st.sampled_from([(0.05, 0.10), (0.1, 0.3), (0.02, 0.5)]))
def test_miss_cusum_is_pages_recursion(missed: list[bool], rates: tuple[float, float]) -> None:
    from nbalife.forecast.conformal import miss_cusum

    alpha, alarm = rates
    peak, start = miss_cusum(missed, alpha, alarm)
    level, best = 0.0, 0.0
    for miss in missed:
        level = max(0.0, level + (np.log(alarm / alpha) if miss else np.log((1 - alarm) / (1 - alpha))))
        best = max(best, level)
    assert peak == pytest.approx(best, abs=1e-9)
    if peak > 0:  # the excursion that reached the peak starts with a miss, at the change point
        assert missed[start] and miss_cusum(missed[start:], alpha, alarm)[0] == pytest.approx(peak, abs=1e-9)
    else:
        assert start == 0


def test_methods_refit_the_layer(tmp_path: Path, tiny_model_set) -> None:  # noqa: ANN001
    from nbalife.config import load_settings
    from nbalife.forecast.conformal import AdaptiveConformal
    from nbalife.services.conformal import refit_layer
    from nbalife.store.predictions import ResolvedPrediction

    base = AdaptiveConformal.load(tiny_model_set.folder)
    rows = [ResolvedPrediction(f"g{i}", "A", "1.0.0", NOW - dt.timedelta(days=i / 10), 0.0, -1.0, 1.0,
                               None, None, float(e), float(e), 0.0)
            for i, e in enumerate(np.linspace(0, 2 * base.quantile_, 120))]
    settings = load_settings(None, environ={}, overrides={"conformal.recency_halflife_days": 5.0,
                                                          "registry.freeze": "none"}).settings
    split = refit_layer(tiny_model_set.folder, rows, settings, "split", NOW)
    assert split.quantile_ == sorted(abs(r.error) for r in rows)[int(np.ceil(121 * 0.95)) - 1]
    weighted = refit_layer(tiny_model_set.folder, rows, settings, "weighted", NOW)
    assert weighted.quantile_ < split.quantile_  # the recent rows (small residuals) weigh more
    aci = refit_layer(tiny_model_set.folder, rows, settings, "aci", NOW)
    misses = sum(abs(r.error) > base.quantile_ for r in rows)
    assert aci.n_updates_ == base.n_updates_ + 120 and aci.alpha_t_ < base.alpha_t_
    assert aci.quantile_ > base.quantile_ and misses > 6


def test_a_failure_half_way_leaves_nothing(cli_db, engine, home, production, repo_data, monkeypatch) -> None:
    from nbalife.forecast.conformal import AdaptiveConformal

    log_window(engine, home, repo_data, n=120, stretch=2.0)

    def broken_save(self, directory: Path) -> list[Path]:  # noqa: ANN001
        (Path(directory) / "conformal.json").write_text("{half")
        raise OSError("disk full")

    monkeypatch.setattr(AdaptiveConformal, "save", broken_save)
    result, _ = check(cli_db, "--apply")
    assert isinstance(result.exception, OSError)
    assert Registry(home, engine).versions() == [production] and Registry(home, engine).current_version() == production
    assert not [p for p in home.iterdir() if p.name.startswith(".derive-")]
    event = json.loads(cli_db("--json", "history", "--kind", "conformal_check").stdout)[0]
    assert event["outcome"] == "failed" and "disk full" in event["details"]["error"]


@pytest.mark.parametrize("args, named", [
    (["--days", "0"], "--days"),
    (["--method", "median"], "--method"),
    (["--method", "weighted"], "recency_halflife_days"),
])
def test_bad_input_exits_2_naming_the_option(cli, args: list[str], named: str) -> None:
    result = cli("conformal", "check", *args)
    assert result.exit_code == 2 and named in result.output


def test_no_production_and_lock_held(cli_db, home, engine, tiny_model_set) -> None:  # noqa: ANN001
    result = cli_db("conformal", "check")
    assert result.exit_code == 2 and "no production model" in result.stderr
    assert cli_db("conformal", "status").exit_code == 2
    install_production(home, engine, tiny_model_set)
    with run_lock("conformal", home=home, engine=engine):
        result = cli_db("conformal", "check")
    assert result.exit_code == 3 and "held by another run" in result.stderr


def test_exit_codes_as_a_process(tmp_path: Path) -> None:
    env = {"NBALIFE_HOME": str(tmp_path), "NBALIFE_DB": ""}
    for args in (["conformal", "check", "--days", "0"], ["conformal", "status"]):
        done = run_nbalife(*args, env={**os.environ, **env})
        assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_a_dejavu_update_keeps_the_layers_evidence(cli_db, engine, home, production, repo_data) -> None:
    log_window(engine, home, repo_data, n=150, stretch=1.5)
    update = cli_db("--json", "dejavu", "update", env={"NBALIFE_DEJAVU__AUTO_PROMOTE": "true"})
    assert update.exit_code == 0, update.output
    registry = Registry(home, engine)
    updated = registry.current_version()
    assert updated != production and registry.show(updated).parent == production
    result, report = check(cli_db)  # the update serves the same conformal.json: production's rows count
    assert result.exit_code == 1 and report["production"] == updated, result.output
    assert report["outcome"] == "drift" and report["n"] == 150
    result, report = check(cli_db, "--apply")
    assert registry.current_version() == report["recalibration"]["version"]
    result, report = check(cli_db)  # a new layer: the old rows measured another interval
    assert result.exit_code == 0 and report["outcome"] == "too_few" and report["n"] == 0


def test_in_a_freeze_apply_waits_once_then_applies(cli_db, engine, home, production, repo_data) -> None:
    from tests.test_freeze import window_around_now

    frozen = {"NBALIFE_REGISTRY__FREEZE": window_around_now()}
    log_window(engine, home, repo_data, n=150, stretch=1.5)
    result, report = check(cli_db, "--apply", env=frozen)
    assert result.exit_code == 1 and "freeze" in report["recalibration"]["refused"], result.output
    registry = Registry(home, engine)
    assert registry.current_version() == production and sorted(registry.versions()) == [production, "1.0.1"]
    result, report = check(cli_db, "--apply", env=frozen)  # the next day, still frozen: no second version
    assert result.exit_code == 1 and "registered by an earlier check" in result.stderr, result.output
    assert report["recalibration"]["waiting"] and report["recalibration"]["version"] == "1.0.1"
    assert sorted(registry.versions()) == [production, "1.0.1"]
    result, report = check(cli_db, "--apply")  # out of the freeze: the waiting 1.0.1 serves, no duplicate
    assert registry.current_version() == "1.0.1" and registry.pending() == [], result.output
    assert sorted(registry.versions()) == [production, "1.0.1"]


def test_apply_says_which_stale_recalibration_it_retired(cli_db, engine, home, production, repo_data,
                                                         tiny_model_set) -> None:
    log_window(engine, home, repo_data, n=150, stretch=1.5)
    result, report = check(cli_db)
    assert result.exit_code == 1 and report["recalibration"]["version"] == "1.0.1"
    registry = Registry(home, engine)
    other = registry.register(tiny_model_set.folder, "manual", description="a new production since").version
    assert cli_db("registry", "promote", other, "--force").exit_code == 0  # 1.0.1 no longer fits production
    log_window(engine, home, repo_data, n=150, stretch=1.5, skip=150)
    result = cli_db("conformal", "check", "--apply")
    assert result.exit_code == 1, result.output
    assert "1.0.1" in " ".join(result.stdout.split()).partition("retired (stale candidates)")[2][:20], result.stdout
    assert registry.show("1.0.1").state == "retired"
    events = json.loads(cli_db("--json", "history", "--kind", "register").stdout)
    assert events[0]["details"]["retired"] == ["1.0.1"] and events[0]["version"] != "1.0.1"
