"""`replay` (the service) on the real 2022-23 season, the first model trained on 2020-21 and
2021-22: the monthly coverage, width and MAE of the policy next to doing nothing and to
persistence, the actions, and the time per job kind. Prints tables and writes
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
               "persistence MAE"]
    rows = [[m.period, m.games, m.coverage, m.width, m.mae, m.nothing_coverage, m.nothing_width, m.nothing_mae,
             m.persistence_mae] for m in [*result.months, result.total]]
    print_table("Monthly figures: policy vs the first model untouched vs persistence", columns, rows)
    print_table("Actions", ["job outcome", "count"], list(result.action_counts.items()))
    print_table("Time per job kind", ["job", "runs", "seconds"], [[j.job, j.runs, j.seconds] for j in result.jobs])
    within = [LOW <= m.coverage <= HIGH for m in result.months]
    print(f"\nmonths with policy coverage in [{LOW}, {HIGH}]: {sum(within)}/{len(within)}")
    write_json("bench_replay" if args.policy is None else f"bench_replay_{args.policy.stem}", {
        "policy": str(args.policy) if args.policy else "defaults", "settings": dataclasses.asdict(settings),
        "seconds": result.seconds, "cpu_seconds": cpu_seconds, "train_seconds": result.train_seconds,
        "months": [dataclasses.asdict(m) for m in result.months], "total": dataclasses.asdict(result.total),
        "weeks": [dataclasses.asdict(w) for w in result.weeks], "action_counts": result.action_counts,
        "actions": [dataclasses.asdict(a) for a in result.actions],
        "jobs": [dataclasses.asdict(j) for j in result.jobs], "months_within": sum(within),
    })


if __name__ == "__main__":
    main()
