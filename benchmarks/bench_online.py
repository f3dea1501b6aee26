"""The online conformal layer on real seasons, and the interval and accuracy targets.

- ``choose``: out-of-fold forecasts of 2020-21 and 2021-22 (each season forecast by parts fitted
  on the other, ``oof_forecasts``); each online rule and step is run day by day over one season,
  its starting radius from the other season's residuals. The rule is chosen on 2021-22 and
  confirmed on 2020-21; 2022-23 plays no part.
- ``target``: the shipped defaults trained on 2020-21 and 2021-22 (``nbalife train``'s splits and
  parameters), then 2022-23 served day by day as ``predict`` serves it (each game's context as
  of its date, the interval of the online state after the outcomes of earlier days). Per layer:
  coverage per month, season coverage, the worst 30-day window, whole-point outcomes held,
  against ``d18 ± 12``; per component: MAE and the paired gain over persistence ± SE.

Run: ``.venv/bin/python -m benchmarks.bench_online --part choose|target``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.common import RESULTS, print_table, write_json
from nbalife.config import load_settings
from nbalife.forecast.conformal import AdaptiveConformal, held, lattice_interval, serve_online
from nbalife.forecast.modelset import ModelSet, oof_forecasts
from nbalife.interchange import PATTERN_COLUMNS, load_games

DATA = Path(__file__).resolve().parents[1] / "data" / "nba"
RULES = [("static", 0.0, 0.005), ("quantile", 0.25, 0.005), ("quantile", 0.5, 0.005), ("quantile", 1.0, 0.005),
         ("quantile", 2.0, 0.005), ("decaying", 1.0, 0.005), ("decaying", 2.0, 0.005), ("aci", 0.0, 0.005),
         ("aci", 0.0, 0.01)]


def season(name: str) -> pd.DataFrame:
    return load_games(DATA / f"nba_{name}.csv")


def layer_figures(y: np.ndarray, lower: np.ndarray, upper: np.ndarray, dates: np.ndarray) -> dict[str, Any]:
    """Coverage (all, per month, worst 30 days) and whole-point outcomes held."""
    covered = (lower <= y) & (y <= upper)
    months = pd.Series(covered).groupby(pd.Series(dates).str[:7].to_numpy()).mean()
    daily = pd.Series(covered.astype(float), index=pd.to_datetime(dates)).groupby(level=0).agg(["sum", "count"])
    window = daily.rolling("30D").sum()
    full = window.index >= window.index[0] + pd.Timedelta(days=29)
    worst = float((window["sum"] / window["count"])[full].min()) if full.any() else float("nan")
    return {"coverage": float(covered.mean()), "held": float(held(lower, upper).mean()),
            "months": {k: float(v) for k, v in months.items()}, "worst_30_days": worst}


def choose(args: argparse.Namespace) -> dict[str, Any]:
    games = pd.concat([season("2020-21"), season("2021-22")]).sort_values(["game_date", "game_id"]).reset_index(drop=True)
    settings = load_settings(None, environ={}).settings
    from nbalife.services.train import model_params

    oof = oof_forecasts(games, model_params(settings))
    dates = games["game_date"].to_numpy()
    forecast = oof.context if oof.context is not None else (oof.dejavu + oof.lstm) / 2
    out: dict[str, Any] = {}
    for target, label in ((1, "2021-22 (choose)"), (0, "2020-21 (confirm)")):
        rows, here, other = [], oof.folds == target, oof.folds != target
        for online, step, gamma in RULES:
            layer = AdaptiveConformal(online=online, step=step, gamma=gamma).fit(np.abs(oof.y[other] - forecast[other]))
            lower, upper, state = serve_online(layer, forecast[here], oof.y[here], dates[here])
            fig = layer_figures(oof.y[here], lower, upper, dates[here])
            bound = layer.bound(state)
            name = f"{online} step {step:g}" if online in ("quantile", "decaying") else (
                f"aci gamma {gamma:g}" if online == "aci" else online)
            out.setdefault(label, {})[name] = {**fig, "bound": bound}
            rows.append((name, fig["coverage"], min(fig["months"].values()), max(fig["months"].values()),
                         fig["worst_30_days"], fig["held"], "-" if bound is None else f"{bound:.3f}"))
        print_table(f"Online rules on {label}: the context forecast out of fold, served day by day",
                    ["rule", "coverage", "worst month", "best month", "worst 30 d", "held", "bound"], rows)
    return out


def target(args: argparse.Namespace) -> dict[str, Any]:
    from nbalife.services.train import model_params, time_splits

    settings = load_settings(None, environ={}).settings
    history = pd.concat([season("2020-21"), season("2021-22")]).sort_values(["game_date", "game_id"]).reset_index(drop=True)
    replayed = season("2022-23").sort_values(["game_date", "game_id"]).reset_index(drop=True)
    cache = RESULTS / "cache" / "online-target"
    started = time.perf_counter()
    if (cache / "conformal.json").exists() and not args.refit:
        models = ModelSet.load(cache)
    else:
        params = model_params(settings)
        splits = time_splits(history, settings.training.validation_fraction,
                             settings.training.calibration_fraction, alpha=params.alpha)
        models = ModelSet.fit(*splits, params)
        cache.mkdir(parents=True, exist_ok=True)
        models.save(cache)
    fit_seconds = time.perf_counter() - started
    pregame = models.pregame(replayed, history=history, start=False)
    X = replayed[PATTERN_COLUMNS].to_numpy(dtype=np.float32)
    y = replayed["d24"].to_numpy(dtype=float)
    d18 = X[:, -1].astype(float)
    result = models.predict(X, None if pregame is None else pregame.edge)
    dates = replayed["game_date"].to_numpy()
    base = np.abs(y - d18)
    parts = {"ensemble": result.forecast, "dejavu": result.dejavu, "lstm": result.lstm,
             **({"context": result.context} if result.context is not None else {}), "persistence": d18}
    point_rows, points = [], {}
    for name, f in parts.items():
        gain = base - np.abs(y - f)
        se = float(gain.std(ddof=1) / np.sqrt(len(gain)))
        points[name] = {"mae": float(np.abs(y - f).mean()), "gain": float(gain.mean()), "se": se,
                        "gain_pct": float(gain.mean() / base.mean())}
        point_rows.append((name, points[name]["mae"], f"{gain.mean():+.3f} ± {se:.3f}",
                           f"{100 * gain.mean() / base.mean():+.2f}%", f"{gain.mean() / se:.1f}" if se else "-"))
    print_table(f"2022-23 after 2020-22: point forecasts (weights {models.ensemble.weights_})",
                ["part", "MAE", "gain over persistence", "gain %", "SE"], point_rows)
    layer = models.conformal
    layers: dict[str, Any] = {}
    rows = []
    trivial = lattice_interval(d18, 12.0)
    candidates = [("shipped: " + layer.online, layer)]
    for online, step, gamma in RULES:
        params = {**layer.get_params(), "online": online, "step": step, "gamma": gamma, "start": None}
        candidates.append((f"{online} {step or gamma:g}", AdaptiveConformal(**params).fit(layer.split_.scores_)))
    for name, candidate in candidates:
        lower, upper, state = serve_online(candidate, result.forecast, y, dates)
        fig = layer_figures(y, lower, upper, dates)
        fig["bound"] = candidate.bound(state)
        layers[name] = fig
        rows.append((name, fig["coverage"], min(fig["months"].values()), max(fig["months"].values()),
                     fig["worst_30_days"], fig["held"]))
    trivial_fig = layer_figures(y, *trivial, dates)
    layers["d18 ± 12"] = trivial_fig
    rows.append(("d18 ± 12", trivial_fig["coverage"], min(trivial_fig["months"].values()),
                 max(trivial_fig["months"].values()), trivial_fig["worst_30_days"], trivial_fig["held"]))
    print_table(f"2022-23 intervals served day by day (start radius {layer.quantile_:.2f} from "
                f"{len(layer.split_.scores_)} out-of-fold residuals)",
                ["layer", "coverage", "worst month", "best month", "worst 30 d", "held"], rows)
    shipped = layers[candidates[0][0]]
    print("months (shipped):", {k: round(v, 3) for k, v in shipped["months"].items()})
    return {"points": points, "layers": layers, "weights": models.ensemble.weights_,
            "start_radius": layer.quantile_, "fit_seconds": fit_seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--part", choices=("choose", "target"), default="target")
    parser.add_argument("--refit", action="store_true", help="refit the cached model set of --part target")
    args = parser.parse_args()
    payload = choose(args) if args.part == "choose" else target(args)
    write_json(f"online_{args.part}", payload)


if __name__ == "__main__":
    main()
