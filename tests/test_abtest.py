"""``nbalife abtest`` end to end on both backends: start, status, advance, stop, history, routing."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import insert

from nbalife.store import schema
from nbalife.store.events import list_events
from tests.conftest import install_production, run_nbalife

FAST = {"NBALIFE_ABTEST__MIN_STAGE_HOURS": "0", "NBALIFE_ABTEST__MIN_GAMES_PER_STAGE": "100"}


@pytest.fixture
def versions(home: Path, engine, tiny_model_set) -> tuple[str, str]:  # noqa: ANN001
    """Production (A) and a second registered copy of the same model set as candidate (B)."""
    from nbalife.registry import ChangeKind
    from nbalife.services.registry import open_registry

    champion = install_production(home, engine, tiny_model_set)
    info = open_registry(home, engine, tiny_model_set.settings).register(
        tiny_model_set.folder, ChangeKind.MANUAL, metrics=tiny_model_set.result.metrics, description="candidate")
    return champion, info.version


def log_resolved(engine, games: int, *, gap: float, seed: int, offset: int = 0) -> None:  # noqa: ANN001
    """Predict ``games`` new games through the running test's routing and store their outcomes:
    A's own error SD 4 points, B's 4 - ``gap`` (on top of 6 points of shared game noise)."""
    from nbalife.services.forecasting import route

    rng = np.random.default_rng(seed)
    ids = [f"g{offset + i:05d}" for i in range(games)]
    routes = route(engine, ids)
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    game_rows, rows = [], []
    for i, game_id in enumerate(ids):
        d18 = int(rng.integers(-10, 10))
        d24 = d18 + int(round(rng.normal(0, 6)))
        game_rows.append({"game_id": game_id, "season": "2024-25", "game_date": dt.date(2025, 1, 1), "home": "AAA",
                          "away": "BBB", **{f"d{m}": d18 if m >= 18 else 0 for m in range(25)}, "d24": d24,
                          "ingested_at": now})
        for version, arm in routes[game_id]:
            forecast = d18 + rng.normal(0, 4.0 - (gap if arm != "A" else 0.0))
            rows.append({"game_id": game_id, "arm": arm, "model_version": version, "forecast": forecast,
                         "lower": forecast - 12, "upper": forecast + 12, "d18": d18,
                         "created_at": now + dt.timedelta(milliseconds=i), "actual": d24, "error": d24 - forecast,
                         "resolved_at": now})
    with engine.begin() as conn:
        conn.execute(insert(schema.games), game_rows)
        conn.execute(insert(schema.predictions), rows)


def js(result):  # noqa: ANN001, ANN201
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def test_bad_input_is_exit_2_naming_the_value(cli_db, versions: tuple[str, str]) -> None:
    champion, candidate = versions
    cases = [
        (["abtest", "start", "--candidate", "9.9.9"], "version 9.9.9 is not registered"),
        (["abtest", "start", "--candidate", champion], f"--candidate {champion}: is production already"),
        (["abtest", "start", "--candidate", candidate, "--traffic", "0"], "--traffic 0: must be in (0, 1]"),
        (["abtest", "start", "--candidate", candidate, "--traffic", "1.5"], "--traffic 1.5: must be in (0, 1]"),
        (["abtest", "start", "--candidate", candidate, "--mode", "canary"], "--mode 'canary'"),
        (["abtest", "advance"], "abtest advance: no A/B test is running"),
        (["abtest", "stop"], "abtest stop: no A/B test is running"),
    ]
    for args, message in cases:
        result = cli_db(*args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and len(result.output.strip().splitlines()) == 1, result.output


def test_candidate_failing_verification_is_refused(cli_db, engine, versions: tuple[str, str]) -> None:  # noqa: ANN001
    from sqlalchemy import update

    _, candidate = versions
    files = schema.registry_files
    with engine.begin() as conn:  # the store lacks one of the candidate's artifacts
        conn.execute(update(files).where(files.c.version == candidate, files.c.name == "lstm.npz")
                     .values(sha256="0" * 64))
    result = cli_db("abtest", "start", "--candidate", candidate)
    assert result.exit_code == 2 and f"--candidate {candidate}: failed verification" in result.output


def test_split_test_advances_through_the_stages_and_promotes(cli_db, engine, versions: tuple[str, str]) -> None:
    champion, candidate = versions
    test = js(cli_db("--json", "abtest", "start", "--candidate", candidate))
    assert (test["champion"], test["candidate"], test["shares"], test["traffic"]) == (
        champion, candidate, [0.1, 0.25, 0.5], 0.1)
    again = cli_db("abtest", "start", "--candidate", candidate)
    assert again.exit_code == 2 and "already running" in again.output

    waiting = js(cli_db("--json", "abtest", "advance", env=FAST))
    assert waiting["action"] == "waiting" and "0/100 resolved games" in waiting["reason"]
    shares = []
    for stage in range(3):
        log_resolved(engine, 400, gap=3.0, seed=stage, offset=1000 * stage)
        report = js(cli_db("--json", "abtest", "status"))
        arms = {a["arm"]: a for a in report["analysis"]["arms"]}
        share = arms["B"]["n"] / (arms["A"]["n"] + arms["B"]["n"])
        shares.append(share)
        result = js(cli_db("--json", "abtest", "advance", env=FAST))
        assert result["action"] == ("promoted" if stage == 2 else "advanced"), result["reason"]
    assert shares[0] < shares[1] < shares[2]
    assert report["analysis"]["control_variate"]["narrowing"] > 0.2
    assert [t["name"] for t in report["analysis"]["tests"]] == ["welch_t"]
    assert json.loads(cli_db("--json", "registry", "current").stdout)["version"] == candidate
    history = js(cli_db("--json", "abtest", "history"))
    assert [(t["status"], t["stage"]) for t in history] == [("promoted", 2)]
    assert js(cli_db("--json", "abtest", "status")) == {"test": None}
    with engine.connect() as conn:
        events = [(e.kind, e.outcome) for e in list_events(conn, limit=20)]
    assert {("abtest_start", "ok"), ("abtest_advance", "waiting"), ("abtest_advance", "ok"),
            ("abtest_advance", "promoted"), ("promote", "ok")} <= set(events)


def test_significantly_worse_b_rolls_back_with_exit_1(cli_db, engine, versions: tuple[str, str]) -> None:
    from nbalife.services.forecasting import route

    _, candidate = versions
    assert cli_db("abtest", "start", "--candidate", candidate, "--mode", "shadow").exit_code == 0
    assert route(engine, ["x1"]) == {"x1": [(versions[0], "A"), (candidate, "shadow")]}
    log_resolved(engine, 300, gap=-6.0, seed=9)
    report = js(cli_db("--json", "abtest", "status"))
    assert [t["name"] for t in report["analysis"]["tests"]] == ["paired_t", "wilcoxon"]
    result = cli_db("--json", "abtest", "advance", env=FAST)
    assert result.exit_code == 1 and json.loads(result.stdout)["action"] == "rolled_back"
    assert "B is worse" in result.stderr
    assert route(engine, ["x1"]) == {}
    assert js(cli_db("--json", "abtest", "history"))[0]["status"] == "rolled_back"
    assert json.loads(cli_db("--json", "registry", "current").stdout)["version"] == versions[0]


def test_stop_ends_the_test_and_routing(cli_db, engine, versions: tuple[str, str]) -> None:
    from nbalife.services.forecasting import route

    assert cli_db("abtest", "start", "--candidate", versions[1], "--traffic", "0.5").exit_code == 0
    arms = {arm for pairs in route(engine, [f"g{i}" for i in range(200)]).values() for _, arm in pairs}
    assert arms == {"A", "B"}
    stopped = js(cli_db("--json", "abtest", "stop", "--reason", "wrong candidate"))
    assert (stopped["status"], stopped["reason"]) == ("stopped", "wrong candidate")
    assert route(engine, ["g1"]) == {}
    assert cli_db("abtest", "stop").exit_code == 2


@dataclasses.dataclass
class Crashed:
    """A test whose ``advance`` crashed at one step: the service, its inputs and the clock."""

    abtest: Any
    registry: Any
    settings: Any
    now: dt.datetime


def crash_advance(home: Path, engine, candidate: str, tiny_model_set, monkeypatch, *,  # noqa: ANN001
                  step: str, mode: str, traffic: float, min_games: int, games: int, gap: float,
                  seed: int) -> Crashed:
    """Start a test, log ``games`` resolved games, and run ``advance`` with the service's ``step``
    raising as a power cut would; the crash propagates and the patch is undone."""
    from nbalife.services import abtest
    from nbalife.services.registry import open_registry

    settings = dataclasses.replace(tiny_model_set.settings, abtest=dataclasses.replace(
        tiny_model_set.settings.abtest, min_stage_hours=0.0, min_games_per_stage=min_games))
    now = dt.datetime.now(dt.timezone.utc)
    registry = open_registry(home, engine, settings)
    abtest.start(engine, registry, settings, home, candidate=candidate, mode=mode, traffic=traffic,
                 min_improvement=0.5, now=now)
    log_resolved(engine, games, gap=gap, seed=seed)

    def crash(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("power cut")

    monkeypatch.setattr(abtest, step, crash)
    with pytest.raises(RuntimeError, match="power cut"):
        abtest.advance(engine, registry, settings, home, now=now)
    monkeypatch.undo()
    return Crashed(abtest, registry, settings, now)


def test_crash_after_promotion_is_completed_by_the_next_advance(home: Path, engine, versions: tuple[str, str],
                                                                 tiny_model_set, monkeypatch) -> None:  # noqa: ANN001
    """Promotion committed, test not yet ended: the next advance sees B in production and ends it."""
    from nbalife.registry import Registry

    run = crash_advance(home, engine, versions[1], tiny_model_set, monkeypatch, step="_end", mode="shadow",
                        traffic=1.0, min_games=100, games=400, gap=3.0, seed=4)
    assert Registry(home, engine).current_version() == versions[1]
    assert run.abtest.status(engine, run.settings, now=run.now).test.status == "running"
    result = run.abtest.advance(engine, run.registry, run.settings, home, now=run.now)
    assert result.action == "promoted" and result.test.status == "promoted"


def test_crash_during_a_stage_move_keeps_the_old_stage(home: Path, engine, versions: tuple[str, str],
                                                        tiny_model_set, monkeypatch) -> None:  # noqa: ANN001
    run = crash_advance(home, engine, versions[1], tiny_model_set, monkeypatch, step="record_event", mode="split",
                        traffic=0.1, min_games=10, games=20, gap=0.0, seed=5)
    test = run.abtest.status(engine, run.settings, now=run.now).test
    assert (test.stage, test.traffic) == (0, 0.1)
    assert run.abtest.advance(engine, run.registry, run.settings, home, now=run.now).test.stage == 1


def test_advance_while_another_run_holds_the_lock_is_exit_3(home: Path, db_url: str, engine,
                                                             versions: tuple[str, str]) -> None:  # noqa: ANN001
    from nbalife.locks import run_lock

    with run_lock("abtest", home=home, engine=engine):
        result = run_nbalife("--home", str(home), "--db", db_url, "abtest", "advance")
    assert result.returncode == 3, result.stderr
    assert "lock 'abtest' is held" in result.stderr


@pytest.mark.parametrize("mode", ["split", "shadow"])
def test_predict_routes_through_the_running_test(home: Path, engine, versions: tuple[str, str], tiny_model_set,
                                                 repo_data: Path, mode: str) -> None:  # noqa: ANN001
    from nbalife.abtest.routing import assign_arm
    from nbalife.interchange import PATTERN_COLUMNS, load_games
    from nbalife.registry import Registry
    from nbalife.services import abtest
    from nbalife.services.forecasting import forecast_routed
    from nbalife.services.model_loading import load_model_set
    from nbalife.services.registry import open_registry

    champion, candidate = versions
    games = load_games(repo_data / "nba_2021-22.csv")[:60]
    ids, patterns = list(games["game_id"]), games[PATTERN_COLUMNS].to_numpy(np.float32)
    now = dt.datetime.now(dt.timezone.utc)
    production = load_model_set(Registry(home, engine))
    assert forecast_routed(engine, Registry(home, engine), production, ids, patterns, now=now) is None
    test = abtest.start(engine, open_registry(home, engine, tiny_model_set.settings), tiny_model_set.settings, home,
                        candidate=candidate, mode=mode, traffic=0.5, min_improvement=0.5, now=now)
    result = forecast_routed(engine, Registry(home, engine), production, ids, patterns, now=now)
    with engine.connect() as conn:
        logged = {(r.game_id, r.arm, r.model_version) for r in conn.execute(schema.predictions.select())}
    if mode == "shadow":
        expected = {(g, "A", champion) for g in ids} | {(g, "shadow", candidate) for g in ids}
    else:
        arms = {g: assign_arm(test.test_id, g, 0.5) for g in ids}
        expected = {(g, arm, candidate if arm == "B" else champion) for g, arm in arms.items()}
        assert 0 < sum(a == "B" for a in arms.values()) < len(ids)
    assert logged == expected and result.logged == len(expected)
    assert [(r.game_id, r.arm, r.version) for r in result.rows] == sorted(
        expected, key=lambda row: (ids.index(row[0]), row[1] != "A"))


def test_predict_cli_logs_both_arms_in_shadow_mode_and_arm_overrides(cli_db, engine, versions: tuple[str, str],
                                                                     repo_data: Path, tmp_path: Path) -> None:
    from nbalife.interchange import load_games

    champion, candidate = versions
    source = tmp_path / "tonight.csv"
    load_games(repo_data / "nba_2021-22.csv")[:20].to_csv(source, index=False)
    assert cli_db("abtest", "start", "--candidate", candidate, "--mode", "shadow").exit_code == 0
    result = cli_db("--json", "predict", "--input", str(source))
    assert result.exit_code == 0, result.output
    assert {(r["arm"], r["version"]) for r in json.loads(result.stdout)["rows"]} == {("A", champion),
                                                                                  ("shadow", candidate)}
    override = cli_db("--json", "predict", "--input", str(source), "--arm", "B", "--again")
    assert {(r["arm"], r["version"]) for r in json.loads(override.stdout)["rows"]} == {("B", champion)}
    with engine.connect() as conn:
        assert len(conn.execute(schema.predictions.select()).all()) == 60


def test_predict_table_names_each_rows_version_and_arm_under_a_split_test(cli_db, engine, versions: tuple[str, str],
                                                                          repo_data: Path, tmp_path: Path) -> None:  # noqa: ANN001
    from nbalife.interchange import load_games

    champion, candidate = versions
    source = tmp_path / "tonight.csv"
    load_games(repo_data / "nba_2021-22.csv")[:40].to_csv(source, index=False)
    assert cli_db("abtest", "start", "--candidate", candidate, "--traffic", "0.5").exit_code == 0
    rows = json.loads(cli_db("--json", "predict", "--input", str(source), "--no-log").stdout)["rows"]
    served = {arm: sum(r["arm"] == arm for r in rows) for arm in ("A", "B")}
    assert served["A"] and served["B"] and not any(r["logged"] for r in rows)
    shown = cli_db("predict", "--input", str(source))
    assert shown.exit_code == 0, shown.output
    title = f"2 versions: {champion} (A, {served['A']} games), {candidate} (B, {served['B']} games)"
    assert title in " ".join(shown.stdout.split()), shown.stdout
    assert "version" in shown.stdout and "arm" in shown.stdout and f"{len(rows)} logged" in shown.stdout
    with engine.connect() as conn:
        assert len(conn.execute(schema.predictions.select()).all()) == 40  # --no-log wrote none of its 40


def test_human_output_of_status_and_history(cli_db, engine, versions: tuple[str, str]) -> None:
    assert "no A/B test is running" in cli_db("abtest", "status").stdout
    assert cli_db("abtest", "start", "--candidate", versions[1], "--traffic", "0.3").exit_code == 0
    fresh = cli_db("abtest", "status")
    assert fresh.exit_code == 0 and "30% -> 50% -> promote" in fresh.stdout and "continue" in fresh.stdout
    log_resolved(engine, 200, gap=1.0, seed=8)
    result = cli_db("abtest", "status")
    for text in ("Arms", "welch_t p-value", "always-valid p (B better)", "with control variate", "Decision"):
        assert text in result.stdout, result.stdout
    assert versions[1] in cli_db("abtest", "history").stdout


def test_advance_if_running_with_no_test_is_nothing_to_do(cli) -> None:
    assert cli("abtest", "advance").exit_code == 2
    result = cli("--json", "abtest", "advance", "--if-running")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["action"] == "idle"
