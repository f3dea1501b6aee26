"""`replay` (the service) on the real 2022-23 season, the first model trained on 2020-21 and
2021-22, with the shipped defaults (or ``--policy``): alerts by cause; recalibrations, Dejavu
updates and LSTM retrains registered, promoted and waiting (distinct versions); the monthly
coverage and width of the policy next to doing nothing; MAE against persistence with the paired
standard error; and the time per job kind. Prints tables and writes
benchmarks/results/bench_replay.json, or bench_replay_<policy file stem>.json with ``--policy``.

Run: ``.venv/bin/python -m benchmarks.bench_replay [--policy benchmarks/replay_policy.yaml]``
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from benchmarks.common import print_table, write_json
from nbalife.config import load_settings
from nbalife.services.replay import replay

DATA = Path(__file__).resolve().parents[1] / "data" / "nba"
FILES = [DATA / "nba_2020-21.csv", DATA / "nba_2021-22.csv", DATA / "nba_2022-23.csv"]
LOW, HIGH = 0.93, 0.97


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", type=Path, default=None, help="configuration file (default: the defaults)")
    args = parser.parse_args()
    settings = load_settings(args.policy, environ={}).settings
    cpu_started = time.process_time()
    result = replay(FILES, settings=settings)
    cpu_seconds = time.process_time() - cpu_started
    print(f"CPU time of this process: {cpu_seconds:.1f} s (wall {result.seconds:.1f} s)")
    print(f"trained on {result.train_games} games {result.train_first}..{result.train_last} "
          f"({result.train_seconds:.1f} s); replayed {result.replay_games} games "
          f"{result.replay_first}..{result.replay_last} in {result.seconds:.1f} s in all")
    columns = ["month", "games", "coverage", "width", "MAE", "nothing cov", "nothing width", "nothing MAE",
               "persistence MAE", "MAE - persistence (SE)"]
    rows = [[m.period, m.games, m.coverage, m.width, m.mae, m.nothing_coverage, m.nothing_width, m.nothing_mae,
             m.persistence_mae, f"{m.mae - m.persistence_mae:+.3f} ({m.vs_persistence_se:.3f})"]
            for m in [*result.months, result.total]]
    print_table("Monthly figures: policy vs the first model untouched vs persistence", columns, rows)
    print_table("Alerts by cause", ["job", "cause", "alerts", "days"],
                [[a.job, a.cause, a.alerts, a.days] for a in result.alerts])
    print_table("Versions the jobs made (distinct)", ["kind", "registered", "promoted", "waiting", "rejected runs"],
                [[v.kind, v.registered, v.promoted, v.waiting, v.rejected] for v in result.versions])
    print_table("Production's changes", ["at", "version"], [[str(at), v] for at, v in result.productions])
    print_table("Actions (a waiting version counts each day it is reported)", ["job outcome", "count"],
                list(result.action_counts.items()))
    print_table("Time per job kind", ["job", "runs", "seconds"], [[j.job, j.runs, j.seconds] for j in result.jobs])
    within = [LOW <= m.coverage <= HIGH for m in result.months]
    print(f"\nmonths with policy coverage in [{LOW}, {HIGH}]: {sum(within)}/{len(within)}")
    write_json("bench_replay" if args.policy is None else f"bench_replay_{args.policy.stem}", {
        "policy": str(args.policy) if args.policy else "defaults", "settings": dataclasses.asdict(settings),
        "seconds": result.seconds, "cpu_seconds": cpu_seconds, "train_seconds": result.train_seconds,
        "months": [dataclasses.asdict(m) for m in result.months], "total": dataclasses.asdict(result.total),
        "weeks": [dataclasses.asdict(w) for w in result.weeks], "action_counts": result.action_counts,
        "alerts": [dataclasses.asdict(a) for a in result.alerts],
        "versions": [dataclasses.asdict(v) for v in result.versions],
        "productions": [[str(at), v] for at, v in result.productions],
        "actions": [dataclasses.asdict(a) for a in result.actions],
        "jobs": [dataclasses.asdict(j) for j in result.jobs], "months_within": sum(within),
    })


if __name__ == "__main__":
    main()
