"""LSTM forecaster: training contract, determinism, skill, early stopping, persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from nbalife.errors import BadInput
from nbalife.forecast.lstm import LSTMForecaster
from nbalife.forecast.lstm_torch import CPU_TRAIN_THREADS, HUBER_DELTA, Network
from nbalife.forecast.patterns import GameArrays, to_arrays
from tests.forecast.conftest import damage_file

from .conftest import random_walk_games

Splits = tuple[GameArrays, GameArrays, GameArrays]
SMALL = {"hidden_size": 16, "num_layers": 1, "epochs": 3, "batch_size": 64,
         "learning_rate": 3e-3}


@pytest.fixture(scope="module")
def splits() -> Splits:
    train, val, test = (to_arrays(random_walk_games(n, seed=seed))
                        for n, seed in ((2000, 11), (500, 12), (1000, 13)))
    return train, val, test


@pytest.fixture(scope="module")
def trained(splits: Splits) -> LSTMForecaster:
    train, val, _ = splits
    return LSTMForecaster(**SMALL).fit(train.X, train.moves, val.X, val.moves)


def test_fit_returns_self_and_predicts_one_value_per_game(splits: Splits) -> None:
    train, val, test = splits
    model = LSTMForecaster(**{**SMALL, "epochs": 1})
    assert model.fit(train.X[:300], train.moves[:300], val.X, val.moves) is model
    forecast = model.predict(test.X)
    assert forecast.shape == (1000,) and forecast.dtype == np.float64
    assert model.predict(test.X[0]).shape == (1,)
    assert set(model.normalisation_) == {"input_scale", "target_mean", "target_sd"}


def test_beats_predicting_no_move_on_drifted_walks(trained: LSTMForecaster, splits: Splits) -> None:
    test = splits[2]
    lstm_mae = np.abs(test.y - trained.predict(test.X)).mean()
    persistence_mae = np.abs(test.moves).mean()
    assert lstm_mae < 0.95 * persistence_mae


def test_same_seed_same_model_other_seed_other_model(trained: LSTMForecaster,
                                                     splits: Splits) -> None:
    train, val, test = splits
    again = LSTMForecaster(**SMALL).fit(train.X, train.moves, val.X, val.moves)
    np.testing.assert_array_equal(again.predict(test.X), trained.predict(test.X))
    assert again.history_ == trained.history_
    other = LSTMForecaster(**SMALL, seed=1).fit(train.X, train.moves, val.X, val.moves)
    assert not np.array_equal(other.predict(test.X), trained.predict(test.X))


def test_training_leaves_the_callers_torch_rng_alone(splits: Splits) -> None:
    train, val, _ = splits
    state = torch.get_rng_state()
    LSTMForecaster(**{**SMALL, "epochs": 1}).fit(train.X[:200], train.moves[:200], val.X, val.moves)
    assert torch.equal(torch.get_rng_state(), state)


def test_cpu_training_runs_on_its_threads_and_restores_the_callers(splits: Splits) -> None:
    train, val, _ = splits
    threads = torch.get_num_threads()
    during: list[int] = []
    try:
        torch.set_num_threads(CPU_TRAIN_THREADS + 1)
        LSTMForecaster(**{**SMALL, "epochs": 1}).fit(
            train.X[:200], train.moves[:200], val.X, val.moves,
            progress=lambda *_: during.append(torch.get_num_threads()))
        assert during == [CPU_TRAIN_THREADS]
        assert torch.get_num_threads() == CPU_TRAIN_THREADS + 1
    finally:
        torch.set_num_threads(threads)


def test_progress_is_reported_each_epoch(splits: Splits) -> None:
    train, val, _ = splits
    calls: list[tuple] = []
    model = LSTMForecaster(**{**SMALL, "epochs": 2, "patience": 5}).fit(
        train.X[:300], train.moves[:300], val.X, val.moves, progress=lambda *a: calls.append(a))
    assert [c[:2] for c in calls] == [(1, 2), (2, 2)]
    assert [c[2] for c in calls] == model.history_["train_loss"]
    assert [c[3] for c in calls] == model.history_["val_loss"]


def _val_loss(model: LSTMForecaster, val: GameArrays) -> float:
    norm = model.normalisation_
    z_hat = (model.predict(val.X) - val.X[:, 18] - norm["target_mean"]) / norm["target_sd"]
    z = (val.moves - norm["target_mean"]) / norm["target_sd"]
    return float(torch.nn.functional.huber_loss(torch.tensor(z_hat), torch.tensor(z),
                                                delta=HUBER_DELTA))


def test_early_stopping_keeps_the_best_epoch(splits: Splits) -> None:
    train = splits[0]
    # A validation set from another process: improvement stops quickly.
    odd = to_arrays(random_walk_games(300, seed=99, drift_sd=0.0, step_sd=4.0))
    model = LSTMForecaster(**{**SMALL, "epochs": 12, "patience": 1, "learning_rate": 0.02}).fit(
        train.X, train.moves, odd.X, odd.moves)
    history = model.history_
    losses = history["val_loss"]
    assert history["best_epoch"] == int(np.argmin(losses)) + 1
    assert history["best_val_loss"] == min(losses)
    assert history["stopped_early"]
    assert history["epochs_run"] == history["best_epoch"] + 1 < 12
    assert _val_loss(model, odd) == pytest.approx(history["best_val_loss"], rel=1e-4)


def test_tol_stops_on_a_plateau_of_small_improvements(splits: Splits) -> None:
    train, val, _ = splits
    params = {**SMALL, "epochs": 6, "patience": 2}
    plain = LSTMForecaster(**params).fit(train.X, train.moves, val.X, val.moves).history_
    losses = plain["val_loss"]
    assert losses[1] < losses[0] and not plain["stopped_early"]  # epoch 2 improves a little
    tol = 1.01 * (1 - min(losses[1:]) / losses[0])  # more than any later epoch improves
    history = LSTMForecaster(**params, tol=tol).fit(train.X, train.moves, val.X, val.moves).history_
    assert history["val_loss"] == losses[:3]  # same training, stopped after 2 epochs of patience
    assert (history["best_epoch"], history["best_val_loss"], history["stopped_early"]) == \
        (1, losses[0], True)


@pytest.mark.parametrize("params, message", [
    ({"device": "tpu"}, "allowed values are cpu, cuda, auto"),
    ({"epochs": 0}, "epochs=0 must be a whole number >= 1"),
    ({"learning_rate": -1.0}, "learning_rate=-1.0"),
    ({"seed": -3}, "seed=-3"),
    ({"tol": 1.0}, r"tol=1.0 must be a number in \[0, 1\)"),
])
def test_bad_parameters(params: dict, message: str, splits: Splits) -> None:
    train, val, _ = splits
    with pytest.raises(BadInput, match=message):
        LSTMForecaster(**params).fit(train.X[:10], train.moves[:10], val.X[:10], val.moves[:10])


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_requested_without_cuda(splits: Splits) -> None:
    train, val, _ = splits
    with pytest.raises(BadInput) as caught:
        LSTMForecaster(device="cuda").fit(train.X[:10], train.moves[:10], val.X[:10], val.moves[:10])
    assert str(caught.value) == "--device cuda requested but CUDA is not available"


def test_save_load_round_trip(tmp_path: Path, trained: LSTMForecaster, splits: Splits) -> None:
    test = splits[2]
    paths = trained.save(tmp_path)
    assert sorted(p.name for p in paths) == ["lstm.json", "lstm.npz"]
    loaded = LSTMForecaster.load(tmp_path)
    np.testing.assert_array_equal(loaded.predict(test.X), trained.predict(test.X))
    assert loaded.get_params() == trained.get_params()
    assert loaded.history_ == trained.history_
    with np.load(tmp_path / "lstm.npz", allow_pickle=False) as npz:
        assert sorted(npz.files) == sorted(Network(16, 1).state_dict())


@pytest.mark.parametrize("damage", ["truncate", "garbage", "missing"])
@pytest.mark.parametrize("name", ["lstm.npz", "lstm.json"])
def test_damaged_files_are_bad_input_naming_them(tmp_path: Path, trained: LSTMForecaster,
                                                 name: str, damage: str) -> None:
    trained.save(tmp_path)
    damage_file(tmp_path / name, damage)
    with pytest.raises(BadInput, match=name):
        LSTMForecaster.load(tmp_path)


def test_a_set_saved_before_lstm_npz_loads_its_torch_weights(tmp_path: Path,
                                                             trained: LSTMForecaster,
                                                             splits: Splits) -> None:
    trained.save(tmp_path)
    (tmp_path / "lstm.npz").unlink()
    torch.save({k: torch.from_numpy(v) for k, v in trained.weights_.items()}, tmp_path / "lstm.pt")
    loaded = LSTMForecaster.load(tmp_path)
    np.testing.assert_array_equal(loaded.predict(splits[2].X), trained.predict(splits[2].X))
