"""The retrain gate on real games: `lstm retrain` (the service, default model sizes) against a
production trained on 2020-21, with 2021-22 in the store as it is, with its targets corrupted,
and with a changed regime. Prints a table and writes benchmarks/results/bench_retrain_gate.json.

Run: ``.venv/bin/python -m benchmarks.bench_retrain_gate``
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.common import print_table, write_json
from nbalife.config import load_settings
from nbalife.interchange import load_games
from nbalife.registry import ChangeKind
from nbalife.services.lstm import retrain
from nbalife.services.registry import open_registry
from nbalife.services.train import model_params, train
from nbalife.store.engine import make_engine
from nbalife.store.games import upsert_games
from nbalife.store.migrate import open_store

DATA = Path(__file__).resolve().parents[1] / "data" / "nba"
NOW = dt.datetime(2022, 4, 15, 12, tzinfo=dt.timezone.utc)


def scenarios(old: pd.DataFrame, new: pd.DataFrame, holdout: int) -> dict[str, pd.DataFrame]:
    """The store's games in each scenario; the held-out games (the last dates) are real in all but the regime."""
    boundary = new["game_date"].iloc[-holdout]
    before = pd.concat([old, new[new["game_date"] < boundary]], ignore_index=True)
    corrupt = before.copy()
    corrupt["d24"] = np.random.default_rng(0).permutation(corrupt["d24"].to_numpy())
    out = {"real 2021-22": pd.concat([old, new], ignore_index=True),
           "targets shuffled": pd.concat([corrupt, new[new["game_date"] >= boundary]], ignore_index=True)}
    for points in (3, 6):
        shifted = new.copy()
        for minute in range(19, 25):
            shifted[f"d{minute}"] = shifted[f"d{minute}"] + round(points * (minute - 18) / 6)
        out[f"regime: home +{points} in last 6 min"] = pd.concat([old, shifted], ignore_index=True)
    return out


def main() -> None:
    settings = load_settings(None, environ={}).settings
    old, new = (load_games(DATA / name) for name in ("nba_2020-21.csv", "nba_2021-22.csv"))
    started = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix="gate-production-"))
    production = train(old, settings=settings, now=NOW, out=folder)
    production_seconds = time.perf_counter() - started
    rows, records = [], []
    for name, games in scenarios(old, new, settings.lstm.holdout_games).items():
        home = Path(tempfile.mkdtemp(prefix="gate-home-"))
        engine = make_engine(f"sqlite:///{home / 'nbalife.db'}")
        open_store(engine)
        with engine.begin() as conn:
            upsert_games(conn, games, NOW)
        registry = open_registry(home, engine, settings)
        splits = production.splits
        window = {"first_date": splits[0].first_date, "last_date": splits[-1].last_date}
        info = registry.register(folder, ChangeKind.TRAIN, metrics=production.metrics, training_window=window,
                                 params=model_params(settings).to_dict(), description="2020-21")
        registry.promote(info.version, force=True, reason="benchmark")
        result = retrain(engine, registry, settings, home=home, now=NOW, force=True)
        scores = {s.model: s for s in result.scores}
        rows.append((name, result.outcome, scores["candidate"].mae, scores["production"].mae,
                     scores["persistence"].mae, f"{result.improvement:+.3f} ± {result.improvement_se:.3f}",
                     scores["candidate"].coverage, scores["production"].coverage, scores["candidate"].n,
                     round(result.seconds, 1)))
        records.append({"scenario": name, "outcome": result.outcome, "message": result.message,
                        "scores": [dataclasses.asdict(s) for s in result.scores], "gain": result.improvement,
                        "gain_se": result.improvement_se, "cutoff": result.cutoff,
                        "holdout": [result.holdout_first, result.holdout_last], "seconds": result.seconds})
        engine.dispose()
    print_table(f"Retrain gate (min_improvement {settings.lstm.min_improvement:g}, default model sizes; production "
                f"trained on 2020-21 in {production_seconds:.0f} s)",
                ["scenario", "outcome", "cand MAE", "prod MAE", "persist MAE", "gain", "cand cov", "prod cov", "n",
                 "s"], rows)
    write_json("bench_retrain_gate", {"settings": {"lstm": dataclasses.asdict(settings.lstm)},
                                      "production_seconds": production_seconds, "scenarios": records})


if __name__ == "__main__":
    main()
