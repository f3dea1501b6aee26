"""The schedule: scripts/crontab, the nbalife-cron wrapper as real processes, and ``nbalife cron``."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import re
import shlex
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbalife.config import LeagueSettings, load_settings
from nbalife.errors import BadInput
from nbalife.ops.freeze import parse_freeze
from nbalife.ops.schedule import (
    BLOCK_BEGIN,
    BLOCK_END,
    JOBS,
    Installation,
    crontab,
    freeze_conflicts,
    in_zone,
    job_named,
    runs,
    with_block,
)

REPO = Path(__file__).resolve().parents[1]
WRAPPER = REPO / "scripts" / "nbalife-cron"
NBALIFE = str(Path(sys.executable).parent / "nbalife")
FIELD_RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
ZONE = LeagueSettings().timezone  # the shipped league.timezone, which scripts/crontab is written in


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


def read_as_cron(text: str, *, system: bool = False) -> tuple[dict[str, str], list[tuple[str, str | None, str]]]:
    """What cron makes of crontab text: its NAME=value lines (one pair of matching quotes
    stripped) and its entries (time fields, user column of a system crontab, command)."""
    env: dict[str, str] = {}
    entries = []
    for line in text.split("\n"):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        assignment = re.fullmatch(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*", line)
        if assignment:
            value = assignment.group(2)
            if len(value) >= 2 and value[0] in "'\"" and value[-1] == value[0]:
                value = value[1:-1]
            env[assignment.group(1)] = value
            continue
        fields = line.split(None, 6 if system else 5)
        entries.append((" ".join(fields[:5]), fields[5] if system else None, fields[-1]))
    return env, entries


def schedule_lines(text: str) -> list[list[str]]:
    """Each entry as its 5 time fields followed by the command's shell words."""
    return [when.split() + shlex.split(command) for when, _, command in read_as_cron(text)[1]]


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
    assert lines[-1].endswith(f"ingest exit 2: error: {tmp_path / 'missing.csv'}: no such file")
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


def test_wrapper_logs_the_commands_last_stderr_line_beside_the_exit_code(tmp_path: Path) -> None:
    script = "echo progress; echo 'first problem' >&2; printf 'bad\\r\\nfolder x does not exist\\n' >&2; exit 2"
    proc = run_wrapper(tmp_path, "job", "--", "sh", "-c", script)
    assert proc.returncode == 2
    log = (tmp_path / "logs" / "job.log").read_text().splitlines()
    assert log[-1].endswith("job exit 2: folder x does not exist")
    assert any(line.endswith("job progress") for line in log) and any("first problem" in line for line in log)
    assert (tmp_path / "logs" / "job.message").read_text() == "folder x does not exist\n"
    assert run_wrapper(tmp_path, "job", "--", "sh", "-c", "echo fine >&2").returncode == 0
    assert (tmp_path / "logs" / "job.log").read_text().splitlines()[-1].endswith("job exit 0")
    assert not list(tmp_path.glob("logs/.*"))  # no record left half-written


def test_crontab_file_is_the_schedule() -> None:
    assert (REPO / "scripts" / "crontab").read_text() == crontab(zone=ZONE)


def test_crontab_lines_are_valid_and_name_real_commands(cli) -> None:
    env, _ = read_as_cron(crontab(zone=ZONE))
    assert env["CRON_TZ"] == "America/New_York"
    lines = schedule_lines(crontab(zone=ZONE))
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


UTC = dt.timezone.utc
# Each daily job's first run after a fixed clock, winter (EST, UTC-5) and summer (EDT, UTC-4):
# 2024-01-15 and 2024-07-15 are Mondays, 12:00 UTC (07:00 / 08:00 in New York).
FIXED_CLOCK = [
    ("verify", dt.datetime(2024, 1, 16, 6, 30), dt.datetime(2024, 7, 16, 5, 30)),          # daily 01:30
    ("conformal-check", dt.datetime(2024, 1, 16, 7, 0), dt.datetime(2024, 7, 16, 6, 0)),   # daily 02:00
    ("dejavu-update", dt.datetime(2024, 1, 22, 8, 0), dt.datetime(2024, 7, 22, 7, 0)),     # Monday 03:00
    ("drift-check", dt.datetime(2024, 1, 22, 8, 30), dt.datetime(2024, 7, 22, 7, 30)),     # Monday 03:30
    ("lstm-retrain", dt.datetime(2024, 2, 1, 9, 0), dt.datetime(2024, 8, 1, 8, 0)),        # 1st, 04:00
    ("gc", dt.datetime(2024, 1, 21, 10, 0), dt.datetime(2024, 7, 21, 9, 0)),               # Sunday 05:00
    ("outcomes", dt.datetime(2024, 1, 15, 12, 10), dt.datetime(2024, 7, 15, 12, 10)),      # every 10 minutes
    ("metrics-export", dt.datetime(2024, 1, 15, 12, 5), dt.datetime(2024, 7, 15, 12, 5)),  # every 5 minutes
    ("metrics-check", dt.datetime(2024, 1, 15, 13, 0), dt.datetime(2024, 7, 15, 13, 0)),   # hourly
    ("abtest-advance", dt.datetime(2024, 1, 15, 12, 15), dt.datetime(2024, 7, 15, 12, 15)),  # every 15 minutes
    ("guard-check", dt.datetime(2024, 1, 15, 12, 20), dt.datetime(2024, 7, 15, 12, 20)),  # hourly at :20
]


def next_run_utc(when: str, zone: str, after: dt.datetime) -> dt.datetime:
    start = (after - dt.timedelta(days=1)).date()
    return next(t for t in (in_zone(w, zone) for w in runs(when, start, 40)) if t > after)


@pytest.mark.parametrize(("name", "winter", "summer"), FIXED_CLOCK)
def test_each_job_runs_at_its_league_time_whatever_the_hosts_clock(name: str, winter: dt.datetime,
                                                                          summer: dt.datetime) -> None:
    job = job_named(name)
    for clock, expected in ((dt.datetime(2024, 1, 15, 12, tzinfo=UTC), winter),
                            (dt.datetime(2024, 7, 15, 12, tzinfo=UTC), summer)):
        assert next_run_utc(job.when, "America/New_York", clock) == expected.replace(tzinfo=UTC)
    assert {w for w, _, c in read_as_cron(crontab(zone=ZONE))[1] if f" {name} --" in c} == {job.when}


def test_every_daily_job_runs_after_the_nights_results_and_outside_the_freeze() -> None:
    settings = load_settings(None, environ={}).settings
    freeze = parse_freeze(settings.registry.freeze, settings.league.timezone)
    assert freeze_conflicts(freeze, "America/New_York") == []
    outcomes = job_named("outcomes")
    freeze_end = dt.time(1, 0)
    fixed = [job for job in JOBS if job.fixed_times]
    assert {job.name for job in fixed} == {name for name, _, _ in FIXED_CLOCK[:6]}
    assert {job.name for job in JOBS} == {name for name, _, _ in FIXED_CLOCK}
    for job in fixed:
        for hour, minute in job.fixed_times:
            at = dt.time(hour, minute)
            assert dt.time(1, 30) <= at <= dt.time(12, 0), job.name  # after the last game, before tip-off
            syncs = [t.time() for t in runs(outcomes.when, dt.date(2024, 1, 15), 1) if freeze_end <= t.time() < at]
            assert len(syncs) >= 3, job.name  # the night's last results were matched first
    for job in set(JOBS) - set(fixed):  # around the clock: they run inside the freeze, and it defers them
        assert job.when.split()[1].startswith("*")


def test_league_time_is_cron_tz_and_a_job_inside_the_freeze_is_a_warning(cli) -> None:
    result = cli("cron", "show", env={"NBALIFE_LEAGUE__TIMEZONE": "UTC",
                                      "NBALIFE_REGISTRY__FREEZE": "19:00-01:00 America/New_York"})
    assert result.exit_code == 0, result.output
    assert read_as_cron(result.stdout)[0]["CRON_TZ"] == "UTC"
    warned = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert warned, result.stderr
    assert any("conformal-check runs at 02:00 UTC, inside the live-game freeze" in line for line in warned)
    assert any("gc runs at 05:00 UTC" in line and "(part of the year)" in line for line in warned)  # 00:00/01:00


def test_a_freeze_without_a_zone_moves_with_the_league(cli) -> None:
    result = cli("cron", "show", env={"NBALIFE_LEAGUE__TIMEZONE": "Europe/Paris",
                                      "NBALIFE_REGISTRY__FREEZE": "19:00-01:00"})
    assert result.exit_code == 0, result.output
    assert read_as_cron(result.stdout)[0]["CRON_TZ"] == "Europe/Paris"
    assert [line for line in result.stderr.splitlines() if "inside the live-game freeze" in line] == []


def test_a_bad_league_timezone_is_exit_2(cli) -> None:
    result = cli("cron", "show", env={"NBALIFE_LEAGUE__TIMEZONE": "Mars/Olympus"})
    assert result.exit_code == 2 and "league.timezone" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_host_on_another_clock_is_warned_when_cron_ignores_cron_tz() -> None:
    from zoneinfo import ZoneInfo

    from nbalife.services.cron import warnings

    settings = load_settings(None, environ={}).settings
    assert warnings(settings, host_zone=ZoneInfo("America/New_York")) == []
    utc = warnings(settings, host_zone=ZoneInfo("UTC"))
    assert len(utc) == 1 and "ignores CRON_TZ" in utc[0] and "conformal-check runs at 02:00 UTC" in utc[0]
    assert warnings(settings, host=False, host_zone=ZoneInfo("UTC")) == []
    assert warnings(load_settings(None, environ={}, overrides={"registry.freeze": "none"}).settings,
                    host_zone=ZoneInfo("UTC")) == []


def test_cron_show_uses_this_installations_paths(cli, home: Path) -> None:
    result = cli("cron", "show")
    assert result.exit_code == 0, result.output
    env, entries = read_as_cron(result.stdout)
    assert (env["NBALIFE_HOME"], env["CRON"]) == (str(home.resolve()), str(WRAPPER))
    assert len(entries) == len(JOBS) and all(user is None for _, user, _ in entries)


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


AMBIGUOUS = [
    ("# BEGIN nbalife\n5 * * * * mine\n", 1, "has no '# END nbalife'"),
    ("5 * * * * mine\n# END nbalife\n", 2, "has no '# BEGIN nbalife'"),
    ("# END nbalife\nx=1\n# BEGIN nbalife\n", 1, "comes before"),
    ("# BEGIN nbalife\n# BEGIN nbalife\n# END nbalife\n", 2, "a second '# BEGIN nbalife'"),
    ("# BEGIN nbalife\n# END nbalife\nmine\n#END NBALIFE\n", 4, "a second '# END nbalife'"),
]


@pytest.mark.parametrize(("text", "line", "says"), AMBIGUOUS)
@pytest.mark.parametrize("command", ["install", "uninstall"])
def test_an_ambiguous_block_is_exit_2_naming_the_line_and_the_file_is_untouched(
        cli, tmp_path: Path, text: str, line: int, says: str, command: str) -> None:
    tab = tmp_path / "crontab"
    tab.write_text(text)
    tab.chmod(0o600)
    result = cli("cron", command, "--file", str(tab))
    assert result.exit_code == 2
    assert f"line {line}: " in result.stderr and says in result.stderr and str(tab) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert tab.read_text() == text and stat.S_IMODE(tab.stat().st_mode) == 0o600


MARKERS = ["# BEGIN nbalife", BLOCK_BEGIN, "# END nbalife", "  #END nbalife (old)", "#begin NBALIFE"]
LINES = st.lists(st.one_of(st.sampled_from(MARKERS), st.text(st.characters(exclude_characters="\n"), max_size=30)),
                 max_size=12)


@given(LINES, st.booleans())
@settings(max_examples=400)
def test_every_line_outside_the_block_is_byte_identical_after_install_and_uninstall(lines: list[str],
                                                                                   terminated: bool) -> None:
    import nbalife.ops.schedule as schedule

    text = "\n".join(lines) + ("\n" if terminated and lines else "")
    lines = text.split("\n")[:-1] if text.endswith("\n") else (text.split("\n") if text else [])  # a file's lines
    begins = [i for i, line in enumerate(lines) if schedule._BEGIN.match(line)]
    ends = [i for i, line in enumerate(lines) if schedule._END.match(line)]
    if not begins and not ends:
        outside = lines
    elif len(begins) == len(ends) == 1 and begins[0] < ends[0]:
        outside = lines[: begins[0]] + lines[ends[0] + 1:]
    else:
        for block in ("0 2 * * * job", None):
            with pytest.raises(BadInput, match=r"^crontab: line \d+: "):
                with_block(text, block)
        return
    installed = with_block(text, "0 2 * * * job\n")
    body = installed.split("\n")
    begin = body.index(BLOCK_BEGIN)
    assert body[begin: begin + 3] == [BLOCK_BEGIN, "0 2 * * * job", BLOCK_END]
    assert [line for line in body[:begin] + body[begin + 3:] if line != ""] == [line for line in outside if line != ""]
    assert body[:begin] == (lines[: begins[0]] if begins else outside)
    assert with_block(installed, "0 2 * * * job\n") == installed
    removed = with_block(installed, None)
    assert removed.split("\n")[: len(outside)] == outside and removed.rstrip("\n").count("\n") <= max(len(outside) - 1, 0)
    assert with_block(text, None).split("\n")[: len(outside)] == outside


def test_install_keeps_the_files_mode_owner_bytes_and_symlink(cli, tmp_path: Path) -> None:
    real = tmp_path / "real-crontab"
    mine = b"PASSWORD=s3cret\n\xff\xfe not utf-8 \r\n15 3 * * * /usr/local/bin/backup"
    real.write_bytes(mine)
    real.chmod(0o600)
    link = tmp_path / "crontab"
    link.symlink_to(real)
    if os.geteuid() == 0:
        os.chown(real, 1234, 1235)
    assert cli("cron", "install", "--file", str(link)).exit_code == 0
    assert link.is_symlink() and stat.S_IMODE(real.stat().st_mode) == 0o600
    if os.geteuid() == 0:
        assert (real.stat().st_uid, real.stat().st_gid) == (1234, 1235)
    installed = real.read_bytes()
    assert installed.startswith(mine + b"\n" + BLOCK_BEGIN.encode())
    assert cli("cron", "uninstall", "--file", str(link)).exit_code == 0
    assert real.read_bytes() == mine + b"\n" and stat.S_IMODE(real.stat().st_mode) == 0o600


def test_a_system_crontab_gets_the_user_column(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pwd

    import nbalife.services.cron as service

    monkeypatch.setattr(service, "SYSTEM_FOLDER", tmp_path)
    me = pwd.getpwuid(os.geteuid()).pw_name
    result = cli("--json", "cron", "install", "--file", str(tmp_path / "nbalife"))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["user"] == me
    _, entries = read_as_cron((tmp_path / "nbalife").read_text(), system=True)
    assert len(entries) == len(JOBS) and {user for _, user, _ in entries} == {me}
    assert all(shlex.split(command)[0] == "$CRON" for _, _, command in entries)
    assert stat.S_IMODE((tmp_path / "nbalife").stat().st_mode) == 0o644

    shown = cli("cron", "show", "--user", "nbalife")
    assert {user for _, user, _ in read_as_cron(shown.stdout, system=True)[1]} == {"nbalife"}
    other = tmp_path / "other"
    assert cli("cron", "install", "--file", str(other), "--system", "--user", "ops").exit_code == 0
    assert {user for _, user, _ in read_as_cron(other.read_text(), system=True)[1]} == {"ops"}


@pytest.mark.parametrize(("args", "says"), [
    (("--file", "/etc/cron.d/nbalife.cron"), "cron ignores files in /etc/cron.d"),
    (("--system", "--user", "bad user"), "--user 'bad user': not a login name"),
    (("--system", "--user", "root\n* * * * * evil"), "not a login name"),
])
def test_bad_system_crontab_options_are_exit_2(cli, args: tuple[str, ...], says: str) -> None:
    result = cli("cron", "install", *args)
    assert result.exit_code == 2 and says in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


FAKE_CRON = "#!/bin/sh\nprintf '%s\\0' \"$@\"\n"


@given(st.text(max_size=40))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_home_path_is_refused_or_reaches_the_command_as_one_word(tmp_path: Path, name: str) -> None:
    fake = tmp_path / "fake-cron"
    fake.write_text(FAKE_CRON)
    fake.chmod(0o755)
    home = str(Path("/srv/" + name))
    try:
        text = crontab(Installation(Path(home), Path("/opt/nb alife/bin/nbalife"), fake), zone=ZONE)
    except BadInput as exc:
        assert "\n" not in str(exc) and len(str(exc)) < 400
        assert any(c in name for c in "\r\n\x00\x85\u2028\u2029") or not name.isprintable() or (
            "'" in name and '"' in name)
        return
    env, entries = read_as_cron(text)
    assert env["NBALIFE_HOME"] == home and len(entries) == len(JOBS)  # no line of its own
    export = next(command for _, _, command in entries if " metrics-export " in command)
    assert "%" not in export  # cron would cut the command there
    proc = subprocess.run(["sh", "-c", export], capture_output=True, env={"PATH": os.environ["PATH"], **env},
                          timeout=10)
    argv = proc.stdout.decode("utf-8", "surrogateescape").split("\0")[:-1]
    assert argv == ["metrics-export", "--", "/opt/nb alife/bin/nbalife", "metrics", "export", "--prometheus",
                    f"{home}/metrics/nbalife.prom"]


@pytest.mark.parametrize("name", ["a\n* * * * * root touch owned", "a\rb", "a\x85b", "a\u2028b"])
def test_a_home_with_a_control_character_is_exit_2_as_a_process(tmp_path: Path, name: str) -> None:
    from conftest import run_nbalife

    home = tmp_path / name
    home.mkdir()
    result = run_nbalife("--home", str(home), "cron", "show", cwd=tmp_path)
    assert result.returncode == 2, result.stdout
    assert "control character" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""
    tab = tmp_path / "crontab"
    tab.write_text("mine\n")
    result = run_nbalife("--home", str(home), "cron", "install", "--file", str(tab), cwd=tmp_path)
    assert result.returncode == 2 and "control character" in result.stderr and tab.read_text() == "mine\n"


def test_kubernetes_manifests_carry_league_time_a_secret_and_an_empty_home(cli) -> None:
    result = cli("cron", "show", "--format", "kubernetes", "--image", "registry.local/nbalife:1.4",
                 "--env", "NBALIFE_HOME=/data", "--env", "NBALIFE_LSTM__EPOCHS=5", "--db-secret", "nba-store")
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stderr
    docs = list(yaml.safe_load_all(result.stdout))
    jobs = [job for job in JOBS if not job.host_only]
    assert [d["spec"]["schedule"] for d in docs] == [job.when for job in jobs]
    assert "metrics-export" not in result.stdout
    for doc, job in zip(docs, jobs):
        assert doc["kind"] == "CronJob" and doc["spec"]["concurrencyPolicy"] == "Forbid"
        assert doc["spec"]["timeZone"] == "America/New_York"
        pod = doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        container = pod["containers"][0]
        assert container["image"] == "registry.local/nbalife:1.4"
        assert container["command"] == ["nbalife", *job.args]
        assert {"name": "NBALIFE_HOME", "value": "/data"} in container["env"]
        assert {"name": "NBALIFE_DB", "valueFrom": {"secretKeyRef": {"name": "nba-store", "key": "url"}}} \
            in container["env"]
        assert pod["volumes"] == [{"name": "home", "emptyDir": {}}]
        assert container["volumeMounts"] == [{"name": "home", "mountPath": "/data"}]


@pytest.mark.parametrize(("args", "says"), [
    (("--env", "NBALIFE_DB=postgresql+psycopg://nba:pw@db/nbalife"), "does not belong in a manifest"),
    (("--env", "NBALIFE_DATABASE__URL=sqlite:////x.db"), "does not belong in a manifest"),
    (("--env", "NOTIFY=http://u:secret@hooks/x"), "does not belong in a manifest"),
    (("--env", "NBALIFE_HOME=relative"), "must be an absolute path"),
    (("--env", "NBALIFE_HOME=/data\nx"), "control character"),
    (("--env", "BAD NAME=1"), "not an environment variable name"),
    (("--namespace", "prod\nkind: Secret"), "not a Kubernetes name"),
    (("--image", "nbalife:1 --privileged"), "not a container image"),
    (("--db-secret", "Bad_Name"), "not a Kubernetes Secret name"),
])
def test_bad_kubernetes_options_are_exit_2_and_never_echo_a_secret(cli, args: tuple[str, ...], says: str) -> None:
    result = cli("cron", "show", "--format", "kubernetes", *args)
    assert result.exit_code == 2 and says in result.stderr, result.output
    assert len(result.stderr.strip().splitlines()) == 1
    assert "secret@" not in result.stderr and ":pw@" not in result.stderr


@pytest.mark.parametrize("args", [("--format", "systemd"), ("--format", "kubernetes", "--env", "NOEQUALS")])
def test_cron_show_bad_options_are_exit_2(cli, args: tuple[str, ...]) -> None:
    result = cli("cron", "show", *args)
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1


def test_cron_install_into_a_folder_is_exit_2(cli, tmp_path: Path) -> None:
    result = cli("cron", "install", "--file", str(tmp_path))
    assert result.exit_code == 2 and "is a folder" in result.stderr


FAST = "lstm:\n  hidden_size: 4\n  num_layers: 1\n  epochs: 2\n  patience: 1\ndejavu:\n  k: 20\n"


@pytest.mark.slow
def test_every_installed_line_runs_once_on_a_fresh_trained_home(cli, home: Path, tmp_path: Path,
                                                                   repo_data: Path, tiny_model_set) -> None:
    """The crontab as installed, each line run the way cron runs it (its NAME=value lines as the
    environment, the command through /bin/sh): every job does its work or reports a finding."""
    from conftest import install_production

    from nbalife.ops.jobs import last_runs, stale_jobs
    from nbalife.store.engine import make_engine
    from nbalife.store.migrate import open_store

    (home / "config.yaml").write_text(FAST)
    for season in ("nba_2020-21.csv", "nba_2021-22.csv"):
        assert cli("data", "ingest", str(repo_data / season)).exit_code == 0
    engine = make_engine(f"sqlite:///{home / 'nbalife.db'}")
    open_store(engine)
    install_production(home, engine, tiny_model_set)
    engine.dispose()
    tab = tmp_path / "crontab"
    tab.write_text("MAILTO=ops@example.org\n")
    assert cli("cron", "install", "--file", str(tab)).exit_code == 0
    env, entries = read_as_cron(tab.read_text())
    assert len(entries) == len(JOBS) and env["MAILTO"] == "ops@example.org"
    base = {k: os.environ[k] for k in ("PATH", "PYTHONPATH", "NBALIFE_REGISTRY__FREEZE") if k in os.environ}
    codes = {}
    for _, _, command in entries:
        job = shlex.split(command)[1]
        started = time.monotonic()
        proc = subprocess.run(["/bin/sh", "-c", command], env={**base, **env}, capture_output=True, timeout=300)
        codes[job] = proc.returncode
        print(f"{job}: exit {proc.returncode} in {time.monotonic() - started:.1f} s")
    log = {job: (home / "logs" / f"{job}.log").read_text().splitlines()[-1] for job in codes}
    assert all(code in (0, 1) for code in codes.values()), log
    assert (home / "metrics" / "nbalife.prom").is_file()
    runs = last_runs(home)
    assert {job: run.exit_code for job, run in runs.items()} == codes
    assert stale_jobs(runs, dt.datetime.now(UTC), missing=True) == []


RAW_LINES = st.lists(st.one_of(st.sampled_from([m.encode() for m in MARKERS]),
                               st.binary(max_size=20).map(lambda b: b.replace(b"\n", b""))), max_size=8)


@given(RAW_LINES)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_install_and_uninstall_of_any_file_keep_its_other_bytes_or_refuse_it(tmp_path: Path, lines: list[bytes]) -> None:
    from nbalife.services.cron import install, uninstall

    tab = tmp_path / "crontab"
    original = b"".join(line + b"\n" for line in lines)
    tab.write_bytes(original)
    settings_ = load_settings(None, environ={}).settings
    text = [line.decode("utf-8", "surrogateescape") for line in lines]
    import nbalife.ops.schedule as schedule

    markers = [i for i, line in enumerate(text) if schedule._BEGIN.match(line) or schedule._END.match(line)]
    try:
        install(tmp_path, settings_, file=tab)
    except BadInput as exc:
        assert markers and "line " in str(exc) and "\n" not in str(exc)
        assert tab.read_bytes() == original
        return
    installed = tab.read_bytes().split(b"\n")
    begin, end = installed.index(BLOCK_BEGIN.encode()), installed.index(BLOCK_END.encode())
    kept = installed[:begin] + installed[end + 1:]
    outside = lines if not markers else lines[: markers[0]] + lines[markers[1] + 1:]  # one BEGIN, then one END
    assert kept[:-1] == outside
    uninstall(file=tab)
    assert tab.read_bytes().split(b"\n")[:-1] == kept[:-1]
    uninstall(file=tab)
    assert tab.read_bytes().split(b"\n")[:-1] == kept[:-1]


def test_an_unwritable_crontab_file_and_an_ambiguous_block_are_exit_2_as_processes(home: Path, tmp_path: Path) -> None:
    from conftest import run_nbalife

    result = run_nbalife("--home", str(home), "cron", "install", "--file", "/proc/nbalife-crontab")
    assert result.returncode == 2 and result.stderr.startswith("error: --file /proc/nbalife-crontab: ")
    assert len(result.stderr.strip().splitlines()) == 1
    tab = tmp_path / "crontab"
    tab.write_bytes(b"0 1 * * * mine\n# BEGIN nbalife\n0 2 * * * also mine\n")
    for command in ("install", "uninstall"):
        result = run_nbalife("--home", str(home), "cron", command, "--file", str(tab))
        assert result.returncode == 2 and "line 2: '# BEGIN nbalife' has no '# END nbalife'" in result.stderr
        assert tab.read_bytes() == b"0 1 * * * mine\n# BEGIN nbalife\n0 2 * * * also mine\n"
