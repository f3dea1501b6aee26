"""Benchmark LSTM training and the LSTM's inference.

Training: simulated games (training season seed 1; validation, a tenth of its size, seed 2;
10,000 test games, seed 3) trained by ``LSTMForecaster.fit`` (``nn.LSTM`` through autograd), in
one run:

- ``fit``: the batch size and learning rate given (by default the config's), every epoch;
- ``early`` (with ``--tol``): ``fit`` with early stopping: ``--patience`` (default the config's)
  epochs without a validation loss below the best by more than the fraction ``tol``.

Both train on ``--threads`` intra-op threads (``lstm_torch.CPU_TRAIN_THREADS``, 1 by default).
Reported per way: wall and CPU (user + sys) seconds, seconds per epoch, epochs run, best epoch,
validation and test MAE (points), and early's paired MAE difference to fit with its standard
error. Then the trained weights score the test games and one game at a time by the numpy
forward pass (what scoring uses) and by the torch network, with the largest difference.

Prints a table and writes ``benchmarks/results/bench_lstm.json`` (default size) or
``bench_lstm_<games>x<epochs>_b<batch>_t<threads>[_tol<tol>].json``. Run
``.venv/bin/python -m benchmarks.bench_lstm [--games 20000] [--epochs 5] [--batch-size B]
[--learning-rate R] [--threads T] [--tol TOL [--patience P]]``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch

from benchmarks.common import print_table, write_json
from nbalife.config import LstmSettings
from nbalife.forecast import lstm_torch
from nbalife.forecast.lstm import LSTMForecaster, _inputs
from nbalife.forecast.lstm_numpy import forward
from nbalife.forecast.lstm_torch import network_from_weights
from nbalife.forecast.patterns import LAST, to_arrays
from nbalife.simulate import simulate_season

DEFAULT_SIZE = (20_000, 5)


def main() -> None:
    settings = LstmSettings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=DEFAULT_SIZE[0])
    parser.add_argument("--epochs", type=int, default=DEFAULT_SIZE[1])
    parser.add_argument("--batch-size", type=int, default=settings.batch_size)
    parser.add_argument("--learning-rate", type=float, default=settings.learning_rate)
    parser.add_argument("--threads", type=int, default=lstm_torch.CPU_TRAIN_THREADS)
    parser.add_argument("--tol", type=float, help="also train with early stopping at this tol")
    parser.add_argument("--patience", type=int, default=settings.patience)
    args = parser.parse_args()
    lstm_torch.CPU_TRAIN_THREADS = args.threads

    train_frame = simulate_season(args.games, seed=1)
    val_frame = simulate_season(max(1000, args.games // 10), seed=2)
    test_frame = simulate_season(10_000, seed=3)
    train, val, test = (to_arrays(f) for f in (train_frame, val_frame, test_frame))
    def fit(model: LSTMForecaster, progress: Callable[..., None]) -> None:
        model.fit(train.X, train.moves, val.X, val.moves, progress=progress)

    every_epoch = {"batch_size": args.batch_size, "learning_rate": args.learning_rate,
                   "patience": args.epochs, "tol": 0.0}
    ways = {"fit": every_epoch}
    if args.tol is not None:
        ways["early"] = {**every_epoch, "patience": args.patience, "tol": args.tol}

    result = {"games": args.games, "validation_games": len(val), "epochs": args.epochs,
              "threads": args.threads, "ways": {}}
    rows, errors = [], {}
    for way, params in ways.items():
        model = LSTMForecaster(epochs=args.epochs, **params)
        ends: list[float] = []
        start, cpu = time.perf_counter(), time.process_time()
        fit(model, lambda *_, ends=ends: ends.append(time.perf_counter()))
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        epoch_s = float(np.median(np.diff([start, *ends])))
        errors[way] = {split: np.abs(data.y - model.predict(data.X))
                       for split, data in (("val", val), ("test", test))}
        figures = {**params, "wall_s": wall, "cpu_s": cpu, "epoch_s_median": epoch_s,
                   "epochs_run": len(ends), "best_epoch": model.history_["best_epoch"],
                   "val_mae": float(errors[way]["val"].mean()),
                   "test_mae": float(errors[way]["test"].mean())}
        result["ways"][way] = figures
        rows.append((way, params["batch_size"], params["learning_rate"], params["tol"], wall, cpu,
                     epoch_s, len(ends), figures["best_epoch"], figures["val_mae"],
                     figures["test_mae"]))
    if "early" in errors:
        every, early = result["ways"]["fit"], result["ways"]["early"]
        early.update(speedup_wall=every["wall_s"] / early["wall_s"], speedup_cpu=every["cpu_s"] / early["cpu_s"],
                     minus_fit_mae={split: paired(errors["early"][split], errors["fit"][split])
                                    for split in ("val", "test")})
    result["test_mae_reference"] = {"persistence": float(np.abs(test.y - test.X[:, LAST]).mean()),
                                    "oracle": float(np.abs(test.y - test_frame["oracle_d24"]).mean())}
    result["inference"] = inference(model, test.X)
    print_table(f"LSTM training, {args.games:,} games x {args.epochs} epochs, "
                f"{args.threads} thread(s)",
                ["way", "batch", "lr", "tol", "wall s", "cpu s", "s/epoch", "epochs", "best",
                 "val MAE", "test MAE"], rows)
    for way, figures in result["ways"].items():
        for split, (mean, se) in figures.get("minus_fit_mae", {}).items():
            print(f"{way} - fit, {split} MAE: {mean:+.4f} +- {se:.4f} (paired SE); "
                  f"speed-up {figures['speedup_wall']:.2f}x wall, {figures['speedup_cpu']:.2f}x cpu")
    print_table("LSTM inference (numpy scores; torch for comparison)", ["figure", "value"],
                list(result["inference"].items()))
    default = (args.games, args.epochs, args.threads, args.tol) == (*DEFAULT_SIZE, 1, None) \
        and (args.batch_size, args.learning_rate) == (settings.batch_size, settings.learning_rate)
    suffix = "" if args.tol is None else f"_tol{args.tol:g}"
    write_json("bench_lstm" if default else f"bench_lstm_{args.games}x{args.epochs}_b"
               f"{args.batch_size}_t{args.threads}{suffix}", result)


def paired(errors: np.ndarray, baseline: np.ndarray) -> tuple[float, float]:
    """Mean of ``errors - baseline`` and its standard error."""
    diff = errors - baseline
    return float(diff.mean()), float(diff.std(ddof=1) / np.sqrt(len(diff)))


def inference(model: LSTMForecaster, X: np.ndarray, repeats: int = 200) -> dict[str, float]:
    """Rows per second on ``X`` and one-row p50 latency, numpy and torch (inference mode, the
    caller's threads), and the largest difference between their outputs."""
    inputs = _inputs(X, model.normalisation_["input_scale"])
    network = network_from_weights(model.weights_, model.hidden_size, model.num_layers)

    def run_torch(batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return network(torch.from_numpy(batch)).numpy()

    def run_numpy(batch: np.ndarray) -> np.ndarray:
        return forward(model.weights_, batch, model.num_layers)

    out: dict[str, float] = {}
    for name, run in (("numpy", run_numpy), ("torch", run_torch)):
        start = time.perf_counter()
        run(inputs)
        out[f"{name} rows/s"] = len(inputs) / (time.perf_counter() - start)
        times = []
        for row in inputs[:repeats]:
            start = time.perf_counter()
            run(row[None])
            times.append(time.perf_counter() - start)
        out[f"{name} 1 row p50 ms"] = 1e3 * float(np.median(times))
    out["max |numpy - torch|"] = float(np.abs(run_numpy(inputs) - run_torch(inputs)).max())
    return out


if __name__ == "__main__":
    main()
