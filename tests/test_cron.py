"""scripts/nbalife-cron and scripts/crontab as real processes."""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WRAPPER = REPO / "scripts" / "nbalife-cron"


def run_wrapper(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "NBALIFE_HOME": str(home), "NBALIFE": f"{Path(sys.executable).parent / 'nbalife'}"}
    return subprocess.run([str(WRAPPER), *args], capture_output=True, text=True, env=env, timeout=120)


def test_wrapper_logs_with_timestamps_and_keeps_exit_code(tmp_path: Path) -> None:
    ok = run_wrapper(tmp_path, "check", "db", "check")
    assert ok.returncode == 0
    log = (tmp_path / "logs" / "check.log").read_text().splitlines()
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ check start: ", log[0])
    assert any("games" in line for line in log)
    assert log[-1].endswith("check exit 0")
    bad = run_wrapper(tmp_path, "ingest", "data", "ingest", str(tmp_path / "missing.csv"))
    assert bad.returncode == 2
    assert (tmp_path / "logs" / "ingest.log").read_text().splitlines()[-1].endswith("ingest exit 2")


def test_wrapper_skips_when_previous_run_holds_the_lock(tmp_path: Path) -> None:
    (tmp_path / "locks").mkdir()
    with open(tmp_path / "locks" / "cron-sync.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        proc = run_wrapper(tmp_path, "sync", "outcomes", "sync")
    assert proc.returncode == 3
    assert "held by another run" in (tmp_path / "logs" / "sync.log").read_text()


def test_crontab_lines_use_the_wrapper_and_real_commands() -> None:
    import typer.main

    from nbalife.cli.app import app

    root = typer.main.get_command(app)
    lines = [line for line in (REPO / "scripts" / "crontab").read_text().splitlines()
             if line and not line.startswith("#") and "=" not in line.split()[0]]
    assert lines
    for line in lines:
        fields = line.split()
        assert fields[5] == "$CRON", line
        group, command = fields[7], fields[8]
        assert command in root.commands[group].commands, line
