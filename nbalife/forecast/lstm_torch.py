"""The LSTM in PyTorch: the network, its training loop, and the torch model of saved weights.

Only training imports this module (``LSTMForecaster.fit``), and the benchmark and tests that
compare the numpy forward pass (``nbalife.forecast.lstm_numpy``) with torch. Scoring never
does. The network is ``nn.LSTM`` and trains through autograd, on the CPU or a GPU (cuDNN).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from nbalife.errors import BadInput
from nbalife.forecast.lstm_numpy import INPUT_SIZE, Weights, check_weights
from nbalife.forecast.lstm_schedule import EpochProgress, Schedule

HUBER_DELTA = 1.0
EVAL_BATCH = 2048  # validation rows per pass: bounds the memory of one forward pass
CPU_TRAIN_THREADS = 1
"""Intra-op threads while training on the CPU. Each LSTM step is a few small matrix products,
so a second OpenMP thread gains little on an idle machine and, on a busy one (cron jobs, other
processes), its barriers spin: on 2 shared cores an epoch took 10-20 times longer with 2
threads than with 1 (``benchmarks/bench_lstm.py --threads``; docs/design.md, Forecasters)."""


class Network(nn.Module):
    """Stacked LSTM over the minutes; a linear head on the last hidden state."""

    def __init__(self, hidden_size: int, num_layers: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(input_size=INPUT_SIZE, hidden_size=hidden_size,
                            num_layers=num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        return self.head(out[:, -1]).squeeze(-1)


def resolve_device(device: str) -> str:
    """One of ``DEVICES``: ``cpu``, ``cuda`` (must be available) or ``auto`` (cuda when
    available), to a device name."""
    if device == "cuda" and not torch.cuda.is_available():
        raise BadInput("--device cuda requested but CUDA is not available")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def train_network(schedule: Schedule, inputs: np.ndarray, targets: np.ndarray,
                  inputs_val: np.ndarray, targets_val: np.ndarray,
                  progress: EpochProgress | None
                  ) -> tuple[Weights, dict[str, Any]]:
    """Adam on the Huber loss; stops after ``patience`` epochs without a validation loss
    lower than the best by more than the fraction ``tol``.

    Returns the best epoch's weights (float32 numpy arrays named as in the ``state_dict``) and
    the training history. The weights are initialised under ``torch.manual_seed(seed)`` in a
    forked RNG state, so the caller's is untouched; batches are shuffled by
    ``numpy.random.default_rng(seed)``.
    """
    device = resolve_device(schedule.device)
    if device != "cpu":
        return _train(schedule, device, inputs, targets, inputs_val, targets_val, progress)
    with _cpu_training():
        return _train(schedule, device, inputs, targets, inputs_val, targets_val, progress)


@contextmanager
def _cpu_training() -> Iterator[None]:
    """``CPU_TRAIN_THREADS`` intra-op threads, restoring the caller's setting afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(CPU_TRAIN_THREADS)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _train(schedule: Schedule, device: str, inputs: np.ndarray, targets: np.ndarray,
           inputs_val: np.ndarray, targets_val: np.ndarray, progress: EpochProgress | None
           ) -> tuple[Weights, dict[str, Any]]:
    x, y = torch.from_numpy(inputs).to(device), torch.from_numpy(targets).to(device)
    x_val, y_val = torch.from_numpy(inputs_val).to(device), torch.from_numpy(targets_val).to(device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(schedule.seed)
        network = Network(schedule.hidden_size, schedule.num_layers).to(device)
    optimizer = torch.optim.Adam(network.parameters(), lr=schedule.learning_rate, fused=True)
    loss_fn = nn.HuberLoss(delta=HUBER_DELTA)
    rng = np.random.default_rng(schedule.seed)
    history: dict[str, Any] = {"train_loss": [], "val_loss": []}
    best_loss, best_epoch, best_state = float("inf"), 0, None
    for epoch in range(1, schedule.epochs + 1):
        network.train()
        order = torch.from_numpy(rng.permutation(len(x))).to(device)
        x_epoch, y_epoch = x[order], y[order]  # one gather per epoch; batches are views
        total = torch.zeros((), device=device)
        for start in range(0, len(x), schedule.batch_size):
            x_batch = x_epoch[start:start + schedule.batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(network(x_batch), y_epoch[start:start + schedule.batch_size])
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(x_batch)
        train_loss = float(total) / len(x)
        val_loss = _evaluate(network, x_val, y_val, loss_fn)
        history["train_loss"].append(train_loss)
        history["val_loss"].append(val_loss)
        if progress is not None:
            progress(epoch, schedule.epochs, train_loss, val_loss)
        if val_loss < best_loss * (1 - schedule.tol):
            best_loss, best_epoch = val_loss, epoch
            best_state = {k: v.detach().cpu().numpy().copy() for k, v in network.state_dict().items()}
        elif epoch - best_epoch >= schedule.patience:
            break
    if best_state is None:
        raise BadInput(f"LSTM training diverged (validation loss {val_loss}); "
                       "lower the learning rate")
    history.update(epochs_run=len(history["val_loss"]), best_epoch=best_epoch,
                   best_val_loss=best_loss, stopped_early=len(history["val_loss"]) < schedule.epochs)
    return best_state, history


def network_from_weights(weights: Weights, hidden_size: int, num_layers: int) -> Network:
    """The torch network (CPU, eval mode) holding saved weights, e.g. to compare with numpy."""
    network = Network(hidden_size, num_layers)
    network.load_state_dict({name: torch.from_numpy(array) for name, array in weights.items()})
    return network.eval()


def read_legacy_weights(path: Path, hidden_size: int, num_layers: int,
                        params_file: str) -> Weights:
    """The checked weights of a model set saved before ``lstm.npz``: ``lstm.pt``, a torch
    ``state_dict`` (read with ``weights_only=True``, onto the CPU)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for damaged files
        raise BadInput(f"{path}: corrupt or truncated ({type(exc).__name__})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise BadInput(f"{path}: corrupt model file: not a state_dict of tensors")
    arrays = {name: tensor.detach().float().numpy() for name, tensor in state.items()}
    return check_weights(arrays, hidden_size, num_layers, path, params_file)


def _evaluate(network: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, loss_fn: nn.Module) -> float:
    network.eval()
    with torch.inference_mode():
        total = sum(float(loss_fn(network(inputs[i:i + EVAL_BATCH]), targets[i:i + EVAL_BATCH]))
                    * len(targets[i:i + EVAL_BATCH]) for i in range(0, len(inputs), EVAL_BATCH))
    return total / len(inputs)
