"""Start-up of the commands cron runs, each timed as a whole process (start-up included).

Builds a demo home (``nbalife demo --quick``: the lifecycle in simulated time, tiny LSTM) in a temporary
folder, then runs each command ``--runs`` times, each run paired with its yardstick (run in turn,
A B A B ...): ``python -c pass`` (the interpreter alone) and, for ``predict``, ``python -c
"import torch"`` (what every scoring path paid before inference moved to numpy). Per run: wall
seconds (a monotonic clock around the child), CPU seconds (user + system) and peak memory of the
child from ``os.wait4``. Prints medians, the median of the pairwise wall ratios and the wall-time
targets; writes ``benchmarks/results/startup.json``.

``--baseline DIR`` also runs each command from another checkout of nbalife (``PYTHONPATH=DIR``; e.g.
``git worktree add /tmp/base main``) in the same rounds (A yardstick B ...), and prints the CPU of the
two side by side: a before-and-after in one run, on one machine state.

Bytecode caching is on for every child, as in an installed nbalife (a ``PYTHONDONTWRITEBYTECODE``
environment would recompile each changed module on every run); the warm-up run writes the caches.

Run: ``.venv/bin/python -m benchmarks.bench_startup [--runs 5] [--baseline DIR]``. On a busy machine
wall time exceeds CPU time; the CPU column is the steadier figure.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.common import print_table, time_process, write_json

PATTERN = "0,2,2,5,3,3,1,-2,0,2,4,4,6,8,7,9,9,11,10"
PYTHON = [sys.executable, "-c", "pass"]
TORCH = [sys.executable, "-c", "import torch"]
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def commands(home: Path) -> list[tuple[str, list[str], list[str], float]]:
    """(label, nbalife arguments, yardstick command, wall-time target in seconds)."""
    at = ["--home", str(home)]
    return [
        ("nbalife --help", ["--help"], PYTHON, 0.2),
        ("registry list", [*at, "registry", "list"], PYTHON, 0.5),
        ("status", [*at, "status"], PYTHON, 0.5),
        ("metrics report --days 7", [*at, "metrics", "report", "--days", "7"], PYTHON, 0.5),
        ("predict --game-id --pattern", [*at, "predict", "--game-id", "BENCH1", "--pattern", PATTERN],
         TORCH, 1.0),
    ]


def run_once(command: list[str], env: dict[str, str] = ENV) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak resident MiB of one run of ``command``."""
    run = time_process(command, env=env)
    return run.wall_s, run.cpu_s, run.peak_mib


def demo_home(folder: Path) -> Path:
    """A home holding the demo's store, promoted model set and predictions."""
    home = folder / "home"
    home.mkdir()
    subprocess.run([sys.executable, "-m", "nbalife", "--home", str(home), "demo", "--quick"],
                   check=True, capture_output=True)
    return home


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline", type=Path, help="another nbalife checkout to run beside this one")
    args = parser.parse_args()
    base_env = {**ENV, "PYTHONPATH": str(args.baseline.resolve())} if args.baseline else None

    nbalife = [sys.executable, "-m", "nbalife"]
    rows, results = [], []
    with tempfile.TemporaryDirectory() as folder:
        home = demo_home(Path(folder))
        for label, arguments, yardstick, target in commands(home):
            run_once(nbalife + arguments)  # warm-up: file cache, .pyc
            if base_env:
                run_once(nbalife + arguments, base_env)
            rounds = [(run_once(nbalife + arguments), run_once(yardstick),
                       run_once(nbalife + arguments, base_env) if base_env else None) for _ in range(args.runs)]
            wall = statistics.median(a[0] for a, _, _ in rounds)
            cpu = statistics.median(a[1] for a, _, _ in rounds)
            peak = max(a[2] for a, _, _ in rounds)
            ratio = statistics.median(a[0] / b[0] for a, b, _ in rounds)
            base = "import torch" if yardstick is TORCH else "python -c pass"
            base_wall = statistics.median(b[0] for _, b, _ in rounds)
            row = [label, wall, cpu, peak, target, "yes" if wall <= target else "NO", base, base_wall, ratio]
            result = {"command": label, "wall_s": wall, "cpu_s": cpu, "peak_mib": peak, "target_wall_s": target,
                      "yardstick": base, "yardstick_wall_s": base_wall, "wall_ratio": ratio, "runs": args.runs}
            if base_env:
                before_cpu = statistics.median(c[1] for _, _, c in rounds)
                change = statistics.median(a[1] - c[1] for a, _, c in rounds)
                row += [before_cpu, change]
                result.update(baseline_cpu_s=before_cpu, cpu_change_s=change)
            rows.append(tuple(row))
            results.append(result)
    columns = ["command", "wall s", "cpu s", "peak MiB", "target s", "met", "vs", "vs wall s", "ratio"]
    if base_env:
        columns += ["baseline cpu s", "cpu change s"]
    print_table(f"Whole-process start-up, median of {args.runs} runs (peak: largest run)", columns, rows)
    write_json("startup", {"commands": results, "baseline": str(args.baseline) if args.baseline else None})


if __name__ == "__main__":
    main()
