"""``nbalife predict --input`` of 10,000 games as a real process, start-up included.

Trains a small model set into a temporary home, promotes it, then times the CLI (wall time
and rows per second). Run: ``.venv/bin/python benchmarks/bench_predict_cli.py``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import print_table, write_json
from nbalife.config import load_settings
from nbalife.interchange import write_games
from nbalife.registry import Registry
from nbalife.services.train import train
from nbalife.simulate import simulate_season


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--games", type=int, default=10_000)
    parser.add_argument("--train-games", type=int, default=3000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        settings = load_settings(None, environ={}, overrides={"lstm.epochs": 5}).settings
        history = simulate_season(args.train_games, season="2022-23", seed=1)
        train(history, settings=settings, now=dt.datetime.now(dt.timezone.utc), registry=Registry(home),
              promote=True)
        batch = simulate_season(args.games, season="2023-24", seed=2)
        source = write_games(batch.drop(columns=[f"d{m}" for m in range(19, 25)]), home / "batch.csv")
        out = home / "forecasts.parquet"
        command = [sys.executable, "-m", "nbalife", "--home", str(home), "predict", "--input", str(source),
                   "--output", str(out)]
        started = time.perf_counter()
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # cached bytecode, as installed
        proc = subprocess.run(command, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            raise SystemExit(proc.stderr)
        started = time.perf_counter()
        help_proc = subprocess.run([sys.executable, "-m", "nbalife", "--help"], capture_output=True, env=env)
        help_wall = time.perf_counter() - started
        assert help_proc.returncode == 0
    rows = [("predict --input (incl. start-up, load, log)", args.games, wall, args.games / wall),
            ("nbalife --help", "-", help_wall, "-")]
    print_table("CLI wall time", ["command", "rows", "seconds", "rows/s"], rows)
    write_json("predict_cli", {"games": args.games, "wall_s": wall, "rows_per_s": args.games / wall,
                               "help_wall_s": help_wall})


if __name__ == "__main__":
    main()
