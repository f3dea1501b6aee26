"""Recalibration day by day: ``conformal check --apply`` run daily on a live prediction loop.

Every day, through the services with the clock set to that day: predict the day's games with
production (arm A), ingest their results, sync outcomes, then run the conformal check with
``apply``. Point forecasts never change (a recalibration only replaces the interval), so the
same loop also gives "doing nothing": the interval of the first production on every game.

- ``sim``: a simulated season whose scoring variance rises 30% (``Drift(variance=1.3)``) at
  ``--drift-at`` of its games; trained once on the games before ``--train-games``. Reports the
  rolling 30-day coverage around the change and the first day from which it stays within 0.02
  of the target, and the same season without drift (how many recalibrations fire).
- ``real``: trained on 2020-21 and 2021-22 (data/nba), run on 2022-23; coverage and mean
  interval width per month against doing nothing.

Run: ``.venv/bin/python -m benchmarks.bench_recalibration [--part sim|real|both]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.common import print_table, write_json
from nbalife.config import Settings, load_settings
from nbalife.interchange import PATTERN_COLUMNS, load_games
from nbalife.services import conformal
from nbalife.services.model_loading import load_model_set
from nbalife.services.outcomes import sync
from nbalife.services.predict import forecast
from nbalife.services.registry import open_registry
from nbalife.services.train import train
from nbalife.simulate import Drift, simulate_season
from nbalife.store.engine import make_engine
from nbalife.store.games import upsert_games
from nbalife.store.migrate import open_store

DATA = Path(__file__).resolve().parents[1] / "data" / "nba"
ROLLING_DAYS = 30
TOLERANCE = 0.02


def _at(day: str, hour: int) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), tzinfo=dt.timezone.utc)


def run_loop(history: pd.DataFrame, season: pd.DataFrame, settings: Settings, method: str) -> dict[str, Any]:
    """Train on ``history``, then run ``season`` day by day; per game: day, covered and width under
    the recalibrated production and under the first production; the recalibrations made."""
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        engine = make_engine(f"sqlite:///{home / 'nbalife.db'}")
        open_store(engine)
        registry = open_registry(home, engine, settings)
        first_day = str(season["game_date"].min())
        train(history, settings=settings, now=_at(first_day, 0), registry=registry, engine=engine, promote=True)
        loaded = load_model_set(registry)
        first_quantile = loaded.models.conformal.quantile_
        rows, fixes = [], []
        for day, games in season.groupby("game_date", sort=True):
            if loaded.version != registry.current_version():
                loaded = load_model_set(registry)
            ids = list(games["game_id"])
            result = forecast(engine, loaded, ids, games[PATTERN_COLUMNS].to_numpy(np.float32), now=_at(day, 12))
            with engine.begin() as conn:
                upsert_games(conn, games, _at(day, 23))
            sync(engine, now=_at(day, 23))
            actual = games["d24"].to_numpy(float)
            for row, y in zip(result.rows, actual):
                rows.append({"day": day, "covered": row.lower <= y <= row.upper, "width": row.upper - row.lower,
                             "covered_fixed": abs(y - row.forecast) <= first_quantile,
                             "width_fixed": 2 * first_quantile})
            checked = conformal.check(engine, registry, settings, now=_at(day, 23) + dt.timedelta(hours=3),
                                      method=method, apply=True)
            if checked.recalibration is not None:
                fix = checked.recalibration
                fixes.append({"day": day, "coverage": checked.coverage, "n": checked.n, "version": fix.version,
                              "old_quantile": fix.old_quantile, "new_quantile": fix.new_quantile,
                              "applied": fix.applied, "refused": fix.refused})
        engine.dispose()
    return {"games": pd.DataFrame(rows), "recalibrations": fixes}


def rolling(games: pd.DataFrame, column: str) -> pd.Series:
    """Coverage over the games of the last ``ROLLING_DAYS`` days, per day."""
    daily = games.assign(day=pd.to_datetime(games["day"])).groupby("day")[column].agg(["sum", "count"])
    daily = daily.asfreq("D", fill_value=0)
    window = daily.rolling(f"{ROLLING_DAYS}D").sum()
    return window["sum"] / window["count"]


def print_fixes(title: str, fixes: list[dict[str, Any]]) -> None:
    if not fixes:
        print(f"\n{title}: none")
        return
    print_table(title, ["day", "coverage", "n", "version", "quantile", "applied"],
                [(f["day"], f["coverage"], f["n"], f["version"],
                  f"{f['old_quantile']:.2f} -> {f['new_quantile']:.2f}", f["applied"]) for f in fixes])


def simulated(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label, drift in (("drift", Drift(at=args.drift_at, variance=1.3)), ("no drift", Drift())):
        games = simulate_season(args.sim_games, season="2023-24", seed=args.seed, drift=drift)
        games = games.drop(columns=["oracle_d24"]).sort_values(["game_date", "game_id"], kind="stable")
        history, season = games[: args.train_games], games[args.train_games :]
        change = str(games["game_date"].iloc[int(args.drift_at * args.sim_games)])
        started = time.perf_counter()
        loop = run_loop(history, season, settings, args.method)
        curve, fixed = rolling(loop["games"], "covered"), rolling(loop["games"], "covered_fixed")
        after = curve[curve.index >= pd.Timestamp(change) + pd.Timedelta(days=ROLLING_DAYS)]
        moves = season["d24"] - season["d18"]
        drifted = pd.to_datetime(season["game_date"]) >= pd.Timestamp(change)
        far = (curve - settings.conformal.target_coverage).abs() > TOLERANCE
        bad_days = far[far.index >= pd.Timestamp(change)]
        settled = bad_days[bad_days].index.max()
        out[label] = {
            "change_day": change, "seconds": time.perf_counter() - started,
            "variance_ratio": float(moves[drifted].var() / moves[~drifted].var()) if drifted.any() else 1.0,
            "recalibrations": loop["recalibrations"],
            "days_to_settle": None if pd.isna(settled) else int((settled - pd.Timestamp(change)).days) + 1,
            "coverage_after_30d": float(after.mean()) if len(after) else None,
            "coverage_fixed_after_30d": float(fixed[fixed.index >= after.index.min()].mean()) if len(after) else None,
            "curve": {str(d.date()): [round(float(c), 4), round(float(f), 4)]
                      for d, c, f in zip(curve.index, curve, fixed) if (d - curve.index[0]).days % 7 == 0},
        }
        rows = [(d, c[0], c[1]) for d, c in out[label]["curve"].items()]
        print_table(f"Rolling {ROLLING_DAYS}-day coverage, {label} (change {change}): recalibrated vs fixed",
                    ["day", "recalibrated", "fixed"], rows)
        print_fixes(f"Recalibrations, {label}", loop["recalibrations"])
    return out


def real(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    history = pd.concat([load_games(DATA / "nba_2020-21.csv"), load_games(DATA / "nba_2021-22.csv")])
    season = load_games(DATA / "nba_2022-23.csv")
    started = time.perf_counter()
    loop = run_loop(history, season, settings, args.method)
    games = loop["games"].assign(month=lambda f: f["day"].str[:7])
    months = games.groupby("month").agg(n=("covered", "size"), coverage=("covered", "mean"),
                                        width=("width", "mean"), coverage_fixed=("covered_fixed", "mean"),
                                        width_fixed=("width_fixed", "mean"))
    total = {"n": len(games), "coverage": float(games["covered"].mean()), "width": float(games["width"].mean()),
             "coverage_fixed": float(games["covered_fixed"].mean()), "width_fixed": float(games["width_fixed"].mean())}
    print_table("2022-23 per month: daily recalibration vs doing nothing",
                ["month", "games", "coverage", "width", "coverage (nothing)", "width (nothing)"],
                [(m, int(r.n), r.coverage, r.width, r.coverage_fixed, r.width_fixed) for m, r in months.iterrows()]
                + [("season", total["n"], total["coverage"], total["width"], total["coverage_fixed"],
                    total["width_fixed"])])
    print_fixes("Recalibrations, 2022-23", loop["recalibrations"])
    return {"seconds": time.perf_counter() - started, "season": total, "recalibrations": loop["recalibrations"],
            "months": {m: {k: float(v) for k, v in r.items()} for m, r in months.iterrows()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--part", choices=("sim", "real", "both"), default="both")
    parser.add_argument("--method", choices=conformal.METHODS, default="split")
    parser.add_argument("--days", type=float, default=21.0, help="conformal.window_days of the daily check")
    parser.add_argument("--threshold", type=float, default=0.05, help="conformal.recalibration_threshold")
    parser.add_argument("--sim-games", type=int, default=4000)
    parser.add_argument("--train-games", type=int, default=2000)
    parser.add_argument("--drift-at", type=float, default=0.65)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--name", default="recalibration", help="results/<name>.json")
    args = parser.parse_args()
    settings = load_settings(None, environ={}, overrides={
        "conformal.window_days": args.days, "conformal.recalibration_threshold": args.threshold}).settings
    payload: dict[str, Any] = {"settings": dataclasses.asdict(settings.conformal), "method": args.method}
    if args.part in ("sim", "both"):
        payload["simulated"] = simulated(args, settings)
    if args.part in ("real", "both"):
        payload["real"] = real(args, settings)
    write_json(args.name, payload)


if __name__ == "__main__":
    main()
