"""Benchmark LSTM training: wall time and games per second, by default 50,000 games x 20 epochs.

Games come from ``nbalife.simulate`` (training, validation and test seasons of different seeds).
Early stopping is disabled (``patience = epochs``) so every epoch runs. Reports the epochs' wall
times, games/second and the test MAE beside persistence and the simulator's oracle.

Prints a table and writes ``benchmarks/results/bench_lstm.json`` (``bench_lstm_cuda.json`` for
``--device cuda``). Run: ``.venv/bin/python benchmarks/bench_lstm.py [--games N] [--epochs E]
[--device cpu|cuda] [--threads T]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from nbalife.errors import BadInput
from nbalife.forecast.lstm import LSTMForecaster
from nbalife.forecast.patterns import to_arrays
from nbalife.simulate import simulate_season

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=50_000)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    train_frame = simulate_season(args.games, seed=1)
    val_frame = simulate_season(max(1000, args.games // 10), seed=2)
    test_frame = simulate_season(10_000, seed=3)
    train, val, test = (to_arrays(f) for f in (train_frame, val_frame, test_frame))

    epoch_ends: list[float] = []
    model = LSTMForecaster(epochs=args.epochs, patience=args.epochs, batch_size=args.batch_size,
                           device=args.device)
    start = time.perf_counter()
    try:
        model.fit(train.X, train.y, val.X, val.y,
                  progress=lambda *_: epoch_ends.append(time.perf_counter()))
    except BadInput as exc:
        raise SystemExit(f"error: {exc}") from None
    wall = time.perf_counter() - start
    epochs_run = model.history_["epochs_run"]
    epoch_seconds = np.diff([start, *epoch_ends])

    def mae(forecast: np.ndarray) -> float:
        return float(np.abs(test.y - forecast).mean())

    result = {
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor(),
                    "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
                    "device": args.device,
                    "gpu": torch.cuda.get_device_name() if args.device == "cuda" else None},
        "games": args.games, "validation_games": len(val), "epochs_run": epochs_run,
        "batch_size": args.batch_size,
        "wall_s": wall, "games_per_s": args.games * epochs_run / wall,
        "epoch_s": {"median": float(np.median(epoch_seconds)), "first": float(epoch_seconds[0])},
        "best_epoch": model.history_["best_epoch"],
        "best_val_loss": model.history_["best_val_loss"],
        "test_mae": {"lstm": mae(model.predict(test.X)), "persistence": mae(test.X[:, 18]),
                     "oracle": mae(test_frame["oracle_d24"].to_numpy())},
    }
    RESULTS.mkdir(exist_ok=True)
    name = "bench_lstm" if args.device == "cpu" else f"bench_lstm_{args.device}"
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")

    print(f"LSTM training on {args.device} ({torch.get_num_threads()} threads), "
          f"{args.games:,} games, batch {args.batch_size}")
    print(f"{'epochs run':<24}{epochs_run:>12}")
    print(f"{'wall time (s)':<24}{wall:>12.1f}")
    print(f"{'s per epoch (median)':<24}{result['epoch_s']['median']:>12.2f}")
    print(f"{'games / s':<24}{result['games_per_s']:>12,.0f}")
    print(f"{'best epoch':<24}{result['best_epoch']:>12}")
    for label, value in result["test_mae"].items():
        print(f"{'test MAE ' + label:<24}{value:>12.3f}")


if __name__ == "__main__":
    main()
