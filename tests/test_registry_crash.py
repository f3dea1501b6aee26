"""Crash test: SIGKILL a real process at random points of register, promote, rollback and gc.

The worker (registry_crash_worker.py) runs with ``fault_delay_s`` sleeps between the steps
of each mutation, so a kill after a seeded random delay lands between any two steps. After
every kill: all versions verify, production is the old or the new version (a valid symlink,
never a mixture), load_production() works, and `previous` matches the promotions that
really happened.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from nbalife.registry import Registry
from test_registry import make_artifacts

WORKER = Path(__file__).with_name("registry_crash_worker.py")
SEED = 20240414
FAULT_DELAY_S = 0.01
KILLS = 60
WINDOW_S = {"register": 0.11, "promote": 0.045, "rollback": 0.045, "gc": 0.04}  # ~ op duration
KINDS = ("recalibration", "dejavu_update", "lstm_retrain", "manual")


def _settle(stack: list[str], version: str) -> None:
    if version in stack:
        del stack[len(stack) - stack[::-1].index(version):]
    else:
        stack.append(version)


def _run_and_kill(home: Path, delay: float, op: str, *args: str) -> bool:
    """Start the worker, kill it ``delay`` s after it is ready; True if the kill hit it."""
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), str(home), str(FAULT_DELAY_S), op, *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout.readline().strip() == "ready"
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate()
    assert proc.returncode in (0, -signal.SIGKILL), f"{op} {args}: rc {proc.returncode}: {err}"
    return proc.returncode == -signal.SIGKILL


@pytest.mark.slow
def test_sigkill_never_leaves_a_broken_or_mixed_registry(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    (home / "models" / "README.md").write_text("production models live here\n")
    sources = [make_artifacts(tmp_path / f"src{i}", seed=i) for i in range(3)]
    reg = Registry(home)
    for src in sources:
        reg.register(src, "lstm_retrain")
    reg.promote("1.0.0")
    reg.promote("1.1.0")
    stack = ["1.0.0", "1.1.0"]  # the production history that really happened
    tally: Counter[tuple[str, str]] = Counter()
    kills = runs = 0
    while kills < KILLS:
        runs += 1
        assert runs < 4 * KILLS, f"only {kills} kills in {runs} runs: windows too short"
        old, versions = reg.current_version(), reg.versions()
        op = rng.choices(("register", "promote", "rollback", "gc"), weights=(4, 4, 4, 1))[0]
        args: list[str] = []
        target = None
        if op == "register":
            args = [str(rng.choice(sources)), rng.choice(KINDS)]
        elif op == "promote" or (
            op == "rollback" and (len(stack) < 2 or stack[-2] not in versions or rng.random() < 0.4)
        ):
            target = rng.choice([v for v in versions if v != old])
            args = [target]
        elif op == "rollback":
            target = stack[-2]
        else:
            args = ["4"]
        killed = _run_and_kill(home, rng.uniform(0, WINDOW_S[op]), op, *args)
        kills += killed

        reports = reg.verify_all()
        assert all(r.ok for r in reports), [r for r in reports if not r.ok]
        current = reg.current_version()
        assert os.readlink(reg.pointer) == f"../model_registry/{current}"
        production = reg.load_production()
        assert production.version == current and production.path == reg.root / current
        if target is None:  # register / gc never move production
            assert current == old
            changed = reg.versions() != versions
        else:
            assert current in (old, target), (op, old, target, current)
            changed = current == target
            if changed:
                stack.append(target) if op == "promote" else _settle(stack, target)
        assert reg.previous_version() == (stack[-2] if len(stack) > 1 else None)
        if killed:
            tally[(op, "new" if changed else "old")] += 1
        else:
            assert changed or op == "gc", f"{op} {args} completed without effect"
            tally[(op, "completed")] += 1

    result = reg.gc(keep=3)
    assert not [p for p in reg.root.iterdir() if p.name.startswith(".")]
    assert all(r.ok for r in reg.verify_all())
    assert reg.load_production().version == stack[-1]
    summary = ", ".join(f"{op} {outcome}: {n}" for (op, outcome), n in sorted(tally.items()))
    print(f"\n{kills} kills in {runs} runs; {summary}; final gc deleted {len(result.deleted)}")
    assert tally[("promote", "old")] + tally[("rollback", "old")] > 0  # kills before the swap
    assert tally[("promote", "new")] + tally[("rollback", "new")] > 0  # and after it
