"""``nbalife demo`` and ``nbalife demo --quick`` as whole processes, each in a new temporary home.

Per run: wall seconds, CPU seconds (user + system of the child, from ``os.wait4``), peak memory,
the load average before it, and the outcome of its A/B step. Targets: the full demo
<= 180 s and ``--quick`` <= 45 s on 2 cores. On a shared machine wall time exceeds CPU time; the
CPU column is the steadier figure. Writes ``benchmarks/results/demo.json``.

Run: ``.venv/bin/python -m benchmarks.bench_demo [--runs 1] [--only quick|full]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from benchmarks.common import print_table, time_process, write_json

TARGETS = {"quick": 45.0, "full": 180.0}


def run_demo(mode: str) -> dict:
    """One ``demo`` in a fresh home: its figures and the line of its A/B step."""
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "nbalife", "--home", str(Path(folder) / "home"), "--json", "demo",
                   *(["--quick"] if mode == "quick" else [])]
        out = Path(folder) / "out.json"
        load = os.getloadavg()[0]
        with out.open("wb") as stdout:
            run = time_process(command, stdout=stdout)
        report = json.loads(out.read_text())
    steps = {s["name"]: s for s in report["steps"]}
    return {"mode": mode, "wall_s": run.wall_s, "cpu_s": run.cpu_s, "peak_mib": run.peak_mib, "load_before": load,
            "target_s": TARGETS[mode], "step_seconds": {name: s["seconds"] for name, s in steps.items()},
            "abtest": steps["abtest"]["description"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--only", choices=sorted(TARGETS), default=None)
    args = parser.parse_args()
    results = [run_demo(mode) for mode in ([args.only] if args.only else ["quick", "full"]) for _ in range(args.runs)]
    print_table("nbalife demo, whole process, a fresh home each", ["mode", "wall s", "CPU s", "peak MiB", "load",
                                                                   "target s", "train s", "season s"],
                [(r["mode"], r["wall_s"], r["cpu_s"], r["peak_mib"], r["load_before"], r["target_s"],
                  r["step_seconds"]["train"], r["step_seconds"]["season"]) for r in results])
    for r in results:
        print(f"{r['mode']}: {r['abtest']}")
    write_json("demo", {"runs": results})


if __name__ == "__main__":
    main()
