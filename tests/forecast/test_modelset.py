"""The model set: fitted on three splits, calibrated, saved as eight files (six for a
pattern-only set), loaded back; with and without pre-game context."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nbalife.errors import BadInput
from nbalife.forecast.ensemble import Ensemble
from nbalife.forecast.lstm import LSTMForecaster
from nbalife.forecast.lstm_schedule import Schedule
from nbalife.forecast.metrics import interval_metrics, point_metrics
from nbalife.forecast.modelset import (
    CONTEXT_FILES,
    FILES,
    Forecasts,
    ModelSet,
    ModelSetParams,
)
from nbalife.forecast.patterns import to_arrays

from .conftest import random_walk_games

PARAMS = ModelSetParams(dejavu_k=50, lstm=Schedule(hidden_size=16, num_layers=1, epochs=2, batch_size=64,
                                                   learning_rate=3e-3))


@pytest.fixture(scope="module")
def splits() -> dict[str, pd.DataFrame]:
    sizes = {"train": 1500, "validation": 400, "calibration": 1000, "test": 1000}
    return {name: random_walk_games(n, seed=20 + i, id_prefix=name)
            for i, (name, n) in enumerate(sizes.items())}


@pytest.fixture(scope="module")
def model_set(splits: dict[str, pd.DataFrame]) -> ModelSet:
    return ModelSet.fit(splits["train"], splits["validation"], splits["calibration"], PARAMS)


def test_interval_covers_about_95_percent_of_new_games(model_set: ModelSet,
                                                       splits: dict[str, pd.DataFrame]) -> None:
    test = to_arrays(splits["test"])
    forecasts = model_set.predict(test.X)
    coverage = interval_metrics(test.y, forecasts.lower, forecasts.upper)["coverage"]
    assert 0.90 <= coverage <= 0.99
    assert point_metrics(test.y, forecasts.forecast)["mae"] < np.abs(test.moves).mean()


def test_forecasts_combine_the_parts(model_set: ModelSet, splits: dict[str, pd.DataFrame]) -> None:
    X = to_arrays(splits["test"]).X[:100]
    forecasts = model_set.predict(X)
    assert isinstance(forecasts, Forecasts) and len(forecasts) == 100
    for name in ("forecast", "lower", "upper", "dejavu", "lstm"):
        assert getattr(forecasts, name).shape == (100,)
    np.testing.assert_array_equal(forecasts.dejavu, model_set.dejavu.predict(X))
    np.testing.assert_array_equal(forecasts.lstm, model_set.lstm.predict(X))
    assert forecasts.context is None  # no edges: pattern-only
    w = model_set.ensemble.pattern_weights()["dejavu"]
    np.testing.assert_allclose(forecasts.forecast, w * forecasts.dejavu + (1 - w) * forecasts.lstm)
    q = model_set.conformal.quantile_  # the lattice: whole points within q, ends at half points
    np.testing.assert_allclose(forecasts.lower, np.ceil(forecasts.forecast - q) - 0.5)
    np.testing.assert_allclose(forecasts.upper, np.floor(forecasts.forecast + q) + 0.5)
    assert model_set.predict(X[0]).forecast.shape == (1,)


def test_parts_are_fitted_on_their_splits(model_set: ModelSet,
                                          splits: dict[str, pd.DataFrame]) -> None:
    assert model_set.dejavu.n_patterns_ == 2900  # every training game
    assert model_set.dejavu.game_ids_[0].startswith("train")
    assert model_set.lstm.history_["epochs_run"] <= 2
    # weights and the layer's scores from out-of-fold forecasts of every game
    assert model_set.ensemble.validation_mae_["n"] == 2900
    assert len(model_set.conformal.split_.scores_) == 2900
    assert model_set.conformal.alpha == 0.05 and model_set.conformal.gamma == 0.005


def test_context_enters_with_edges(model_set: ModelSet, splits: dict[str, pd.DataFrame]) -> None:
    test = splits["test"]
    pregame = model_set.pregame(test, history=splits["calibration"])
    X = to_arrays(test).X
    forecasts = model_set.predict(X, pregame.edge)
    np.testing.assert_array_equal(forecasts.context, model_set.context.predict(X, pregame.edge))
    w = model_set.ensemble.weights_
    assert set(w) == {"dejavu", "lstm", "context"} and sum(w.values()) == pytest.approx(1.0)
    np.testing.assert_allclose(forecasts.forecast, w["dejavu"] * forecasts.dejavu
                               + w["lstm"] * forecasts.lstm + w["context"] * forecasts.context)
    # fitted on every training game once the weights were chosen out of fold
    assert model_set.ratings.n_games_ == 2900 and model_set.context.n_games_ == 2900


def test_the_ratings_checkpoint_replays_like_the_whole_history(
        model_set: ModelSet, splits: dict[str, pd.DataFrame]) -> None:
    history = pd.concat([splits[name] for name in ("train", "validation", "calibration")],
                        ignore_index=True)
    point = model_set.ratings.checkpoint_
    days = sorted(set(history["game_date"]))
    assert point["day"] == days[-2]  # the state before the last day, which may be incomplete
    assert point["totals"][0] == int((history["game_date"] <= days[-2]).sum())
    test = splits["test"].iloc[:80]  # ten days after the checkpoint, their results counting
    later = test.assign(game_date=(np.datetime64(point["day"]) + 1 + np.arange(80) // 8).astype(str))
    full = model_set.pregame(later, history=history)
    short = model_set.pregame(later, history=history, start=True)  # up to its day: skipped
    assert full.edge.std() > 0
    np.testing.assert_allclose(short.edge, full.edge, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(short.known_home, full.known_home)
    with pytest.raises(BadInput, match="on or before its day"):
        model_set.pregame(test.iloc[:1].assign(game_date=point["day"]), start=True)


def test_save_writes_exactly_eight_files_and_loads_back(tmp_path: Path, model_set: ModelSet,
                                                        splits: dict[str, pd.DataFrame]) -> None:
    paths = model_set.save(tmp_path)
    assert sorted(p.name for p in paths) == sorted(FILES + CONTEXT_FILES) == sorted(
        p.name for p in tmp_path.iterdir())
    assert sorted(FILES + CONTEXT_FILES) == sorted([
        "dejavu.npz", "dejavu.json", "lstm.npz", "lstm.json", "conformal.json", "ensemble.json",
        "ratings.json", "context.json"])
    X = to_arrays(splits["test"]).X
    edge = model_set.pregame(splits["test"]).edge
    loaded = ModelSet.load(tmp_path)
    for before, after in ((model_set.predict(X), loaded.predict(X)),
                          (model_set.predict(X, edge), loaded.predict(X, edge))):
        for name in ("forecast", "lower", "upper", "dejavu", "lstm"):
            np.testing.assert_array_equal(getattr(after, name), getattr(before, name))


def test_a_set_without_final_margins_is_pattern_only(tmp_path: Path,
                                                     splits: dict[str, pd.DataFrame]) -> None:
    train, validation, calibration = (splits[n].drop(columns="final_diff")
                                      for n in ("train", "validation", "calibration"))
    model = ModelSet.fit(train, validation, calibration, PARAMS)
    assert model.ratings is None and set(model.ensemble.weights_) == {"dejavu", "lstm"}
    assert sorted(p.name for p in model.save(tmp_path)) == sorted(FILES)
    X = to_arrays(splits["test"]).X
    assert ModelSet.load(tmp_path).predict(X, np.zeros(len(X))).context is None


def test_one_context_file_without_the_other_is_bad_input(tmp_path: Path,
                                                         model_set: ModelSet) -> None:
    model_set.save(tmp_path)
    (tmp_path / "context.json").unlink()
    with pytest.raises(BadInput, match="context.json: missing"):
        ModelSet.load(tmp_path)


@pytest.mark.parametrize("name", FILES + CONTEXT_FILES)
def test_a_truncated_file_is_bad_input_naming_it(tmp_path: Path, model_set: ModelSet,
                                                 name: str) -> None:
    model_set.save(tmp_path)
    path = tmp_path / name
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    with pytest.raises(BadInput, match=name):
        ModelSet.load(tmp_path)


def test_missing_file_or_directory(tmp_path: Path, model_set: ModelSet) -> None:
    with pytest.raises(BadInput, match="no such model directory"):
        ModelSet.load(tmp_path / "nope")
    model_set.save(tmp_path)
    (tmp_path / "ensemble.json").unlink()
    with pytest.raises(BadInput, match=r"ensemble.json: missing model file"):
        ModelSet.load(tmp_path)


def test_real_games_through_fit_predict_and_evaluate(real_frame: pd.DataFrame) -> None:
    progress: list[tuple] = []
    params = ModelSetParams(dejavu_k=20, lstm=Schedule(hidden_size=8, num_layers=1, epochs=2, batch_size=32),
                            conformal_halflife=14.0)
    model = ModelSet.fit(real_frame.iloc[:200], real_frame.iloc[200:250], real_frame.iloc[250:],
                         params, progress=lambda *a: progress.append(a))
    assert [p[:2] for p in progress] == [(1, 2), (2, 2)]
    assert model.conformal.split_.weights_ is not None
    test = to_arrays(real_frame.iloc[250:])
    forecasts = model.predict(test.X)
    assert np.isfinite(forecasts.forecast).all() and np.isfinite(forecasts.upper).all()
    assert point_metrics(test.y, forecasts.forecast)["n"] == 69


def test_importing_the_model_set_does_not_import_torch() -> None:
    code = "import sys, nbalife.forecast.modelset; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_three_component_weights_shrink_to_the_per_source_prior() -> None:
    rng = np.random.default_rng(3)
    y = rng.normal(0, 6, 300)
    base = y + rng.normal(0, 5, 300)  # three copies: no weighting beats the prior
    noisy = [base, base.copy(), base.copy()]
    weights = Ensemble().fit(y, *noisy)
    assert weights.weights_ == {"dejavu": 0.25, "lstm": 0.25, "context": 0.5}
    assert weights.pattern_weights() == {"dejavu": 0.5, "lstm": 0.5}
    noisy[1] = y + rng.normal(0, 5, 300)
    sharp = Ensemble().fit(y, noisy[0], noisy[1], y + rng.normal(0, 0.5, 300))
    assert sharp.weights_["context"] > 0.9
    shares = sharp.pattern_weights()  # the context weight shared, equal shares if it was all
    assert sum(shares.values()) == pytest.approx(1.0)
    np.testing.assert_allclose(sharp.predict(noisy[0], noisy[1]),
                               shares["dejavu"] * noisy[0] + shares["lstm"] * noisy[1])


# What a version registered before the LSTM's parameters became one ``Schedule`` records.
RECORDED_BEFORE = {
    "dejavu_k": 200, "dejavu_aggregation": "median", "lstm_hidden_size": 32, "lstm_num_layers": 1,
    "lstm_epochs": 8, "lstm_batch_size": 128, "lstm_learning_rate": 0.002, "lstm_patience": 4, "lstm_tol": 0.001,
    "lstm_seed": 7, "lstm_device": "cpu", "alpha": 0.05, "conformal_halflife": None, "aci_gamma": 0.005,
    "online": "quantile", "online_step": 1.0, "ensemble_step": 0.01, "ensemble_move_se": 2.0,
}


def test_recorded_parameters_keep_their_flat_keys_and_read_back() -> None:
    params = ModelSetParams.from_dict({**RECORDED_BEFORE, "conformal_recalibration": {"from": "1.0.0"}})
    assert params.lstm == Schedule(hidden_size=32, num_layers=1, epochs=8, batch_size=128, learning_rate=0.002,
                                   patience=4, tol=0.001, seed=7, device="cpu")
    assert params.to_dict() == RECORDED_BEFORE
    assert ModelSetParams.from_dict(ModelSetParams().to_dict()) == ModelSetParams()


def test_one_set_of_lstm_defaults_for_the_schedule_the_forecaster_and_the_configuration() -> None:
    from dataclasses import asdict

    from nbalife.config import LstmSettings

    assert LSTMForecaster().get_params() == asdict(Schedule()) == asdict(Schedule.of(LstmSettings()))
