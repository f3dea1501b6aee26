"""Benchmark LSTM training, before and after, in one run, and the LSTM's inference.

Training: the same simulated games (by default 50,000 training games x 20 epochs; validation and
test seasons of other seeds) are trained twice, early stopping off (``patience = epochs``):

- ``before``: the training loop as it was (``baseline_fit`` below): torch's default threads (one
  per core), oneDNN's LSTM kernel, a gather of each batch by index, Adam one tensor at a time;
- ``after``: ``LSTMForecaster.fit`` (``nbalife.forecast.lstm_torch``): one intra-op thread,
  PyTorch's own LSTM kernel, one gather per epoch, fused Adam.

Reported per way: wall and CPU seconds, seconds per epoch, validation and test MAE (points).
Then the trained weights score the 10,000 test games and one game at a time by the numpy forward
pass (what scoring uses) and by the torch network, with the largest difference between the two.

Prints a table and writes ``benchmarks/results/bench_lstm.json`` (``bench_lstm_<games>x<epochs>_b<batch>``
for other sizes). Run:
``.venv/bin/python -m benchmarks.bench_lstm [--games N] [--epochs E] [--batch-size B]
[--skip-before]``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from benchmarks.common import print_table, write_json
from nbalife.forecast.lstm import LSTMForecaster, _inputs
from nbalife.forecast.lstm_numpy import forward
from nbalife.forecast.lstm_torch import HUBER_DELTA, Network, network_from_weights
from nbalife.forecast.patterns import LAST, to_arrays
from nbalife.simulate import simulate_season


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=50_000)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--skip-before", action="store_true", help="time the new loop only")
    args = parser.parse_args()

    train_frame = simulate_season(args.games, seed=1)
    val_frame = simulate_season(max(1000, args.games // 10), seed=2)
    test_frame = simulate_season(10_000, seed=3)
    train, val, test = (to_arrays(f) for f in (train_frame, val_frame, test_frame))
    ways: dict[str, Callable[[LSTMForecaster, Callable[..., None]], None]] = {
        "after": lambda model, progress: model.fit(train.X, train.moves, val.X, val.moves,
                                                   progress=progress)}
    if not args.skip_before:
        ways = {"before": lambda model, progress: baseline_fit(model, train, val, progress),
                **ways}

    rows, result = [], {"games": args.games, "validation_games": len(val), "epochs": args.epochs,
                        "batch_size": args.batch_size, "ways": {}}
    for way, fit in ways.items():
        model = LSTMForecaster(epochs=args.epochs, patience=args.epochs,
                               batch_size=args.batch_size)
        ends: list[float] = []
        threads = torch.get_num_threads()
        start, cpu = time.perf_counter(), time.process_time()
        fit(model, lambda *_, ends=ends: ends.append(time.perf_counter()))
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        epoch_s = float(np.median(np.diff([start, *ends])))
        figures = {"wall_s": wall, "cpu_s": cpu, "epoch_s_median": epoch_s,
                   "caller_threads": threads,
                   "val_mae": float(np.abs(val.y - model.predict(val.X)).mean()),
                   "test_mae": float(np.abs(test.y - model.predict(test.X)).mean()),
                   "best_epoch": model.history_["best_epoch"]}
        result["ways"][way] = figures
        rows.append((way, wall, cpu, epoch_s, figures["val_mae"], figures["test_mae"]))
    if "before" in result["ways"]:
        result["speedup_wall"] = result["ways"]["before"]["wall_s"] / result["ways"]["after"]["wall_s"]
    result["test_mae_reference"] = {"persistence": float(np.abs(test.y - test.X[:, LAST]).mean()),
                                    "oracle": float(np.abs(test.y - test_frame["oracle_d24"]).mean())}
    result["inference"] = inference(model, test.X)
    print_table(f"LSTM training, {args.games:,} games x {args.epochs} epochs, batch "
                f"{args.batch_size}, {torch.get_num_threads()} torch threads by default",
                ["way", "wall s", "cpu s", "s/epoch", "val MAE", "test MAE"], rows)
    print_table("LSTM inference (numpy scores; torch for comparison)", ["figure", "value"],
                list(result["inference"].items()))
    default = (args.games, args.epochs, args.batch_size) == (50_000, 20, 256)
    write_json("bench_lstm" if default else
               f"bench_lstm_{args.games}x{args.epochs}_b{args.batch_size}", result)


def baseline_fit(model: LSTMForecaster, train: object, val: object,
                 progress: Callable[..., None]) -> None:
    """The training loop before this change, on the normalisation ``fit`` uses; sets the
    model's ``weights_``, ``normalisation_`` and ``history_`` so it scores like a fitted one."""
    X, moves, X_v, moves_v = train.X, train.moves, val.X, val.moves  # type: ignore[attr-defined]
    scale, mean, sd = float(np.std(X[:, LAST])) or 1.0, float(moves.mean()), float(moves.std())
    x, y = torch.from_numpy(_inputs(X, scale)), torch.from_numpy(((moves - mean) / sd).astype(np.float32))
    x_val = torch.from_numpy(_inputs(X_v, scale))
    y_val = torch.from_numpy(((moves_v - mean) / sd).astype(np.float32))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(model.seed)
        network = Network(model.hidden_size, model.num_layers)
    optimizer = torch.optim.Adam(network.parameters(), lr=model.learning_rate)
    loss_fn = nn.HuberLoss(delta=HUBER_DELTA)
    rng = np.random.default_rng(model.seed)
    best, best_epoch, best_state = float("inf"), 0, None
    for epoch in range(1, model.epochs + 1):
        network.train()
        order = torch.from_numpy(rng.permutation(len(x)))
        total = torch.zeros(())
        for start in range(0, len(x), model.batch_size):
            batch = order[start:start + model.batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(network(x[batch]), y[batch])
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(batch)
        network.eval()
        with torch.inference_mode():
            val_loss = float(loss_fn(network(x_val), y_val))
        progress(epoch, model.epochs, float(total) / len(x), val_loss)
        if val_loss < best:
            best, best_epoch = val_loss, epoch
            best_state = {k: v.detach().numpy().copy() for k, v in network.state_dict().items()}
    model.weights_ = best_state
    model.normalisation_ = {"input_scale": scale, "target_mean": mean, "target_sd": sd}
    model.history_ = {"best_epoch": best_epoch, "best_val_loss": best}


def inference(model: LSTMForecaster, X: np.ndarray, repeats: int = 200) -> dict[str, float]:
    """Rows per second on ``X`` and one-row p50 latency, numpy and torch (inference mode, the
    threads set above), and the largest difference between their outputs."""
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
