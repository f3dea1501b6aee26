"""train → predict → outcomes sync → evaluate through the CLI, on both backends."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select

from nbalife.interchange import FUTURE_COLUMNS, load_games, write_games
from nbalife.simulate import simulate_season
from nbalife.store import schema
from tests.conftest import Cli, carry_registry, run_nbalife

FAST = "lstm:\n  epochs: 3\n  hidden_size: 16\n  num_layers: 1\n  patience: 2\ndejavu:\n  k: 20\n"


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """600 simulated games: 450 of history, 150 upcoming (with and without their results)."""
    folder = tmp_path_factory.mktemp("season")
    frame = simulate_season(600, season="2023-24", seed=11)
    frame = frame.sort_values(["game_date", "game_id"], kind="stable").reset_index(drop=True)
    return {
        "history": write_games(frame[:450], folder / "history.csv"),
        "upcoming": write_games(frame[450:], folder / "upcoming.parquet"),
        "patterns": write_games(frame[450:].drop(columns=FUTURE_COLUMNS), folder / "patterns.csv"),
    }


@pytest.fixture(scope="module")
def trained_template(tmp_path_factory: pytest.TempPathFactory, season: dict[str, Path]) -> Path:
    """A home with history ingested and model set 1.0.0 trained, registered and promoted."""
    home = tmp_path_factory.mktemp("template")
    (home / "config.yaml").write_text(FAST)
    cli = Cli(home)
    assert cli("data", "ingest", str(season["history"])).exit_code == 0
    result = cli("--json", "train", "--register", "--promote")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["version"] == "1.0.0" and report["promoted"] is True
    return home


@pytest.fixture
def trained(tmp_path: Path, trained_template: Path, db_url: str, season: dict[str, Path]) -> Cli:
    """A copy of the trained home, on each backend (the fresh store gets the history too)."""
    from nbalife.store.engine import make_engine
    from nbalife.store.migrate import open_store

    home = tmp_path / "home"
    shutil.copytree(trained_template, home, symlinks=True)
    cli = Cli(home, db_url)
    assert cli("data", "ingest", str(season["history"])).exit_code == 0
    engine = make_engine(db_url)
    open_store(engine)
    carry_registry(trained_template, home, engine)
    engine.dispose()
    return cli


def count_predictions(cli: Cli, resolved: bool = False) -> int:
    from nbalife.store.engine import make_engine

    url = cli.db_url or f"sqlite:///{cli.home / 'nbalife.db'}"
    engine = make_engine(url)
    query = select(func.count()).select_from(schema.predictions)
    if resolved:
        query = query.where(schema.predictions.c.actual.is_not(None))
    with engine.connect() as conn:
        n = conn.execute(query).scalar_one()
    engine.dispose()
    return n


def test_train_records_splits_and_metrics(trained_template: Path) -> None:
    cli = Cli(trained_template)
    info = json.loads(cli("--json", "registry", "show", "1.0.0").stdout)
    assert {f["name"] for f in info["files"]} == {
        "dejavu.npz", "dejavu.json", "lstm.npz", "lstm.json", "conformal.json", "ensemble.json",
        "ratings.json", "context.json"}
    metrics = info["metrics"]
    assert 0.8 < metrics["coverage"] <= 1.0
    assert 2.0 < metrics["mae"] < 8.0
    assert metrics["persistence_mae"] > 0 and metrics["evaluated_games"] > 0
    window = info["training_window"]
    assert window["train"] + window["validation"] + window["calibration"] == 450
    assert info["params"]["lstm_epochs"] == 3


def test_full_loop(trained: Cli, season: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "forecasts.csv"
    result = trained("--json", "predict", "--input", str(season["patterns"]), "--output", str(out))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["version"], report["logged"], report["skipped"]) == ("1.0.0", 150, 0)
    forecasts = pd.read_csv(out)
    assert len(forecasts) == 150
    assert (forecasts["lower"] <= forecasts["forecast"]).all() and (forecasts["forecast"] <= forecasts["upper"]).all()
    assert ((forecasts["lower"] + 0.5) % 1 == 0).all() and ((forecasts["upper"] - 0.5) % 1 == 0).all()  # lattice

    again = json.loads(trained("--json", "predict", "--input", str(season["patterns"])).stdout)
    assert (again["logged"], again["skipped"]) == (0, 150)
    assert count_predictions(trained) == 150

    synced = json.loads(trained("--json", "outcomes", "sync").stdout)
    assert (synced["resolved"], synced["pending"]) == (0, 150)  # results not in yet
    assert trained("data", "ingest", str(season["upcoming"])).exit_code == 0
    synced = json.loads(trained("--json", "outcomes", "sync").stdout)
    assert (synced["resolved"], synced["pending"]) == (150, 0)
    assert json.loads(trained("--json", "outcomes", "sync").stdout)["resolved"] == 0  # idempotent
    assert count_predictions(trained, resolved=True) == 150
    online = json.loads(trained("--json", "conformal", "status").stdout)["online"]  # sync advanced the layer
    assert (online["n"], online["stored"], online["checked"], online["differing"]) == (150, True, 150, 0)

    evaluation = json.loads(trained("--json", "evaluate", "--input", str(season["upcoming"])).stdout)
    scores = {s["model"]: s for s in evaluation["scores"]}
    assert set(scores) == {"ensemble", "dejavu", "lstm", "context", "persistence", "oracle"}
    assert evaluation["context"] == {"ratings": 150}
    assert 0.85 <= scores["ensemble"]["coverage"] <= 1.0
    assert scores["ensemble"]["mae"] < 1.2 * scores["persistence"]["mae"]
    parts = [p for p in evaluation["parts"] if p["model"] == "ensemble"]
    assert {p["model"] for p in evaluation["parts"]} == {"ensemble", "dejavu", "lstm", "context", "persistence"}
    assert parts[-1]["coverage"] == pytest.approx(scores["ensemble"]["coverage"])
    assert parts[-1]["mae"] == pytest.approx(scores["ensemble"]["mae"]) and parts[-1]["winkler"] >= parts[-1]["held"]


def test_logged_errors_are_actual_minus_forecast(trained: Cli, season: dict[str, Path]) -> None:
    trained("predict", "--input", str(season["patterns"]))
    trained("data", "ingest", str(season["upcoming"]))
    trained("outcomes", "sync")
    from nbalife.store.engine import make_engine

    engine = make_engine(trained.db_url)
    with engine.connect() as conn:
        rows = conn.execute(select(schema.predictions)).all()
    engine.dispose()
    truth = load_games(season["upcoming"]).set_index("game_id")["d24"]
    for row in rows:
        assert row.actual == truth[row.game_id]
        assert row.error == pytest.approx(row.actual - row.forecast)


def test_single_pattern_and_again(trained: Cli) -> None:
    pattern = "0,2,2,5,3,3,1,-2,0,2,4,4,6,8,7,9,9,11,10"
    first = trained("--json", "predict", "--game-id", "G1", "--pattern", pattern)
    assert first.exit_code == 0, first.output
    (row,) = json.loads(first.stdout)["rows"]
    assert row["game_id"] == "G1" and row["d18"] == 10 and row["logged"] is True
    assert row["lower"] < row["forecast"] < row["upper"]
    repeat = json.loads(trained("--json", "predict", "--game-id", "G1", "--pattern", pattern, "--again").stdout)
    assert repeat["logged"] == 1 and repeat["rows"][0]["forecast"] == row["forecast"]
    explained = json.loads(trained("--json", "predict", "--game-id", "G2", "--pattern", pattern, "--explain", "5").stdout)
    analogs = explained["analogs"]
    assert len(analogs) == 5 and analogs == sorted(analogs, key=lambda a: a["distance"])
    assert all(a["game_id"].startswith("SIM") for a in analogs)
    shadow = json.loads(trained("--json", "predict", "--game-id", "G1", "--pattern", pattern, "--arm", "shadow").stdout)
    assert shadow["logged"] == 1
    assert count_predictions(trained) == 4


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("0,1,2", "has 3 values, expected 19"),
        (",".join(["0"] * 20), "has 20 values, expected 19"),
        ("0," + ",".join(["1"] * 17) + ",nan", "game G9: d18 = 'nan': missing value"),
        ("0," + ",".join(["1"] * 17) + ",inf", "d18 = 'inf': not a finite number"),
        ("0," + ",".join(["1"] * 17) + ",x", "d18 = 'x': not a number"),
        ("3," + ",".join(["1"] * 18), "d0 = '3': d0 must be 0 (the game starts level)"),
        ("0," + ",".join(["1"] * 17) + ",1e30", "d18 = '1e30': changes by 1e+30 points in one minute"),
        ("0," + ",".join(["1"] * 17) + ",20", "d18 = '20': changes by 19 points in one minute"),
        ("0," + ",".join(["1"] * 17) + ",1.5", "d18 = '1.5': not a whole number of points"),
        ("0," + ",".join(["1"] * 17) + ",1_0", "d18 = '1_0': not a number"),
    ],
)
def test_bad_patterns_exit_2_and_log_nothing(trained: Cli, pattern: str, message: str) -> None:
    result = trained("predict", "--game-id", "G9", "--pattern", pattern)
    assert result.exit_code == 2
    assert message in result.stderr and result.stderr.count("\n") == 1
    assert count_predictions(trained) == 0


def test_bad_input_file_logs_nothing(trained: Cli, season: dict[str, Path], tmp_path: Path) -> None:
    frame = pd.read_csv(season["patterns"], dtype=str, keep_default_na=False)
    frame.loc[3, "d11"] = "NaN"
    bad = tmp_path / "bad.csv"
    frame.to_csv(bad, index=False)
    result = trained("predict", "--input", str(bad))
    assert result.exit_code == 2 and "row 5" in result.stderr and "d11" in result.stderr
    short = tmp_path / "short.csv"
    frame.drop(columns=["d18"]).to_csv(short, index=False)
    result = trained("predict", "--input", str(short))
    assert result.exit_code == 2 and "missing column(s) d18" in result.stderr
    assert count_predictions(trained) == 0


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("forecasts.xlsx", "unknown file type '.xlsx' (use .csv or .parquet)"),
        ("missing/forecasts.csv", "does not exist"),
        ("folder.csv", "is a folder, not a file"),
    ],
)
def test_bad_output_path_exits_2_before_logging(trained: Cli, season: dict[str, Path], tmp_path: Path,
                                                name: str, message: str) -> None:
    (tmp_path / "folder.csv").mkdir()
    out = tmp_path / name
    result = trained("predict", "--input", str(season["patterns"]), "--output", str(out))
    assert result.exit_code == 2
    assert f"error: --output {out}: " in result.stderr and message in result.stderr and result.stderr.count("\n") == 1
    assert count_predictions(trained) == 0
    assert not out.is_file() and not (tmp_path / "missing").exists()


def test_empty_input_writes_the_header(trained: Cli, season: dict[str, Path], tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text(season["patterns"].read_text().splitlines()[0] + "\n")
    out = tmp_path / "forecasts.csv"
    result = trained("predict", "--input", str(empty), "--output", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_text().splitlines() == ["game_id,forecast,lower,upper,dejavu,lstm,d18,version,arm,logged,context,context_forecast"]
    assert count_predictions(trained) == 0


def test_no_production_model_yet(cli, season: dict[str, Path]) -> None:
    result = cli("predict", "--input", str(season["patterns"]))
    assert result.exit_code == 2
    assert "run `nbalife train --register --promote` first" in result.stderr
    assert cli("evaluate", "--input", str(season["upcoming"])).exit_code == 2


def test_corrupt_artifact_is_refused(trained: Cli, season: dict[str, Path]) -> None:
    from sqlalchemy import update

    from nbalife.registry import Registry
    from nbalife.store.engine import make_engine

    engine = make_engine(trained.db_url)
    entry = next(f for f in Registry(trained.home, engine).show("1.0.0").files if f.name == "lstm.npz")
    artifacts = schema.registry_artifacts
    with engine.begin() as conn:  # a flipped byte in the store: the local copy is rebuilt from it, or not at all
        data = bytearray(conn.execute(select(artifacts.c.bytes).where(artifacts.c.sha256 == entry.sha256)).scalar_one())
        data[len(data) // 2] ^= 0x01
        conn.execute(update(artifacts).where(artifacts.c.sha256 == entry.sha256).values(bytes=bytes(data)))
    engine.dispose()
    target = trained.home / "model_registry" / "1.0.0"
    target.chmod(0o755)
    (target / "lstm.npz").chmod(0o644)
    (target / "lstm.npz").unlink()
    result = trained("predict", "--input", str(season["patterns"]))
    assert result.exit_code == 1 and "lstm.npz" in result.stderr
    assert count_predictions(trained) == 0


def test_outcomes_for_unknown_game_is_bad_input(trained: Cli) -> None:
    result = trained("outcomes", "sync", "--game-id", "NOPE")
    assert result.exit_code == 2 and "no logged prediction for game id 'NOPE'" in result.stderr


def test_evaluate_unknown_version(trained: Cli, season: dict[str, Path]) -> None:
    result = trained("evaluate", "--input", str(season["upcoming"]), "--version", "9.9.9")
    assert result.exit_code == 2 and "9.9.9" in result.stderr


def test_train_needs_enough_games(cli, home: Path) -> None:
    (home / "config.yaml").write_text(FAST)
    result = cli("train")
    assert result.exit_code == 2 and "at least" in result.stderr


def test_train_until_and_time_order(tmp_path: Path, season: dict[str, Path]) -> None:
    from nbalife.services.train import time_splits

    frame = load_games(season["history"]).sample(frac=1.0, random_state=0)
    train, val, cal = time_splits(frame, 0.15, 0.2)
    assert train["game_date"].max() <= val["game_date"].min()
    assert val["game_date"].max() <= cal["game_date"].min()
    assert len(train) + len(val) + len(cal) == len(frame)


def test_models_trained_on_simulation_hold_up_on_real_games(trained_template: Path, real_games: Path) -> None:
    cli = Cli(trained_template)
    result = cli("--json", "evaluate", "--input", str(real_games))
    assert result.exit_code == 0, result.output
    scores = {s["model"]: s for s in json.loads(result.stdout)["scores"]}
    assert "oracle" not in scores
    assert scores["persistence"]["mae"] == pytest.approx(4.50, abs=0.01)
    assert scores["ensemble"]["mae"] < 1.1 * scores["persistence"]["mae"]
    assert scores["ensemble"]["coverage"] >= 0.85


def test_train_device_option(cli, home: Path, season: dict[str, Path]) -> None:
    import torch

    (home / "config.yaml").write_text(FAST)
    result = cli("train", "--games", str(season["history"]), "--device", "gpu")
    assert result.exit_code == 2 and "'gpu' is not one of cpu, cuda, auto" in result.output
    if not torch.cuda.is_available():
        result = cli("train", "--games", str(season["history"]), "--device", "cuda")
        assert result.exit_code == 2
        assert "CUDA is not available" in result.stderr


def test_blank_game_id_and_too_many_analogs_log_nothing(trained: Cli) -> None:
    pattern = "0,2,2,5,3,3,1,-2,0,2,4,4,6,8,7,9,9,11,10"
    blank = trained("predict", "--game-id", "  ", "--pattern", pattern)
    assert blank.exit_code == 2 and blank.stderr == "error: --game-id is empty\n"
    many = trained("predict", "--game-id", "G1", "--pattern", pattern, "--explain", "100000")
    assert many.exit_code == 2 and many.stderr.startswith("error: --explain 100000: the Dejavu database")
    assert count_predictions(trained) == 0


def test_output_over_the_input_is_refused(trained: Cli, season: dict[str, Path]) -> None:
    before = season["patterns"].read_bytes()
    result = trained("predict", "--input", str(season["patterns"]), "--output", str(season["patterns"]))
    assert result.exit_code == 2 and "is the input file" in result.stderr
    assert season["patterns"].read_bytes() == before and count_predictions(trained) == 0


@pytest.mark.parametrize("value", ["abc", "", "inf"])
def test_evaluate_names_a_bad_oracle_value(trained: Cli, season: dict[str, Path], tmp_path: Path,
                                           value: str) -> None:
    frame = pd.read_parquet(season["upcoming"]).astype({"oracle_d24": object})
    frame.loc[4, "oracle_d24"] = value
    bad = write_games(frame, tmp_path / "bad.csv")
    result = trained("evaluate", "--input", str(bad))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {bad}: row 6 (game {frame.loc[4, 'game_id']}): column oracle_d24")
    assert result.stderr.count("\n") == 1


def test_train_out_over_a_file_fails_before_training(cli, home: Path, season: dict[str, Path]) -> None:
    target = home / "not-a-folder"
    target.write_text("keep")
    result = cli("train", "--games", str(season["history"]), "--out", str(target))
    assert result.exit_code == 2 and result.stderr == f"error: --out {target}: exists and is not a folder\n"
    assert target.read_text() == "keep"


def test_scoring_commands_never_import_torch(trained_template: Path, tmp_path: Path,
                                             season: dict[str, Path]) -> None:
    """``predict`` and ``evaluate`` run the LSTM in numpy: torch is never imported."""
    home = tmp_path / "home"
    shutil.copytree(trained_template, home, symlinks=True)
    pattern = "0,2,2,5,3,3,1,-2,0,2,4,4,6,8,7,9,9,11,10"
    for command in (["predict", "--game-id", "X1", "--pattern", pattern],
                    ["evaluate", "--input", str(season["upcoming"])]):
        proc = run_nbalife("--home", str(home), *command, env={"PYTHONPROFILEIMPORTTIME": "1"})
        assert proc.returncode == 0, proc.stderr
        imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines()
                    if line.startswith("import time:")}
        assert "nbalife.forecast.lstm" in imported and "numpy" in imported
        assert not {name for name in imported if name.split(".")[0] == "torch"}


@pytest.mark.parametrize("weights", ["lstm.npz", "lstm.pt"])
def test_lstm_weights_that_do_not_fit_lstm_json_exit_2(trained: Cli, season: dict[str, Path],
                                                      tmp_path: Path, weights: str) -> None:
    """A registered set (checksums fine) whose weights do not fit its recorded hidden size:
    the numpy path (lstm.npz) and the torch path (a legacy lstm.pt) both name file and tensor."""
    import numpy as np

    folder = tmp_path / "mismatched"
    shutil.copytree(trained.home / "model_registry" / "1.0.0", folder)
    (folder / "metadata.json").unlink()
    meta = json.loads((folder / "lstm.json").read_text())
    meta["params"]["hidden_size"] = 12  # trained with 16
    (folder / "lstm.json").write_text(json.dumps(meta))
    if weights == "lstm.pt":
        import torch

        with np.load(folder / "lstm.npz") as npz:
            torch.save({name: torch.from_numpy(npz[name]) for name in npz.files}, folder / "lstm.pt")
        (folder / "lstm.npz").unlink()
    registered = trained("--json", "registry", "register", "--from", str(folder), "--version", "7.0.0")
    assert registered.exit_code == 0, registered.output
    result = trained("evaluate", "--input", str(season["upcoming"]), "--version", "7.0.0")
    assert result.exit_code == 2
    assert f"7.0.0/{weights}: tensor lstm.weight_ih_l0 has shape (64, 2), lstm.json " \
           "(hidden_size=12, num_layers=1) needs (48, 2)" in result.stderr
