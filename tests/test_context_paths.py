"""Team-strength context in predict and evaluate: as of each game's date (no leakage), the
pattern-only fallback, unknown teams, bad matchups and dates, and the persistence guard."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from nbalife.interchange import FUTURE_COLUMNS, PATTERN_COLUMNS, write_games
from nbalife.registry.gate import Gate
from nbalife.simulate import simulate_season
from nbalife.store import schema
from tests.conftest import Cli, carry_registry, run_nbalife

FAST = "lstm:\n  epochs: 2\n  hidden_size: 8\n  num_layers: 1\n  patience: 1\ndejavu:\n  k: 20\n"


@pytest.fixture(scope="module")
def games() -> pd.DataFrame:
    frame = simulate_season(800, season="2023-24", seed=5)
    return frame.sort_values(["game_date", "game_id"], kind="stable").reset_index(drop=True)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, games: pd.DataFrame) -> Path:
    """A home whose production set was trained on the first 600 games."""
    home = tmp_path_factory.mktemp("context")
    (home / "config.yaml").write_text(FAST)
    history = write_games(games[:600], home / "history.csv")
    cli = Cli(home)
    assert cli("data", "ingest", str(history)).exit_code == 0
    result = cli("--json", "train", "--register", "--promote")
    assert result.exit_code == 0, result.output
    return home


@pytest.fixture
def home(tmp_path: Path, template: Path, db_url: str) -> Cli:
    """The trained home on each backend, its store holding the 600 training games."""
    from nbalife.store.engine import make_engine
    from nbalife.store.migrate import open_store

    shutil.copytree(template, tmp_path / "home", symlinks=True)
    cli = Cli(tmp_path / "home", db_url)
    assert cli("data", "ingest", str(tmp_path / "home" / "history.csv")).exit_code == 0
    engine = make_engine(db_url)
    open_store(engine)
    carry_registry(template, tmp_path / "home", engine)  # the registry lives in the store
    engine.dispose()
    return cli


def ingest(cli: Cli, frame: pd.DataFrame, name: str) -> None:
    path = write_games(frame, cli.home / f"{name}.csv")
    assert cli("data", "ingest", str(path)).exit_code == 0


def forecast_of(cli: Cli, game: pd.Series, *extra: str) -> dict:
    pattern = ",".join(str(int(game[c])) for c in PATTERN_COLUMNS)
    result = cli("--json", "predict", "--game-id", str(game["game_id"]), "--pattern", pattern,
                 "--again", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["rows"][0]


def test_forecast_sees_only_results_before_its_date(home: Cli, games: pd.DataFrame) -> None:
    target = games.iloc[680]
    day = target["game_date"]
    matchup = ("--matchup", f"{target['away']}@{target['home']}", "--date", day)
    earlier = games[(games.index >= 600) & (games["game_date"] < day)]
    ingest(home, earlier, "earlier")
    first = forecast_of(home, target, *matchup)
    assert first["context"] == "ratings" and first["context_forecast"] is not None

    ingest(home, games[games["game_date"] >= day], "later_and_own")  # same day, later, its own
    assert forecast_of(home, target, *matchup)["forecast"] == first["forecast"]

    team = target["home"]
    changed = earlier[(earlier["home"] == team) | (earlier["away"] == team)].tail(1).copy()
    changed["final_diff"] = changed["final_diff"] + 40
    ingest(home, changed, "changed")
    moved = forecast_of(home, target, *matchup)
    assert moved["context_forecast"] != first["context_forecast"]
    assert moved["forecast"] != first["forecast"]


def test_the_ratings_checkpoint_serves_games_after_training_until_a_training_result_changes(
        home: Cli, games: pd.DataFrame) -> None:
    from nbalife.forecast.modelset import ModelSet
    from nbalife.services.matchups import single_game, with_store
    from nbalife.store.engine import make_engine

    target, trained = games.iloc[680], games[:600]
    day = target["game_date"]
    assert day > trained["game_date"].max()
    matchup = ("--matchup", f"{target['away']}@{target['home']}", "--date", day)
    ingest(home, games[(games.index >= 600) & (games["game_date"] < day)], "earlier")
    first = forecast_of(home, target, *matchup)
    models = ModelSet.load(next(home.home.rglob("ratings.json")).parent)
    game = single_game(str(target["game_id"]), matchup[1], day)
    engine = make_engine(home.db_url)
    try:
        assert with_store(engine, game, models).checkpoint  # the store matches the training games
        team = target["home"]
        before = trained[trained["game_date"] < trained["game_date"].max()]  # by the checkpoint
        changed = before[(before["home"] == team) | (before["away"] == team)].tail(1).copy()
        changed["final_diff"] = changed["final_diff"] + 40
        ingest(home, changed, "changed")
        assert with_store(engine, game, models).checkpoint is None  # the whole store is replayed
        assert forecast_of(home, target, *matchup)["context_forecast"] != first["context_forecast"]
        ingest(home, trained.loc[changed.index], "restored")
        assert with_store(engine, game, models).checkpoint
        assert forecast_of(home, target, *matchup)["forecast"] == first["forecast"]
    finally:
        engine.dispose()


def test_an_arm_with_another_checkpoint_gets_its_own_history(home: Cli, games: pd.DataFrame) -> None:
    import dataclasses

    import numpy as np

    from nbalife.forecast.modelset import ModelSet
    from nbalife.forecast.ratings import TeamRatings
    from nbalife.services.matchups import game_context, single_game, with_store
    from nbalife.store.engine import make_engine

    target = games.iloc[680]
    ingest(home, games[(games.index >= 600) & (games["game_date"] < target["game_date"])], "earlier")
    models = ModelSet.load(next(home.home.rglob("ratings.json")).parent)
    earlier = TeamRatings.from_dict(models.ratings.to_dict()).checkpoint(games[:300])
    other = dataclasses.replace(models, ratings=earlier)  # e.g. an A/B test's candidate
    game = single_game(str(target["game_id"]), f"{target['away']}@{target['home']}",
                       target["game_date"])
    engine = make_engine(home.db_url)
    try:
        built = with_store(engine, game, models)  # production's checkpoint: results after it
        whole = with_store(engine, game)
        assert built.checkpoint and whole.checkpoint is None
        for model_set in (models, other):
            np.testing.assert_allclose(game_context(model_set, built, 1).edge,
                                       game_context(model_set, whole, 1).edge, rtol=0, atol=1e-9)
    finally:
        engine.dispose()


def test_without_a_matchup_the_forecast_is_pattern_only(home: Cli, games: pd.DataFrame) -> None:
    target = games.iloc[650]
    row = forecast_of(home, target)
    assert (row["context"], row["context_forecast"]) == ("none", None)
    result = home("predict", "--game-id", "P1", "--pattern", ",".join(["0"] * 19))
    assert result.exit_code == 0 and "pattern-only" in result.stderr
    from nbalife.store.engine import make_engine

    engine = make_engine(home.db_url)
    with engine.connect() as conn:
        logged = dict(conn.execute(select(schema.predictions.c.game_id, schema.predictions.c.context)).all())
    engine.dispose()
    assert logged == {target["game_id"]: "none", "P1": "none"}


def test_a_team_never_seen_gets_the_mean_and_is_flagged(home: Cli, games: pd.DataFrame) -> None:
    target = games.iloc[650]
    pattern = ",".join(str(int(target[c])) for c in PATTERN_COLUMNS)
    result = home("predict", "--game-id", "X1", "--pattern", pattern, "--matchup",
                  f"NEW@{target['home']}", "--date", target["game_date"])
    assert result.exit_code == 0, result.output
    assert "unknown-team" in result.stdout and "mean rating" in result.stderr


def test_a_file_gets_context_from_the_store_and_its_own_earlier_games(
        home: Cli, games: pd.DataFrame, tmp_path: Path) -> None:
    upcoming = games[600:]
    patterns = write_games(upcoming.drop(columns=FUTURE_COLUMNS), tmp_path / "upcoming.csv")
    report = json.loads(home("--json", "predict", "--input", str(patterns)).stdout)
    assert {r["context"] for r in report["rows"]} == {"ratings"}
    results = write_games(upcoming, tmp_path / "results.csv")
    evaluation = json.loads(home("--json", "evaluate", "--input", str(results)).stdout)
    assert evaluation["context"] == {"ratings": 200}
    scores = {s["model"]: s for s in evaluation["scores"]}
    assert {"ensemble", "dejavu", "lstm", "context", "persistence"} <= set(scores)
    ensemble = scores["ensemble"]
    assert ensemble["vs_persistence"] == pytest.approx(ensemble["mae"] - scores["persistence"]["mae"])
    assert ensemble["vs_persistence_se"] > 0
    table = home("evaluate", "--input", str(results)).stdout
    assert "persistence by" in table and "±" in table


@pytest.mark.parametrize(("option", "value", "needle"), [
    ("--matchup", "BOSLAL", "BOSLAL"),
    ("--matchup", "@LAL", "empty"),
    ("--matchup", "BOS@", "empty"),
    ("--matchup", "BOS@BOS", "BOS@BOS"),
    ("--date", "2024-13-01", "2024-13-01"),
    ("--date", "soon", "soon"),
])
def test_bad_matchup_or_date_is_exit_2_naming_it(home: Cli, option: str, value: str, needle: str) -> None:
    other = {"--matchup": ("--date", "2024-01-01"), "--date": ("--matchup", "BOS@LAL")}[option]
    result = home("predict", "--game-id", "B1", "--pattern", ",".join(["0"] * 19), option, value, *other)
    assert result.exit_code == 2
    assert needle in result.output and option in result.output


def test_matchup_needs_a_date_as_a_process(tmp_path: Path) -> None:
    result = run_nbalife("--home", str(tmp_path), "predict", "--game-id", "B1", "--pattern",
                         ",".join(["0"] * 19), "--matchup", "BOS@LAL")
    assert result.returncode == 2
    assert "--matchup needs --date" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(("diff", "se", "refused"), [(0.05, 0.02, True), (0.03, 0.02, False),
                                                     (-0.07, 0.02, False)])
def test_gate_refuses_a_set_clearly_worse_than_persistence(diff: float, se: float, refused: bool) -> None:
    figures = {"mae": 4.5, "coverage": 0.95, "vs_persistence": diff, "vs_persistence_se": se}
    failures = Gate(max_mae=8.0, min_coverage=0.9, max_vs_persistence=2.0).failures(figures)
    assert bool(failures) is refused
    if refused:
        assert "worse than persistence" in failures[0]

