"""Shared helpers of the benchmark scripts: a results folder, a table printer, JSON output."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Sequence

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    """Where the figures were measured."""
    import torch

    return {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
            "torch": torch.__version__, "platform": platform.platform()}


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain fixed-width table on stdout."""
    cells = [[f"{c:.4g}" if isinstance(c, float) else str(c) for c in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) for i, h in enumerate(columns)]
    print(f"\n{title}")
    print("  ".join(str(h).ljust(w) for h, w in zip(columns, widths)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)))


def write_json(name: str, payload: dict[str, Any]) -> Path:
    """Write ``benchmarks/results/<name>.json`` with the machine description added."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"benchmark": name, "machine": machine(), **payload}, indent=2, default=str))
    print(f"\nwrote {path}")
    return path


@dataclass(frozen=True)
class ProcessRun:
    """One whole process: wall seconds (a monotonic clock around it), CPU seconds (user + system)
    and peak resident MiB, the last two the child's own rusage from ``os.wait4``."""

    wall_s: float
    cpu_s: float
    peak_mib: float


def time_process(command: list[str], *, stdout: IO[bytes] | int = subprocess.DEVNULL,
                 env: dict[str, str] | None = None) -> ProcessRun:
    """Run ``command`` to its end and time it; a non-zero exit stops the benchmark with the end
    of the command's stderr."""
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=stdout, stderr=errors, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        if child.returncode != 0:
            errors.seek(0)
            raise SystemExit(f"{' '.join(command)} exited {child.returncode}: "
                             f"{errors.read().decode(errors='replace')[-400:]}")
    return ProcessRun(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)
