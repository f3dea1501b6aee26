"""How an LSTM is trained, without torch: the schedule and the per-epoch progress callback.

Shared by the forecaster (``nbalife.forecast.lstm``, which scores without torch) and the torch
training loop (``nbalife.forecast.lstm_torch``), so neither imports the other for them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

EpochProgress = Callable[[int, int, float, float], None]
"""Called after each training epoch as ``progress(epoch, epochs, train_loss, val_loss)``."""


@dataclass(frozen=True)
class Schedule:
    """How to train: network size, optimiser, batches, early stopping (``patience`` epochs
    without a validation loss below ``best * (1 - tol)``), seed and device. The defaults are
    the forecaster's; the configuration's ``lstm`` section has fields of the same names."""

    hidden_size: int = 64
    num_layers: int = 2
    epochs: int = 20
    batch_size: int = 256
    learning_rate: float = 1e-3
    patience: int = 3
    seed: int = 0
    device: str = "cpu"
    tol: float = 0.0

    @classmethod
    def of(cls, source: object) -> Schedule:
        """The schedule read from an object with these fields (``config.LstmSettings``)."""
        return cls(**{f.name: getattr(source, f.name) for f in fields(cls)})
