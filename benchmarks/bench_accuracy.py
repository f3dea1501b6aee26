"""Accuracy on simulated data: train on 5,000 games, test on the 2,000 that follow.

Each test game is forecast with its context as of its date (ratings from the training games
and the test games' own earlier results), as ``predict --input`` does; the pattern-only
ensemble is reported beside it. Targets: ensemble MAE <= 1.01 x oracle MAE
and below persistence; 95% interval coverage in [0.94, 0.96] with no drift.
Run: ``.venv/bin/python -m benchmarks.bench_accuracy``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks.common import print_table, write_json
from nbalife.config import Settings
from nbalife.forecast.metrics import score_forecasts
from nbalife.forecast.modelset import ModelSet
from nbalife.interchange import PATTERN_COLUMNS
from nbalife.services.train import train
from nbalife.simulate import simulate_season


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train-games", type=int, default=5000)
    parser.add_argument("--test-games", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()

    games = simulate_season(args.train_games + args.test_games, season="2023-24", seed=args.seed)
    games = games.sort_values(["game_date", "game_id"], kind="stable").reset_index(drop=True)
    history, future = games[: args.train_games], games[args.train_games :]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        trained = train(history, settings=Settings(), now=dt.datetime.now(dt.timezone.utc), out=Path(folder))
        seconds = time.perf_counter() - started
        models = ModelSet.load(Path(folder))
    patterns = future[PATTERN_COLUMNS].to_numpy(dtype=np.float32)
    actual = future["d24"].to_numpy(dtype=float)
    pregame = models.pregame(future, history=history)
    result = models.predict(patterns, None if pregame is None else pregame.edge)
    scores = score_forecasts(actual, patterns[:, -1].astype(float), result, future["oracle_d24"].to_numpy(float))
    plain = models.predict(patterns)
    scores.append(replace(score_forecasts(actual, patterns[:, -1].astype(float), plain)[0],
                          model="ensemble, pattern-only"))
    by = {s.model: s for s in scores}
    ratio = by["ensemble"].mae / by["oracle"].mae
    paired = np.abs(actual - result.forecast) - np.abs(actual - patterns[:, -1])
    checks = {
        "ensemble_over_oracle": ratio,
        "ensemble_over_oracle_target": 1.01,
        "below_persistence": by["ensemble"].mae < by["persistence"].mae,
        "ensemble_minus_persistence": float(paired.mean()),
        "its_standard_error": float(paired.std() / np.sqrt(len(paired))),
        "coverage": by["ensemble"].coverage,
        "coverage_in_target": 0.94 <= by["ensemble"].coverage <= 0.96,
    }
    print_table(f"Accuracy: train {len(history)} games, test {len(future)} later games (seed {args.seed})",
                ["model", "MAE", "RMSE", "bias", "coverage", "width", "MAE / oracle"],
                [(s.model, s.mae, s.rmse, s.bias, s.coverage if s.coverage is not None else "-",
                  s.width if s.width is not None else "-", s.mae / by["oracle"].mae) for s in scores])
    print_table("Targets", ["check", "value"], [(k, v) for k, v in checks.items()])
    write_json("accuracy", {"args": vars(args), "train_seconds": seconds, "validation": trained.metrics,
                            "scores": [s.__dict__ for s in scores], "checks": checks})


if __name__ == "__main__":
    main()
