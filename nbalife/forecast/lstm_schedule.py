"""How an LSTM is trained, without torch: the schedule and the per-epoch progress callback.

Shared by the forecaster (``nbalife.forecast.lstm``, which scores without torch) and the torch
training loop (``nbalife.forecast.lstm_torch``), so neither imports the other for them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

EpochProgress = Callable[[int, int, float, float], None]
"""Called after each training epoch as ``progress(epoch, epochs, train_loss, val_loss)``."""


@dataclass(frozen=True)
class Schedule:
    """How to train: network size, optimiser, batches, early stopping (``patience`` epochs
    without a validation loss below ``best * (1 - tol)``), seed and device."""

    hidden_size: int
    num_layers: int
    epochs: int
    batch_size: int
    learning_rate: float
    patience: int
    seed: int
    device: str
    tol: float = 0.0
