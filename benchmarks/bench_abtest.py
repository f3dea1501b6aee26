"""A/B statistics under simulation: false promotions (A/A), power, and sticky routing.

Errors are simulated with the real game noise: the SD of ``d24 - d18`` over data/nba, shared by
both arms, plus a small noise of each arm's own (nbalife/abtest/simulation.py). Every look
applies the service's own rule (nbalife/abtest/decision.py) to the same statistics the service
computes (nbalife/abtest/paths.py, sequential.py). Run:
``.venv/bin/python -m benchmarks.bench_abtest [--tests 1000] [--power-tests 200]``.
"""

from __future__ import annotations

import argparse
import glob
import time
from pathlib import Path

import numpy as np

from benchmarks.common import print_table, write_json
from nbalife.abtest import paths
from nbalife.abtest.decision import PROMOTE, ROLLBACK, Rule, decide
from nbalife.abtest.routing import assign_arm
from nbalife.abtest.sequential import directional_p_paths
from nbalife.abtest.simulation import simulate_games

DATA = Path(__file__).resolve().parents[1] / "data" / "nba"
SEASON = 1230
LOOK_EVERY = 50
ALPHA = 0.05
MIN_COVERAGE = 0.90
MODES = ("shadow", "split 50%", "split 50% + CV")


def real_game_sd() -> float:
    """SD of ``d24 - d18`` over the bundled real seasons."""
    import pandas as pd

    games = pd.concat([pd.read_csv(f) for f in sorted(glob.glob(str(DATA / "*.csv")))])
    return float((games["d24"] - games["d18"]).std())


def mode_paths(mode: str, sim, rng: np.random.Generator):  # noqa: ANN001, ANN201
    """The look-by-look path, B's running coverage and the naive (plain) path for one mode."""
    if mode == "shadow":
        path = paths.shadow_path(sim.abs_a, sim.abs_b)
        n_b = np.arange(1, sim.abs_b.shape[1] + 1)
        return path, np.cumsum(sim.covered_b, axis=1) / n_b, path
    is_b = rng.random(sim.abs_a.shape) < 0.5
    y = np.where(is_b, sim.abs_b, sim.abs_a)
    n_b = np.maximum(np.cumsum(is_b, axis=1), 1)
    coverage = np.cumsum(is_b & sim.covered_b, axis=1) / n_b
    plain = paths.split_path(is_b, y, None)
    path = paths.split_path(is_b, y, sim.persistence) if mode.endswith("CV") else plain
    return path, coverage, plain


def first_looks(path, coverage, plain, looks: np.ndarray, rule: Rule) -> dict[str, np.ndarray]:  # noqa: ANN001
    """Per test, the first look (in games) at which each event happens; 0 = never."""
    from scipy import stats

    better, worse = directional_p_paths(path.estimate, path.variance, rule.min_improvement)
    with np.errstate(invalid="ignore", divide="ignore"):
        naive_p = 2 * stats.norm.sf(np.abs(plain.estimate / np.sqrt(plain.variance)))
    out = {k: np.zeros(len(path.estimate), dtype=int)
           for k in ("promote", "rollback", "sequential_better", "naive_better", "naive_promote")}
    for t in range(len(path.estimate)):
        for look in looks:
            i = look - 1
            games = int(look)
            if not out["promote"][t] and not out["rollback"][t]:
                action = decide(float(path.estimate[t, i]), float(better[t, i]), float(worse[t, i]),
                                float(coverage[t, i]), rule).action
                if action == PROMOTE:
                    out["promote"][t] = games
                elif action == ROLLBACK:
                    out["rollback"][t] = games
            if not out["sequential_better"][t] and better[t, i] <= rule.alpha:
                out["sequential_better"][t] = games
            if not out["naive_better"][t] and naive_p[t, i] <= rule.alpha and plain.estimate[t, i] > 0:
                out["naive_better"][t] = games
            if (not out["naive_promote"][t] and naive_p[t, i] <= rule.alpha
                    and plain.estimate[t, i] >= rule.min_improvement and coverage[t, i] >= rule.min_coverage):
                out["naive_promote"][t] = games
    return out


def run(tests: int, games: int, improvement: float, min_improvement: float, game_sd: float, seed: int,
        chunk: int = 50) -> dict[str, dict[str, np.ndarray]]:
    """Every mode on the same simulated tests, ``chunk`` tests at a time to bound memory."""
    rule = Rule(ALPHA, min_improvement, MIN_COVERAGE)
    looks = np.arange(LOOK_EVERY, games + 1, LOOK_EVERY)
    found: dict[str, list[dict[str, np.ndarray]]] = {m: [] for m in MODES}
    for start in range(0, tests, chunk):
        sim = simulate_games(min(chunk, tests - start), games, improvement=improvement, game_sd=game_sd,
                             seed=seed + start)
        for mode in MODES:
            rng = np.random.default_rng(seed + start + 1)
            found[mode].append(first_looks(*mode_paths(mode, sim, rng), looks, rule))
    return {m: {k: np.concatenate([part[k] for part in parts]) for k in parts[0]} for m, parts in found.items()}


def rate(first: np.ndarray) -> float:
    return float((first > 0).mean())


def median_games(first: np.ndarray, horizon: int) -> str:
    """Median games to the event over all tests; '> horizon' when under half got there."""
    reached = np.where(first > 0, first, np.inf)
    median = float(np.median(reached))
    return f"> {horizon}" if not np.isfinite(median) else str(int(median))


def stickiness(ids: int = 100_000) -> list[tuple]:
    rows = []
    game_ids = [f"002{i:07d}" for i in range(ids)]
    for share in (0.10, 0.25, 0.50):
        started = time.perf_counter()
        arms = [assign_arm("ab-bench", g, share) for g in game_ids]
        seconds = time.perf_counter() - started
        realised = arms.count("B") / ids
        rows.append((share, realised, abs(realised - share) * 100, seconds / ids * 1e6))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tests", type=int, default=1000, help="simulated A/A tests")
    parser.add_argument("--games", type=int, default=2000, help="games per A/A test")
    parser.add_argument("--power-tests", type=int, default=200)
    parser.add_argument("--horizon", type=int, default=20000, help="games per power test")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    game_sd = real_game_sd()
    started = time.perf_counter()
    payload: dict = {"game_sd": game_sd, "look_every": LOOK_EVERY, "alpha": ALPHA, "min_coverage": MIN_COVERAGE}

    aa = run(args.tests, args.games, 0.0, 0.5, game_sd, args.seed)
    aa_rows = [(m, rate(r["promote"]), rate(r["sequential_better"]), rate(r["rollback"]),
                rate(r["naive_promote"]), rate(r["naive_better"])) for m, r in aa.items()]
    print_table(f"A/A: {args.tests} tests, look every {LOOK_EVERY} games up to {args.games} "
                f"(game noise SD {game_sd:.2f}, min_improvement 0.5)",
                ["mode", "false promote", "seq. B better", "false rollback", "naive promote", "naive B better"],
                aa_rows)
    payload["aa"] = {"tests": args.tests, "games": args.games,
                     "rows": [dict(zip(["mode", "false_promote", "sequential_b_better", "false_rollback",
                                        "naive_promote", "naive_b_better"], r)) for r in aa_rows]}

    power_rows = []
    for improvement in (0.5, 0.07):
        result = run(args.power_tests, args.horizon, improvement, improvement, game_sd, args.seed + 1000)
        for mode, r in result.items():
            power_rows.append((improvement, mode, median_games(r["promote"], args.horizon),
                               float(((r["promote"] > 0) & (r["promote"] <= SEASON)).mean()),
                               rate(r["promote"]), rate(r["rollback"])))
    print_table(f"Power: {args.power_tests} tests up to {args.horizon} games, min_improvement = true improvement",
                ["improvement", "mode", "median games to promote", "promoted within a season (1230)",
                 f"promoted within {args.horizon}", "rolled back"], power_rows)
    payload["power"] = {"tests": args.power_tests, "horizon": args.horizon,
                        "rows": [dict(zip(["improvement", "mode", "median_games_to_promote", "promoted_within_season",
                                           "promoted_within_horizon", "rolled_back"], r)) for r in power_rows]}

    sticky = stickiness()
    print_table("Stickiness: 100,000 game ids", ["stage share", "realised share", "gap (points)", "us per game"],
                sticky)
    payload["stickiness"] = [dict(zip(["share", "realised", "gap_points", "us_per_game"], r)) for r in sticky]
    payload["seconds"] = time.perf_counter() - started
    write_json("bench_abtest", payload)


if __name__ == "__main__":
    main()
