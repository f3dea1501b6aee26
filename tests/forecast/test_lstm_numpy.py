"""The numpy forward pass equals torch's LSTM; weights that do not fit lstm.json are BadInput."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from nbalife.errors import BadInput
from nbalife.forecast import lstm_numpy
from nbalife.forecast.lstm import LSTMForecaster, _inputs
from nbalife.forecast.lstm_torch import network_from_weights
from nbalife.forecast.patterns import to_arrays
from nbalife.interchange import load_games
from nbalife.simulate import simulate_season

from .conftest import random_walk_games

REAL_DATA = Path(__file__).resolve().parents[2] / "data" / "nba"


@pytest.fixture(scope="module")
def patterns() -> dict[str, np.ndarray]:
    """Every real game of data/nba (3,856) and 3,000 simulated ones."""
    real = pd.concat([load_games(path) for path in sorted(REAL_DATA.glob("*.csv"))])
    return {"real": to_arrays(real).X,
            "simulated": to_arrays(simulate_season(3000, season="2023-24", seed=5)).X}


def model_with_weights(hidden_size: int, num_layers: int, seed: int) -> LSTMForecaster:
    """A fitted-state LSTM: torch's initial weights scaled up (saturating some gates)."""
    generator = np.random.default_rng(seed)
    model = LSTMForecaster(hidden_size=hidden_size, num_layers=num_layers)
    model.weights_ = {
        name: (generator.normal(0, 0.6, shape) / np.sqrt(shape[-1])).astype(np.float32)
        for name, shape in lstm_numpy.expected_shapes(hidden_size, num_layers).items()}
    model.normalisation_ = {"input_scale": 6.5, "target_mean": 0.1, "target_sd": 5.6}
    model.history_ = {}
    return model


def torch_forecast(model: LSTMForecaster, X: np.ndarray) -> np.ndarray:
    network = network_from_weights(model.weights_, model.hidden_size, model.num_layers)
    norm = model.normalisation_
    with torch.inference_mode():
        z = network(torch.from_numpy(_inputs(X, norm["input_scale"]))).numpy()
    return X[:, -1] + norm["target_mean"] + norm["target_sd"] * z.astype(np.float64)


@pytest.mark.parametrize("hidden_size, num_layers", [(1, 1), (8, 1), (32, 2), (64, 2), (16, 4)])
@pytest.mark.parametrize("source", ["real", "simulated"])
def test_numpy_forecasts_equal_torch(patterns: dict[str, np.ndarray], source: str,
                                     hidden_size: int, num_layers: int) -> None:
    X = patterns[source]
    model = model_with_weights(hidden_size, num_layers, seed=hidden_size + num_layers)
    numpy_forecast = model.predict(X)
    np.testing.assert_allclose(numpy_forecast, torch_forecast(model, X), rtol=0, atol=1e-5)
    assert numpy_forecast.std() > 0.5  # the weights move the forecasts: the check has teeth


def test_a_trained_model_equals_torch_across_batches(monkeypatch: pytest.MonkeyPatch,
                                                     patterns: dict[str, np.ndarray]) -> None:
    train, val = to_arrays(random_walk_games(1500, seed=3)), to_arrays(random_walk_games(300, 4))
    model = LSTMForecaster(hidden_size=24, num_layers=2, epochs=2, batch_size=64).fit(
        train.X, train.moves, val.X, val.moves)
    X = patterns["real"]
    monkeypatch.setattr(lstm_numpy, "BATCH", 777)  # several batches, the last one short
    np.testing.assert_allclose(model.predict(X), torch_forecast(model, X), rtol=0, atol=1e-5)


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    model_with_weights(8, 2, seed=0).save(tmp_path)
    return tmp_path


def resave(folder: Path, change: dict[str, np.ndarray | None], legacy: bool) -> None:
    """Rewrite the saved weights with ``change`` (None drops a tensor), as lstm.npz or lstm.pt."""
    with np.load(folder / "lstm.npz") as npz:
        weights = {name: npz[name] for name in npz.files}
    for name, value in change.items():
        if value is None:
            del weights[name]
        else:
            weights[name] = value
    if legacy:
        (folder / "lstm.npz").unlink()
        torch.save({k: torch.from_numpy(v) for k, v in weights.items()}, folder / "lstm.pt")
    else:
        np.savez(folder / "lstm.npz", **weights)


@pytest.mark.parametrize("legacy", [False, True], ids=["numpy lstm.npz", "torch lstm.pt"])
@pytest.mark.parametrize("change, message", [
    ({"lstm.weight_hh_l1": np.zeros((32, 4), np.float32)},
     r"tensor lstm.weight_hh_l1 has shape \(32, 4\), lstm.json \(hidden_size=8, num_layers=2\) "
     r"needs \(32, 8\)"),
    ({"head.bias": None}, r"tensor head.bias is missing \(lstm.json: hidden_size=8"),
    ({"lstm.weight_ih_l2": np.zeros((32, 8), np.float32)},
     r"tensor lstm.weight_ih_l2 is not in a network of lstm.json's hidden_size=8, num_layers=2"),
    ({"head.weight": np.full((1, 8), np.nan, np.float32)},
     r"tensor head.weight is not finite floating-point numbers"),
])
def test_weights_that_do_not_fit_lstm_json_are_bad_input(saved: Path, legacy: bool,
                                                         change: dict, message: str) -> None:
    resave(saved, change, legacy)
    name = "lstm.pt" if legacy else "lstm.npz"
    with pytest.raises(BadInput, match=rf"{saved / name}: {message}"):
        LSTMForecaster.load(saved)


def test_other_hyper_parameters_in_lstm_json_are_bad_input(saved: Path) -> None:
    meta = (saved / "lstm.json").read_text()
    (saved / "lstm.json").write_text(meta.replace('"hidden_size": 8', '"hidden_size": 16'))
    with pytest.raises(BadInput, match=r"lstm.npz: tensor lstm.weight_ih_l0 has shape \(32, 2\)"):
        LSTMForecaster.load(saved)


def test_a_model_trained_on_any_device_scores_without_a_gpu_or_torch(tmp_path: Path) -> None:
    """Trained with ``device="auto"`` (the GPU when there is one), saved, then loaded and scored
    by a process that sees no GPU: same forecasts, and torch is never imported."""
    train, val = to_arrays(random_walk_games(600, seed=8)), to_arrays(random_walk_games(150, 9))
    model = LSTMForecaster(hidden_size=8, num_layers=2, epochs=1, device="auto").fit(
        train.X, train.moves, val.X, val.moves)
    model.save(tmp_path)
    np.save(tmp_path / "X.npy", val.X)
    code = ("import sys, numpy as np; from nbalife.forecast.lstm import LSTMForecaster; "
            f"d = {str(tmp_path)!r}; m = LSTMForecaster.load(d); "
            "np.save(d + '/forecast.npy', m.predict(np.load(d + '/X.npy'))); "
            "sys.exit('torch' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "forecast.npy"), model.predict(val.X))
