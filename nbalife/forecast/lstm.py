"""LSTM forecaster: a sequence model on ``d0..d18`` predicting the move ``d24 - d18``.

Training runs in PyTorch (``nbalife.forecast.lstm_torch``, imported by ``fit`` only) on a
``Schedule`` (``nbalife.forecast.lstm_schedule``: the forecaster's parameters); scoring runs the
saved weights through a numpy forward pass (``nbalife.forecast.lstm_numpy``), so loading and
predicting never import torch. Saved as ``lstm.npz`` (the weights) and
``lstm.json`` (parameters, normalisation, training history).

Inputs, per minute ``m = 0..18``: ``d_m / scale`` and ``m / 18``. ``scale`` is the training SD of
``d18``, so a lead keeps its sign and a tied game stays 0 (the level matters: leads revert
a little); the minute index tells the network how much game has been played without making it
count steps. The target is the standardised move ``(move - mean) / sd``. All three statistics
come from the training split and are saved with the model.

Loss: Huber with ``delta = 1`` (one SD of the move, about 5.6 points): quadratic for ordinary
minutes, linear for the rare big scoring runs, so those runs do not steer the gradients. The
mean move given the pattern is small next to the noise, so the two losses tie: trained on
20,000 simulated games (seed 1, validation 3,000 of seed 4), test MAE on 10,000 games of seed 2
was 4.589 with Huber and 4.589 with MSE, the same as least squares on all 19 values (4.589);
persistence scores 4.601 and the simulator's oracle, which knows each game's true strengths,
4.550. Huber is kept for its robustness to outliers in real data.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np

from nbalife.checks import is_number, is_whole
from nbalife.errors import BadInput
from nbalife.forecast import lstm_numpy
from nbalife.forecast.artifacts import field, read_model, require_fitted, write_json, write_npz
from nbalife.forecast.lstm_schedule import EpochProgress, Schedule
from nbalife.forecast.patterns import LAST, PATTERN_LENGTH, check_patterns, check_values
from nbalife.vocab import DEVICES

NPZ_FILE = "lstm.npz"
JSON_FILE = "lstm.json"
LEGACY_PT_FILE = "lstm.pt"  # the weights of model sets saved before lstm.npz (read by torch)
FORMAT = "nbalife.lstm"
_MINUTES = np.arange(PATTERN_LENGTH, dtype=np.float32) / LAST
_NORMALISATION = {"input_scale", "target_mean", "target_sd"}


class LSTMForecaster:
    """``d18`` plus the LSTM's predicted move. Adam, Huber loss, early stopping on validation.

    Training is reproducible: the weights are initialised under ``torch.manual_seed(seed)``
    (in a forked RNG state, so the caller's is untouched) and batches are shuffled by
    ``numpy.random.default_rng(seed)``; on CPU the same seed gives the same model (training
    runs on ``lstm_torch.CPU_TRAIN_THREADS`` threads). ``device`` is where training runs;
    scoring always runs in numpy on the CPU.
    """

    def __init__(self, hidden_size: int = 64, num_layers: int = 2, epochs: int = 20,
                 batch_size: int = 256, learning_rate: float = 1e-3, patience: int = 3,
                 seed: int = 0, device: str = "cpu", tol: float = 0.0) -> None:
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.patience = patience
        self.seed = seed
        self.device = device
        self.tol = tol

    def get_params(self) -> dict[str, Any]:
        """The parameters, the fields of ``Schedule``."""
        return {f.name: getattr(self, f.name) for f in fields(Schedule)}

    def _check_params(self) -> None:
        for name in ("hidden_size", "num_layers", "epochs", "batch_size", "patience"):
            value = getattr(self, name)
            if not is_whole(value) or value < 1:
                raise BadInput(f"LSTM: {name}={value!r} must be a whole number >= 1")
        if not is_whole(self.seed) or self.seed < 0:
            raise BadInput(f"LSTM: seed={self.seed!r} must be a whole number >= 0")
        rate = self.learning_rate
        if not is_number(rate) or not 0 < rate < 10:
            raise BadInput(f"LSTM: learning_rate={rate!r} must be a number in (0, 10)")
        if not is_number(self.tol) or not 0 <= self.tol < 1:
            raise BadInput(f"LSTM: tol={self.tol!r} must be a number in [0, 1)")
        if self.device not in DEVICES:
            raise BadInput(f"device={self.device!r}; allowed values are {', '.join(DEVICES)}")

    def fit(self, X_train: object, moves_train: object, X_val: object, moves_val: object,
            progress: EpochProgress | None = None) -> LSTMForecaster:
        """Train on patterns ``X`` and their future moves ``d24 - d18``. Stops after
        ``patience`` epochs without a better validation loss (better: below the best so far
        by more than the fraction ``tol`` of it) and keeps the best epoch's weights.
        ``progress(epoch, epochs, train_loss, val_loss)`` is called after each epoch."""
        from nbalife.forecast.lstm_torch import train_network

        self._check_params()
        X, moves = _patterns_and_moves(X_train, moves_train, "training")
        X_v, moves_v = _patterns_and_moves(X_val, moves_val, "validation")
        scale = float(np.std(X[:, LAST])) or 1.0
        mean = float(moves.mean())
        sd = float(moves.std()) or 1.0
        schedule = Schedule(**self.get_params())
        weights, history = train_network(
            schedule, _inputs(X, scale), ((moves - mean) / sd).astype(np.float32),
            _inputs(X_v, scale), ((moves_v - mean) / sd).astype(np.float32), progress)
        self.normalisation_ = {"input_scale": scale, "target_mean": mean, "target_sd": sd}
        self.weights_ = weights
        self.history_ = history
        return self

    def predict(self, X: object) -> np.ndarray:
        """``d18`` plus the predicted move (float64, one per row), by the numpy forward pass."""
        require_fitted(self, "weights_")
        patterns = check_patterns(X)
        norm = self.normalisation_
        z = lstm_numpy.forward(self.weights_, _inputs(patterns, norm["input_scale"]),
                               self.num_layers)
        return (patterns[:, LAST].astype(np.float64)
                + norm["target_mean"] + norm["target_sd"] * z.astype(np.float64))

    def save(self, directory: Path) -> list[Path]:
        """Write ``lstm.npz`` (the weights, named as in the torch ``state_dict``) and
        ``lstm.json`` (parameters, normalisation, training history)."""
        require_fitted(self, "weights_")
        directory = Path(directory)
        weights = write_npz(directory / NPZ_FILE, self.weights_)
        meta = write_json(directory / JSON_FILE, {
            "format": FORMAT,
            "params": self.get_params(),
            "normalisation": self.normalisation_,
            "history": self.history_,
        })
        return [weights, meta]

    @classmethod
    def load(cls, directory: Path) -> LSTMForecaster:
        """Read a saved model without torch (a set saved before ``lstm.npz`` has ``lstm.pt``,
        read through torch). A missing, corrupt or truncated file, or weights that do not fit
        the recorded hyper-parameters, is BadInput naming the file (and the tensor)."""
        directory = Path(directory)
        json_path, npz_path = directory / JSON_FILE, directory / NPZ_FILE
        model, meta = read_model(cls, json_path, FORMAT)
        normalisation = field(meta, "normalisation", json_path)
        if not isinstance(normalisation, dict) or set(normalisation) != _NORMALISATION \
                or not all(isinstance(v, (int, float)) for v in normalisation.values()):
            raise BadInput(f"{json_path}: corrupt model file: bad normalisation")
        legacy = directory / LEGACY_PT_FILE
        if not npz_path.exists() and legacy.exists():
            from nbalife.forecast.lstm_torch import read_legacy_weights

            model.weights_ = read_legacy_weights(legacy, model.hidden_size, model.num_layers,
                                                 json_path.name)
        else:
            model.weights_ = lstm_numpy.read_weights(npz_path, model.hidden_size,
                                                     model.num_layers, json_path.name)
        model.normalisation_ = normalisation
        model.history_ = field(meta, "history", json_path)
        return model


def _inputs(X: np.ndarray, scale: float) -> np.ndarray:
    """(n, 19, 2) float32: the scaled differential and the minute index, per minute."""
    inputs = np.empty((len(X), PATTERN_LENGTH, 2), dtype=np.float32)
    inputs[:, :, 0] = X / np.float32(scale)
    inputs[:, :, 1] = _MINUTES
    return inputs


def _patterns_and_moves(X: object, moves: object, split: str) -> tuple[np.ndarray, np.ndarray]:
    patterns = check_patterns(X)
    if len(patterns) == 0:
        raise BadInput(f"LSTM: the {split} set is empty")
    return patterns, check_values(f"{split} future moves", moves, len(patterns))
