"""Recalibration day by day: ``conformal check --apply`` run daily on a live prediction loop.

Every day, with the clock set to that day: predict the day's games with production (arm A),
learn their results, then run the conformal check with ``apply``. Point forecasts never change (a
recalibration only replaces the interval), so the same loop also gives "doing nothing": the
interval of the first production on every game.

- ``sim``: simulated seasons (``--seeds``) whose scoring variance rises 30% (``Drift(variance=1.3)``)
  at ``--drift-at`` of their games, and the same seasons without drift; trained once on the games
  before ``--train-games``. Replayed in memory (``replay``: the check's own ``decide`` and
  ``refit_layer`` on the same rows the store would hold, promotion always accepted) for each
  policy of ``POLICIES``. Reports the rolling 30-day coverage 0, 7, ..., 56 days after the change
  per seed and policy, their mean, and the recalibrations without drift (false alarms).
- ``loop``: the first seed's drift season through the services (store, registry, promotion
  gate) with ``--policy``, to show that the replay makes the same recalibrations.
- ``real``: trained on 2020-21 and 2021-22 (data/nba), run on 2022-23 through the services;
  coverage and mean interval width per month against doing nothing.
- ``layers``: each interval layer (the online layer alone, the static layer with the window rule,
  the static layer with the CUSUM rule, the static layer untouched, and the online layer with the
  CUSUM rule as shipped) served day by day, in memory, over the developers' seasons (2020-21 and
  2021-22 out of fold: each forecast by the context part fitted on the other, the layer started
  from the other season's residuals) and over simulated seasons with and without drift (the
  spread of the outcome rises 30% at ``--drift-at``). Per layer: coverage per month, the worst
  30-day window, whole-point outcomes held, versions registered (recalibrations), and the
  recalibrations in seasons without drift (false alarms).
- ``power``: the miss CUSUM alone on independent miss streams: false alarms at the nominal miss
  rate and detection delays at higher ones (what any miss-based detector can see).

Run: ``.venv/bin/python -m benchmarks.bench_recalibration [--part sim|loop|real|power|layers] [--seeds 1 2 3]``.
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
from nbalife.store.predictions import ResolvedPrediction

DATA = Path(__file__).resolve().parents[1] / "data" / "nba"
ROLLING_DAYS = 30
CHECK_AFTER = dt.timedelta(hours=8)  # the check at 07:00 UTC, outside the default live-game freeze


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
            checked = conformal.check(engine, registry, settings, now=_at(day, 23) + CHECK_AFTER,
                                      method=method, apply=True)
            if checked.recalibration is not None:
                fix = checked.recalibration
                fixes.append({"day": day, "trigger": checked.trigger, "coverage": checked.coverage, "n": checked.n,
                              "version": fix.version,
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
    print_table(title, ["day", "rule", "window coverage", "n", "version", "quantile", "applied"],
                [(f["day"], f["trigger"], f["coverage"], f["n"], f["version"],
                  f"{f['old_quantile']:.2f} -> {f['new_quantile']:.2f}", f["refused"] or f["applied"])
                 for f in fixes])


POLICIES: dict[str, dict[str, Any]] = {  # configuration overrides of each policy compared
    "window only (7 d, 0.05)": {"conformal.cusum_threshold": "null"},
    "window only (21 d, 0.025)": {"conformal.cusum_threshold": "null", "conformal.window_days": 21.0,
                                  "conformal.recalibration_threshold": 0.025},
    "cusum 3.5": {"conformal.cusum_threshold": 3.5},
    "cusum 4.5": {"conformal.cusum_threshold": 4.5},
    "cusum 5.5 (default)": {"conformal.cusum_threshold": 5.5},
    "cusum 6.5": {"conformal.cusum_threshold": 6.5},
}
OFFSETS = (0, 7, 14, 21, 28, 42, 56)
TARGET, TOLERANCE = 0.95, 0.02


def policy_settings(name: str) -> Settings:
    return load_settings(None, environ={}, overrides=POLICIES[name]).settings


def season_games(seed: int, args: argparse.Namespace, drift: Drift) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """A simulated season split into training games and live games, and its change day."""
    games = simulate_season(args.sim_games, season="2023-24", seed=seed, drift=drift)
    games = games.drop(columns=["oracle_d24"]).sort_values(["game_date", "game_id"], kind="stable")
    change = str(games["game_date"].iloc[int(args.drift_at * args.sim_games)])
    return games[: args.train_games], games[args.train_games :], change


def season_forecasts(seed: int, args: argparse.Namespace, drift: Drift) -> tuple[pd.DataFrame, Path, str]:
    """Train on the season's first games; the live games' day, forecast and actual ``d24``, the
    first production's folder (under ``args.work``) and the change day."""
    history, season, change = season_games(seed, args, drift)
    home = Path(tempfile.mkdtemp(dir=args.work))
    engine = make_engine(f"sqlite:///{home / 'nbalife.db'}")
    open_store(engine)
    settings = policy_settings(args.policy)
    registry = open_registry(home, engine, settings)
    train(history, settings=settings, now=_at(str(season["game_date"].min()), 0), registry=registry,
          engine=engine, promote=True)
    loaded = load_model_set(registry)
    engine.dispose()
    point = loaded.models.predict(season[PATTERN_COLUMNS].to_numpy(np.float32)).forecast
    live = pd.DataFrame({"game_id": season["game_id"].to_numpy(), "day": season["game_date"].astype(str).to_numpy(),
                         "forecast": point, "actual": season["d24"].to_numpy(float)})
    return live, registry.load_production().path, change


def replay(live: pd.DataFrame, first: Path, settings: Settings, method: str, work: Path) -> dict[str, Any]:
    """The daily loop in memory: each day's rows get production's interval, then the check runs
    at 07:00 UTC the next day on production's resolved rows (as ``conformal.check`` reads them)."""
    from nbalife.forecast.conformal import AdaptiveConformal

    layer_dir, quantile, version = first, AdaptiveConformal.load(first).quantile_, 0
    mine: list[ResolvedPrediction] = []
    covered, fixes = [], []
    first_quantile = quantile
    for day, games in live.groupby("day", sort=True):
        made = _at(day, 12)
        for g in games.itertuples():
            row = ResolvedPrediction(g.game_id, "A", str(version), made, g.forecast, g.forecast - quantile,
                                     g.forecast + quantile, None, None, g.actual, g.actual - g.forecast, None)
            mine.append(row)
            covered.append((day, row.lower <= row.actual <= row.upper,
                            abs(g.actual - g.forecast) <= first_quantile, 2 * quantile))
        now = _at(day, 23) + CHECK_AFTER
        window = [r for r in mine if r.created_at >= now - dt.timedelta(days=settings.conformal.window_days)]
        decision = conformal.decide(window, mine, settings.conformal)
        if decision.trigger is None:
            continue
        layer = conformal.refit_layer(layer_dir, decision.rows, settings, method, now)
        layer_dir = Path(tempfile.mkdtemp(dir=work))
        layer.save(layer_dir)
        fixes.append({"day": day, "trigger": decision.trigger, "cusum": decision.cusum, "n": len(window),
                      "refit_n": len(decision.rows), "old_quantile": quantile, "new_quantile": layer.quantile_})
        quantile, version, mine = layer.quantile_, version + 1, []
    frame = pd.DataFrame(covered, columns=["day", "covered", "covered_fixed", "width"])
    return {"games": frame, "recalibrations": fixes}


def curve_at(curve: pd.Series, change: str) -> list[float | None]:
    """The curve's values ``OFFSETS`` days after ``change`` (None past the season's end)."""
    start = pd.Timestamp(change)
    return [round(float(curve[start + pd.Timedelta(days=d)]), 4) if start + pd.Timedelta(days=d) in curve.index
            else None for d in OFFSETS]


def simulated(args: argparse.Namespace) -> dict[str, Any]:
    seeds: dict[str, Any] = {}
    for seed in args.seeds:
        started = time.perf_counter()
        entry: dict[str, Any] = {}
        for label, drift in (("drift", Drift(at=args.drift_at, variance=1.3)), ("no drift", Drift())):
            live, first, change = season_forecasts(seed, args, drift)
            runs = {name: replay(live, first, policy_settings(name), args.method, args.work) for name in POLICIES}
            any_run = next(iter(runs.values()))["games"]
            entry[label] = {"change_day": change, "fixed": curve_at(rolling(any_run, "covered_fixed"), change), **{
                name: {"curve": curve_at(rolling(run["games"], "covered"), change),
                       "width_after": float(run["games"].loc[run["games"]["day"] >= change, "width"].mean()),
                       "recalibrations": run["recalibrations"]} for name, run in runs.items()}}
        seeds[str(seed)] = entry
        print(f"seed {seed}: {time.perf_counter() - started:.0f} s")
    report(seeds)
    return seeds


def report(seeds: dict[str, Any]) -> None:
    """Per policy: the drift curve per seed and its mean, recalibration days, false alarms."""
    header = ["seed", *(f"day {d}" for d in OFFSETS), "recalibrated (days after change)"]
    for name in ["fixed", *POLICIES]:
        rows, curves = [], []
        for seed, entry in seeds.items():
            run = entry["drift"][name]
            curve = run if name == "fixed" else run["curve"]
            days = "" if name == "fixed" else " ".join(
                str((pd.Timestamp(f["day"]) - pd.Timestamp(entry["drift"]["change_day"])).days)
                for f in run["recalibrations"])
            rows.append((seed, *curve, days))
            curves.append([np.nan if c is None else c for c in curve])
        values = np.array(curves, dtype=float)
        rows.append(("mean", *(round(float(v), 4) for v in np.nanmean(values, axis=0)), ""))
        rows.append((f"within {TOLERANCE}", *(f"{int((np.abs(c - TARGET) <= TOLERANCE).sum())}/{len(c)}"
                                              for c in values.T), ""))
        print_table(f"Rolling {ROLLING_DAYS}-day coverage after the change (variance x1.3): {name}", header, rows)
    alarms = [(name, *(len(e["no drift"][name]["recalibrations"]) for e in seeds.values()),
               sum(len(e["no drift"][name]["recalibrations"]) for e in seeds.values())) for name in POLICIES]
    print_table("Recalibrations without drift (false alarms), per seed", ["policy", *seeds, "total"], alarms)


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


def first_alarm(missed: np.ndarray, threshold: float, alpha: float, alarm_rate: float) -> int | None:
    """The number of outcomes after which ``miss_cusum`` first exceeds ``threshold`` (its peak over
    a prefix never decreases as the prefix grows, so a bisection finds it)."""
    from nbalife.forecast.conformal import miss_cusum

    if miss_cusum(missed, alpha, alarm_rate)[0] <= threshold:
        return None
    low, high = 0, len(missed)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if miss_cusum(missed[:middle], alpha, alarm_rate)[0] > threshold else (middle, high)
    return high


def power(args: argparse.Namespace) -> dict[str, Any]:
    """What a miss CUSUM can see: independent miss streams of ``--games`` outcomes at the nominal
    rate (false alarms) and at higher rates from the first outcome (detection delay, in games)."""
    rng = np.random.default_rng(0)
    alpha = 1.0 - TARGET
    out: dict[str, Any] = {}
    rows = []
    for threshold in (3.5, 4.5, 5.5, 6.5):
        entry = {"false_alarm": float(np.mean([first_alarm(rng.random(args.games) < alpha, threshold, alpha,
                                                           alpha + 0.05) is not None for _ in range(args.streams)]))}
        for rate in (0.075, 0.09, 0.10):
            delays = [first_alarm(rng.random(args.games) < rate, threshold, alpha, alpha + 0.05)
                      for _ in range(args.streams)]
            entry[str(rate)] = np.percentile([args.games if d is None else d for d in delays], [25, 50, 75]).tolist()
        out[str(threshold)] = entry
        rows.append((threshold, entry["false_alarm"], *(" / ".join(f"{v:.0f}" for v in entry[str(r)])
                                                        for r in (0.075, 0.09, 0.10))))
    print_table(f"Miss CUSUM (alarm rate 0.10): false alarms within {args.games} games at miss rate 0.05, "
                f"and games to detect (p25 / median / p75) from the first drifted game; {args.streams} streams",
                ["threshold", "false alarm", "rate 0.075", "rate 0.09", "rate 0.10"], rows)
    return out


def service_loop(args: argparse.Namespace) -> dict[str, Any]:
    """The first seed's drift season through the services, with ``args.policy``."""
    history, season, change = season_games(args.seeds[0], args, Drift(at=args.drift_at, variance=1.3))
    started = time.perf_counter()
    loop = run_loop(history, season, policy_settings(args.policy), args.method)
    print_fixes(f"Recalibrations through the services, seed {args.seeds[0]}, {args.policy} "
                f"(change {change})", loop["recalibrations"])
    return {"seed": args.seeds[0], "policy": args.policy, "change_day": change,
            "seconds": time.perf_counter() - started, "recalibrations": loop["recalibrations"],
            "curve": curve_at(rolling(loop["games"], "covered"), change)}


LAYERS: dict[str, dict[str, Any]] = {  # the online rule, and the regime rule of the daily check
    "online (quantile, step 1)": {"online": "quantile", "rule": None},
    "online + CUSUM 5.5 (shipped)": {"online": "quantile", "rule": "cusum"},
    "static + window (7 d, 0.05)": {"online": "static", "rule": "window"},
    "static + CUSUM 5.5": {"online": "static", "rule": "cusum"},
    "static": {"online": "static", "rule": None},
}


def serve_layers(start_scores: np.ndarray, forecast: np.ndarray, actual: np.ndarray, days: np.ndarray,
                 spec: dict[str, Any], cfg: Any) -> tuple[np.ndarray, np.ndarray, int]:
    """Serve the games day by day under one layer: the day's intervals from the state before it,
    then its outcomes advance the state; at each day's end the check's own ``decide`` (window or
    CUSUM rule) may refit a new layer (split quantile of its rows, same online rule), counted as a
    registered version. Returns covered flags, outcomes held, and the number of recalibrations."""
    from nbalife.forecast.conformal import AdaptiveConformal, held

    rule = {"online": spec["online"], "step": 1.0}
    layer = AdaptiveConformal(**rule).fit(start_scores)
    state = layer.start_state()
    rows: list[ResolvedPrediction] = []
    covered, width, versions = np.zeros(len(actual), bool), np.zeros(len(actual)), 0
    settings = cfg if spec["rule"] == "cusum" else dataclasses.replace(cfg, cusum_threshold=None)
    starts = np.flatnonzero(np.r_[True, days[1:] != days[:-1]])
    for begin, end in zip(starts, [*starts[1:], len(days)]):
        lower, upper = layer.interval(forecast[begin:end], state)
        day = dt.datetime.fromisoformat(str(days[begin])).replace(tzinfo=dt.timezone.utc)
        for i in range(begin, end):
            low, high = lower[i - begin], upper[i - begin]
            covered[i], width[i] = low <= actual[i] <= high, held(low, high)
            state = layer.advance(state, not covered[i], abs(actual[i] - forecast[i]))
            rows.append(ResolvedPrediction(str(i), "A", str(versions), day, forecast[i], low, high, None, None,
                                           actual[i], actual[i] - forecast[i], None))
        if spec["rule"] is None:
            continue
        window = [r for r in rows if r.created_at > day - dt.timedelta(days=cfg.window_days)]
        decision = conformal.decide(window, rows, settings)
        if decision.trigger is not None:
            residuals = np.abs(np.array([r.error for r in decision.rows]))
            layer = AdaptiveConformal(**rule).fit(residuals)
            state, rows, versions = layer.start_state(), [], versions + 1
    return covered, width, versions


def layer_rows(label: str, days: np.ndarray, covered: np.ndarray, width: np.ndarray, versions: int
               ) -> dict[str, Any]:
    frame = pd.DataFrame({"day": days, "covered": covered})
    months = frame.assign(month=frame["day"].astype(str).str[:7]).groupby("month")["covered"].mean()
    worst = rolling(frame, "covered").iloc[ROLLING_DAYS - 1:].min()
    return {"coverage": float(covered.mean()), "months": {k: float(v) for k, v in months.items()},
            "worst_30_days": float(worst), "held": float(width.mean()), "versions": versions}


def simulated_residuals(seed: int, drift: bool, games: int, drift_at: float) -> tuple[np.ndarray, ...]:
    """A season of ``games`` whole-point outcomes, 7 a day from 1 November: forecasts, outcomes,
    days; the outcome's spread 6 points, 30% more variance after ``drift_at`` when ``drift``; and
    2,000 calibration scores of the undrifted spread."""
    rng = np.random.default_rng(seed)
    forecast = rng.normal(0, 3, games)
    spread = np.where(drift & (np.arange(games) >= int(drift_at * games)), 6 * np.sqrt(1.3), 6.0)
    actual = np.round(forecast + rng.normal(0, 1, games) * spread)
    first = dt.date(2023, 11, 1)
    days = np.array([(first + dt.timedelta(days=i // 7)).isoformat() for i in range(games)])
    centre = rng.normal(0, 3, 2000)
    calibration = np.abs(np.round(centre + rng.normal(0, 6, 2000)) - centre)
    return forecast, actual, days, calibration


def layers(args: argparse.Namespace) -> dict[str, Any]:
    """The ``layers`` part (module docstring)."""
    from nbalife.forecast.modelset import oof_forecasts
    from nbalife.services.train import model_params

    cfg = Settings().conformal
    out: dict[str, Any] = {"real": {}, "simulated": {}}
    games = pd.concat([load_games(DATA / f"nba_{s}.csv") for s in ("2020-21", "2021-22")])
    games = games.sort_values(["game_date", "game_id"]).reset_index(drop=True)
    oof = oof_forecasts(games, model_params(Settings()))
    forecast = oof.context
    days = games["game_date"].to_numpy()
    for fold, label in ((1, "2021-22"), (0, "2020-21")):
        here = oof.folds == fold
        start = np.abs(oof.y[~here] - forecast[~here])
        rows = []
        for name, spec in LAYERS.items():
            covered, width, versions = serve_layers(start, forecast[here], oof.y[here], days[here], spec, cfg)
            fig = layer_rows(name, days[here], covered, width, versions)
            out["real"].setdefault(label, {})[name] = fig
            rows.append((name, fig["coverage"], min(fig["months"].values()), max(fig["months"].values()),
                         fig["worst_30_days"], fig["held"], versions))
        print_table(f"{label}, out of fold, served day by day", ["layer", "coverage", "worst month", "best month",
                                                                 "worst 30 d", "held", "versions"], rows)
    for drift in (False, True):
        rows = []
        for name, spec in LAYERS.items():
            figures = []
            for seed in args.seeds:
                forecast_s, actual, sim_days, calibration = simulated_residuals(seed, drift, args.sim_games // 3,
                                                                               args.drift_at)
                covered, width, versions = serve_layers(calibration, forecast_s, actual, sim_days, spec, cfg)
                figures.append(layer_rows(name, sim_days, covered, width, versions))
            entry = {"coverage": float(np.mean([f["coverage"] for f in figures])),
                     "worst_month": float(np.mean([min(f["months"].values()) for f in figures])),
                     "worst_30_days": float(np.mean([f["worst_30_days"] for f in figures])),
                     "held": float(np.mean([f["held"] for f in figures])),
                     "versions": float(np.mean([f["versions"] for f in figures])),
                     "seasons_with_a_version": int(sum(f["versions"] > 0 for f in figures))}
            out["simulated"].setdefault("drift" if drift else "no drift", {})[name] = entry
            rows.append((name, entry["coverage"], entry["worst_month"], entry["worst_30_days"], entry["held"],
                         entry["versions"], f"{entry['seasons_with_a_version']}/{len(args.seeds)}"))
        title = (f"Simulated seasons ({len(args.seeds)} seeds, {args.sim_games // 3} games), "
                 + (f"spread +30% variance at {args.drift_at:.0%}" if drift else "no drift: versions are false alarms"))
        print_table(title, ["layer", "coverage", "worst month (mean)", "worst 30 d (mean)", "held",
                            "versions (mean)", "seasons with one"], rows)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--part", choices=("sim", "loop", "real", "power", "layers"), default="sim")
    parser.add_argument("--method", choices=conformal.METHODS, default="split")
    parser.add_argument("--policy", choices=tuple(POLICIES), default="cusum 5.5 (default)",
                        help="configuration of --part loop and real")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5, 6, 7, 8])
    parser.add_argument("--sim-games", type=int, default=4000)
    parser.add_argument("--train-games", type=int, default=2000)
    parser.add_argument("--drift-at", type=float, default=0.65)
    parser.add_argument("--games", type=int, default=2000, help="stream length of --part power")
    parser.add_argument("--streams", type=int, default=400, help="streams per rate of --part power")
    parser.add_argument("--name", default=None, help="results/<name>.json (default recalibration_<part>)")
    args = parser.parse_args()
    payload: dict[str, Any] = {"method": args.method, "policies": POLICIES, "args": vars(args)}
    with tempfile.TemporaryDirectory() as work:
        args.work = work
        if args.part == "sim":
            payload["simulated"] = simulated(args)
        elif args.part == "power":
            payload["power"] = power(args)
        elif args.part == "layers":
            payload["layers"] = layers(args)
        elif args.part == "loop":
            payload["loop"] = service_loop(args)
        else:
            payload["real"] = real(args, policy_settings(args.policy))
    write_json(args.name or f"recalibration_{args.part}", payload)


if __name__ == "__main__":
    main()
