"""Does the fused CPU kernel pay where users train? One run: ``LSTMForecaster.fit`` with the
config's default settings on the first 3,000 real games of ``data/nba`` (by date; validation: the
rest), first through ``nn.LSTM`` and autograd, then through ``nbalife.forecast.lstm_fused``.

Per way: wall and CPU seconds, epochs run (early stopping as configured), the median wall
seconds of an epoch, CPU seconds per epoch and validation MAE. Prints a table and the speed-ups;
writes ``benchmarks/results/bench_lstm_fused.json``.

Run: ``nice -n 10 .venv/bin/python -m benchmarks.bench_lstm_fused [--games 3000]``.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.common import print_table, write_json
from nbalife.config import LstmSettings
from nbalife.forecast import lstm_torch
from nbalife.forecast.lstm import LSTMForecaster
from nbalife.forecast.lstm_schedule import Schedule
from nbalife.forecast.patterns import to_arrays
from nbalife.interchange import load_games

DATA = Path(__file__).resolve().parent.parent / "data" / "nba"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=3000, help="training games; the rest validate")
    args = parser.parse_args()
    games = pd.concat([load_games(path) for path in sorted(DATA.glob("nba_*.csv"))], ignore_index=True)
    games = games.sort_values(["game_date", "game_id"], kind="stable").reset_index(drop=True)
    train, val = to_arrays(games.iloc[:args.games]), to_arrays(games.iloc[args.games:])
    settings = LstmSettings()
    params = {f.name: getattr(settings, f.name) for f in fields(Schedule)}
    fused = lstm_torch.Network.forward_fused
    result = {"games": len(train.X), "validation_games": len(val.X), "params": params, "ways": {}}
    for way in ("autograd", "fused"):
        lstm_torch.Network.forward_fused = fused if way == "fused" else lstm_torch.Network.forward
        ends: list[float] = []
        model = LSTMForecaster(**params)
        start, cpu = time.perf_counter(), time.process_time()
        model.fit(train.X, train.moves, val.X, val.moves, progress=lambda *_: ends.append(time.perf_counter()))
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        result["ways"][way] = {"wall_s": wall, "cpu_s": cpu, "epochs_run": len(ends),
                               "best_epoch": model.history_["best_epoch"],
                               "epoch_wall_s_median": float(np.median(np.diff([start, *ends]))),
                               "cpu_s_per_epoch": cpu / len(ends),
                               "val_mae": float(np.abs(val.y - model.predict(val.X)).mean())}
    lstm_torch.Network.forward_fused = fused
    a, f = result["ways"]["autograd"], result["ways"]["fused"]
    result["speedup"] = {"cpu_per_epoch": a["cpu_s_per_epoch"] / f["cpu_s_per_epoch"],
                         "epoch_wall_median": a["epoch_wall_s_median"] / f["epoch_wall_s_median"]}
    print_table(f"LSTM training on {len(train.X):,} real games ({len(val.X):,} validate), default settings, one run",
                ["way", "wall s", "cpu s", "epochs", "best", "s/epoch (median)", "cpu s/epoch", "val MAE"],
                [(way, w["wall_s"], w["cpu_s"], w["epochs_run"], w["best_epoch"], w["epoch_wall_s_median"],
                  w["cpu_s_per_epoch"], w["val_mae"]) for way, w in result["ways"].items()])
    print(f"fused speed-up: {result['speedup']['cpu_per_epoch']:.2f}x CPU per epoch, "
          f"{result['speedup']['epoch_wall_median']:.2f}x median epoch wall")
    write_json("bench_lstm_fused", result)


if __name__ == "__main__":
    main()
