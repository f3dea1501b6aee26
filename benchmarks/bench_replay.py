"""`replay` (the service) on real seasons with the shipped defaults (or ``--policy``): the real
2022-23 season, the first model trained on 2020-21 and 2021-22, then 2021-22 trained on 2020-21
alone as a confirmation (nothing is tuned to either). Per season: alerts by cause and per week;
recalibrations, Dejavu updates and LSTM retrains registered, promoted and waiting (distinct
versions); the monthly coverage and width (whole-point outcomes held on the lattice) of the
policy next to doing nothing (the first model's static interval); the ``d18 ± 12`` interval on
the same games; MAE against persistence with the paired standard error; the time per job kind;
and the interval and point targets, each marked met or missed. Prints tables and writes
benchmarks/results/bench_replay.json, or bench_replay_<policy file stem>.json with ``--policy``.

Run: ``.venv/bin/python -m benchmarks.bench_replay [--season 2022-23] [--policy FILE]``
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

from benchmarks.common import print_table, write_json
from nbalife.config import load_settings
from nbalife.services.replay import ReplayResult, replay

DATA = Path(__file__).resolve().parents[1] / "data" / "nba"
SEASONS = {  # replayed season -> the files, training seasons first (the replay's window is the last)
    "2022-23": [DATA / "nba_2020-21.csv", DATA / "nba_2021-22.csv", DATA / "nba_2022-23.csv"],
    "2021-22": [DATA / "nba_2020-21.csv", DATA / "nba_2021-22.csv"],
}
MONTH_LOW, MONTH_HIGH = 0.93, 0.97  # every calendar month's coverage
SEASON_LOW, SEASON_HIGH = 0.945, 0.96  # the season's coverage
TRIVIAL_HALF = 12  # d18 ± 12 holds the 25 whole-point outcomes d18 - 12 .. d18 + 12
MIN_GAIN, MIN_SE = 0.015, 3.0  # ensemble MAE at least 1.5% under persistence, at 3 paired SE or more


@dataclasses.dataclass(frozen=True)
class Target:
    name: str
    measured: str
    met: bool


def per_game(path: Path):  # noqa: ANN201 - a DataFrame
    """The forecasts file ``replay`` wrote, with the trivial interval's hit and width per game."""
    import pandas as pd

    frame = pd.read_csv(path)
    frame["trivial_hit"] = (frame["d24"] - frame["d18"]).abs() <= TRIVIAL_HALF
    frame["trivial_width"] = 2 * TRIVIAL_HALF + 1
    frame["month"] = frame["game_date"].str[:7]
    return frame


def targets(result: ReplayResult, games) -> list[Target]:  # noqa: ANN001 - a DataFrame
    total = result.total
    gain = (total.persistence_mae - total.mae) / total.persistence_mae
    ses = (total.persistence_mae - total.mae) / total.vs_persistence_se
    low = min(result.months, key=lambda m: m.coverage)
    high = max(result.months, key=lambda m: m.coverage)
    trivial_cov, trivial_width = float(games["trivial_hit"].mean()), float(games["trivial_width"].mean())
    return [
        Target(f"every month's coverage in [{MONTH_LOW}, {MONTH_HIGH}]",
               f"{low.coverage:.3f} ({low.period}) .. {high.coverage:.3f} ({high.period})",
               all(MONTH_LOW <= m.coverage <= MONTH_HIGH for m in result.months)),
        Target(f"season coverage in [{SEASON_LOW}, {SEASON_HIGH}]", f"{total.coverage:.3f}",
               SEASON_LOW <= total.coverage <= SEASON_HIGH),
        Target("mean width held below d18 ± 12's", f"{total.width:.2f} vs {trivial_width:.0f} "
               f"(d18 ± 12 covers {trivial_cov:.3f})", total.width < trivial_width),
        Target(f"MAE >= {MIN_GAIN:.1%} under persistence at >= {MIN_SE:g} paired SE",
               f"{total.mae:.3f} vs {total.persistence_mae:.3f}: {gain:.2%}, {ses:.2f} SE "
               f"(SE {total.vs_persistence_se:.3f})", gain >= MIN_GAIN and ses >= MIN_SE),
    ]


def measure(season: str, settings) -> dict:  # noqa: ANN001 - Settings
    files = SEASONS[season]
    cpu_started = time.process_time()
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp:
        result = replay(files, settings=settings, forecasts=Path(tmp) / "forecasts.csv")
        games = per_game(result.forecasts)
    cpu_seconds = time.process_time() - cpu_started
    print(f"\n=== {season} ===")
    print(f"trained on {result.train_games} games {result.train_first}..{result.train_last} "
          f"({result.train_seconds:.1f} s); replayed {result.replay_games} games "
          f"{result.replay_first}..{result.replay_last}; {result.seconds:.1f} s wall in all, "
          f"{cpu_seconds:.1f} s CPU of this process")
    trivial = games.groupby("month").agg(cov=("trivial_hit", "mean"))["cov"].to_dict()
    columns = ["month", "games", "coverage", "width held", "MAE", "nothing cov", "nothing width", "d18±12 cov",
               "persistence MAE", "MAE - persistence (SE)"]
    rows = [[m.period, m.games, round(m.coverage, 3), round(m.width, 2), round(m.mae, 3),
             round(m.nothing_coverage, 3), round(m.nothing_width, 2),
             round(trivial.get(m.period, float(games["trivial_hit"].mean())), 3), round(m.persistence_mae, 3),
             f"{m.mae - m.persistence_mae:+.3f} ({m.vs_persistence_se:.3f})"]
            for m in [*result.months, result.total]]
    print_table(f"{season}: monthly figures, the policy vs the first model untouched (nothing) vs d18 ± 12 "
                "(width 25) vs persistence", columns, rows)
    weeks = len(result.weeks)
    alerts = sum(a.alerts for a in result.alerts)
    alert_days = len({a.at.date() for a in result.actions if a.causes})
    print_table(f"{season}: alerts by cause ({alerts} in {weeks} weeks of games, on {alert_days} days: "
                f"{alerts / weeks:.2f} a week)", ["job", "cause", "alerts", "days"],
                [[a.job, a.cause, a.alerts, a.days] for a in result.alerts] or [["-", "none", 0, 0]])
    print_table(f"{season}: versions the jobs made (distinct)",
                ["kind", "registered", "promoted", "waiting", "rejected runs"],
                [[v.kind, v.registered, v.promoted, v.waiting, v.rejected] for v in result.versions])
    print_table(f"{season}: production's changes", ["at", "version"],
                [[str(at), v] for at, v in result.productions])
    print_table(f"{season}: time per job kind", ["job", "runs", "seconds"],
                [[j.job, j.runs, round(j.seconds, 1)] for j in result.jobs])
    found = targets(result, games)
    print_table(f"{season}: targets", ["target", "measured", "met"],
                [[t.name, t.measured, "met" if t.met else "MISSED"] for t in found])
    return {
        "files": [str(f) for f in files], "train_games": result.train_games, "replay_games": result.replay_games,
        "seconds": result.seconds, "cpu_seconds": cpu_seconds, "train_seconds": result.train_seconds,
        "months": [dataclasses.asdict(m) for m in result.months], "total": dataclasses.asdict(result.total),
        "weeks": [dataclasses.asdict(w) for w in result.weeks], "alerts_per_week": alerts / weeks,
        "trivial": {"coverage": float(games["trivial_hit"].mean()), "width": 2 * TRIVIAL_HALF + 1,
                    "months": trivial},
        "action_counts": result.action_counts, "alerts": [dataclasses.asdict(a) for a in result.alerts],
        "versions": [dataclasses.asdict(v) for v in result.versions],
        "productions": [[str(at), v] for at, v in result.productions],
        "actions": [dataclasses.asdict(a) for a in result.actions],
        "jobs": [dataclasses.asdict(j) for j in result.jobs], "targets": [dataclasses.asdict(t) for t in found],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", type=Path, default=None, help="configuration file (default: the defaults)")
    parser.add_argument("--season", choices=sorted(SEASONS), action="append",
                        help="replay only this season (repeatable; default: 2022-23, then 2021-22)")
    args = parser.parse_args()
    settings = load_settings(args.policy, environ={}).settings
    seasons = args.season or list(SEASONS)
    figures = {season: measure(season, settings) for season in seasons}
    print_table("Targets, per season", ["season", "target", "measured", "met"],
                [[season, t["name"], t["measured"], "met" if t["met"] else "MISSED"]
                 for season, f in figures.items() for t in f["targets"]])
    write_json("bench_replay" if args.policy is None else f"bench_replay_{args.policy.stem}", {
        "policy": str(args.policy) if args.policy else "defaults", "settings": dataclasses.asdict(settings),
        "seasons": figures,
    })


if __name__ == "__main__":
    main()
