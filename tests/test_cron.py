"""The schedule: scripts/crontab, the nbalife-cron wrapper as real processes, and ``nbalife cron``."""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from nbalife.ops.schedule import BLOCK_BEGIN, BLOCK_END, JOBS, crontab

REPO = Path(__file__).resolve().parents[1]
WRAPPER = REPO / "scripts" / "nbalife-cron"
NBALIFE = str(Path(sys.executable).parent / "nbalife")
FIELD_RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]


def run_wrapper(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(WRAPPER), *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "NBALIFE_HOME": str(home), **env})


def valid_cron_field(text: str, low: int, high: int) -> bool:
    """One cron time field: *, N, N-M, with an optional /STEP, comma-separated."""
    for part in text.split(","):
        match = re.fullmatch(r"(\*|(\d+)(?:-(\d+))?)(?:/(\d+))?", part)
        if not match:
            return False
        first, last, step = match.group(2), match.group(3), match.group(4)
        numbers = [int(n) for n in (first, last) if n is not None]
        if any(not low <= n <= high for n in numbers) or (step is not None and int(step) < 1):
            return False
        if len(numbers) == 2 and numbers[0] > numbers[1]:
            return False
    return True


def schedule_lines(text: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines()
            if line.strip() and not line.startswith("#") and not re.match(r"^[A-Z_]+=", line)]


def test_wrapper_logs_with_timestamps_and_keeps_exit_code(tmp_path: Path) -> None:
    ok = run_wrapper(tmp_path, "check", "--", NBALIFE, "db", "check")
    assert ok.returncode == 0, ok.stderr
    log = (tmp_path / "logs" / "check.log").read_text().splitlines()
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ check start: ", log[0])
    assert any("games" in line for line in log)
    assert log[-1].endswith("check exit 0")
    bad = run_wrapper(tmp_path, "ingest", "--", NBALIFE, "data", "ingest", str(tmp_path / "missing.csv"))
    assert bad.returncode == 2
    lines = (tmp_path / "logs" / "ingest.log").read_text().splitlines()
    assert any("no such file" in line for line in lines) and lines[-1].endswith("ingest exit 2")
    code, at = (tmp_path / "logs" / "ingest.exit").read_text().split()
    assert code == "2" and abs(int(at) - time.time()) < 60
    assert not (tmp_path / "logs" / "ingest.success").exists()
    assert abs(int((tmp_path / "logs" / "check.success").read_text()) - time.time()) < 60


def test_wrapper_skips_when_previous_run_holds_the_lock(tmp_path: Path) -> None:
    (tmp_path / "locks").mkdir()
    with open(tmp_path / "locks" / "cron-sync.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        proc = run_wrapper(tmp_path, "sync", "--", NBALIFE, "outcomes", "sync")
    assert proc.returncode == 3
    assert "held by another run" in (tmp_path / "logs" / "sync.log").read_text()
    assert (tmp_path / "logs" / "sync.exit").read_text().split()[0] == "3"


def test_two_wrappers_at_once_one_exits_3(tmp_path: Path) -> None:
    env = {**os.environ, "NBALIFE_HOME": str(tmp_path)}
    first = subprocess.Popen([str(WRAPPER), "slow", "--", "sh", "-c", "sleep 2"], env=env)
    for _ in range(100):  # until the first holds the lock
        if (tmp_path / "logs" / "slow.log").exists():
            break
        time.sleep(0.05)
    second = run_wrapper(tmp_path, "slow", "--", "sh", "-c", "sleep 2")
    assert (first.wait(timeout=30), second.returncode) == (0, 3)


def test_wrapper_sources_the_environment_file(tmp_path: Path) -> None:
    (tmp_path / "nbalife.env").write_text("GREETING='from the env file'\n")
    proc = run_wrapper(tmp_path, "env", "--", "sh", "-c", 'echo "$GREETING"')
    assert proc.returncode == 0
    assert "env from the env file" in (tmp_path / "logs" / "env.log").read_text()


@pytest.mark.parametrize("args", [("a/b", "--", "true"), ("ok", "true"), ("../x", "--", "true")])
def test_wrapper_usage_errors_are_exit_2(tmp_path: Path, args: tuple[str, ...]) -> None:
    proc = run_wrapper(tmp_path, *args)
    assert proc.returncode == 2 and proc.stderr.strip()
    assert not (tmp_path / "logs").exists()


def test_crontab_file_is_the_schedule() -> None:
    assert (REPO / "scripts" / "crontab").read_text() == crontab()


def test_crontab_lines_are_valid_and_name_real_commands(cli) -> None:
    lines = schedule_lines(crontab())
    assert len(lines) == len(JOBS)
    for fields in lines:
        assert all(valid_cron_field(f, lo, hi) for f, (lo, hi) in zip(fields[:5], FIELD_RANGES)), fields
        assert fields[5] == "$CRON" and fields[7] == "--" and fields[8] == "$NBALIFE", fields
        words = [w for w in fields[9:] if not w.startswith("-") and "/" not in w]
        assert cli(*words, "--help").exit_code == 0, fields
    whens = {job.args[:2]: job.when for job in JOBS}
    assert whens[("metrics", "check")] == "0 * * * *"
    assert whens[("conformal", "check")] == "0 2 * * *"
    assert whens[("dejavu", "update")].endswith("* * 1") and whens[("drift", "check")].endswith("* * 1")
    assert whens[("lstm", "retrain")] == "0 4 1 * *"
    assert whens[("abtest", "advance")] == "*/15 * * * *"
    assert whens[("metrics", "export")] == "*/5 * * * *"


def test_cron_show_uses_this_installations_paths(cli, home: Path) -> None:
    result = cli("cron", "show")
    assert result.exit_code == 0, result.output
    assert f"NBALIFE_HOME={home.resolve()}" in result.stdout
    assert f"CRON={WRAPPER}" in result.stdout
    assert len(schedule_lines(result.stdout)) == len(JOBS)


def test_cron_install_twice_leaves_one_block_and_other_lines(cli, tmp_path: Path) -> None:
    tab = tmp_path / "crontab"
    tab.write_text("MAILTO=ops@example.org\n15 3 * * * /usr/local/bin/backup\n")
    first = json.loads(cli("--json", "cron", "install", "--file", str(tab)).stdout)
    again = json.loads(cli("--json", "cron", "install", "--file", str(tab)).stdout)
    assert (first["changed"], again["changed"]) == (True, False)
    text = tab.read_text()
    assert text.count(BLOCK_BEGIN) == 1 and text.count(BLOCK_END) == 1
    assert text.startswith("MAILTO=ops@example.org\n15 3 * * * /usr/local/bin/backup\n")
    assert json.loads(cli("--json", "cron", "uninstall", "--file", str(tab)).stdout)["changed"] is True
    assert tab.read_text() == "MAILTO=ops@example.org\n15 3 * * * /usr/local/bin/backup\n"
    assert json.loads(cli("--json", "cron", "uninstall", "--file", str(tab)).stdout)["changed"] is False


def test_kubernetes_manifests_load_with_the_schedule(cli) -> None:
    result = cli("cron", "show", "--format", "kubernetes", "--image", "registry.local/nbalife:1.4",
                 "--env", "NBALIFE_DB=postgresql+psycopg://nba@db/nbalife", "--env", "NBALIFE_HOME=/data")
    assert result.exit_code == 0, result.output
    docs = list(yaml.safe_load_all(result.stdout))
    assert [d["spec"]["schedule"] for d in docs] == [job.when for job in JOBS]
    for doc, job in zip(docs, JOBS):
        assert doc["kind"] == "CronJob" and doc["spec"]["concurrencyPolicy"] == "Forbid"
        container = doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
        assert container["image"] == "registry.local/nbalife:1.4"
        assert container["command"][:3] == ["nbalife", *job.args[:2]]
        assert {"name": "NBALIFE_HOME", "value": "/data"} in container["env"]


@pytest.mark.parametrize("args", [("--format", "systemd"), ("--format", "kubernetes", "--env", "NOEQUALS")])
def test_cron_show_bad_options_are_exit_2(cli, args: tuple[str, ...]) -> None:
    result = cli("cron", "show", *args)
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1


def test_cron_install_into_a_folder_is_exit_2(cli, tmp_path: Path) -> None:
    result = cli("cron", "install", "--file", str(tmp_path))
    assert result.exit_code == 2 and "is a folder" in result.stderr
