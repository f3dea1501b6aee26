"""Run every benchmark (each prints its table and writes benchmarks/results/<name>.json).

Run: ``.venv/bin/python benchmarks/run.py [--only NAME ...]`` (or ``make bench``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ["bench_dejavu", "bench_lstm", "bench_accuracy", "bench_predict_cli", "bench_metrics", "bench_abtest",
              "bench_recalibration", "bench_retrain_gate", "bench_startup", "bench_demo"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", choices=BENCHMARKS, default=BENCHMARKS)
    args = parser.parse_args()
    failed = []
    for name in args.only:
        print(f"\n===== {name} =====", flush=True)
        proc = subprocess.run([sys.executable, "-m", f"benchmarks.{name}"], cwd=HERE.parent)
        if proc.returncode != 0:
            failed.append(name)
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
