"""What the cron wrapper (scripts/nbalife-cron) recorded of each job's last run, and which jobs are stale.

The record format is defined here and only here; the wrapper writes it, and ``status``, the
Prometheus exporter and any guardrail read it through :func:`last_runs`. In ``HOME/logs``:

- ``JOB.exit``: ``CODE UNIXTIME``, the exit code of the last run and when it ended;
- ``JOB.success``: ``UNIXTIME`` of the last run that completed (exit 0, or 1: a check that found
  something; 2 and above mean the job did not do its work);
- ``JOB.message``: the last line that run wrote on stderr (what went wrong, for a failure).

Each file is written beside its place and renamed into it, so a reader sees the old record or the
new one. A job is stale when its last completed run is older than twice its period in the
schedule (a job that runs every 10 minutes: 20 minutes), or when it never completed although it
has run.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from nbalife.errors import BadInput
from nbalife.ops.schedule import JOBS, check_job_name, job_named, period

SUCCESS_CODES = (0, 1)
STALE_AFTER_PERIODS = 2
MESSAGE_BYTES = 300
_FILE_BYTES = 4096


@dataclass(frozen=True)
class JobRun:
    """The last recorded run of one cron job.

    ``exit_code``/``ended_at`` are None when the record is unreadable (being replaced, or damaged);
    ``period`` is None for a job that is not in the schedule (one run by hand through the wrapper)."""

    job: str
    exit_code: int | None
    ended_at: dt.datetime | None
    last_success: dt.datetime | None
    message: str
    period: dt.timedelta | None

    def stale(self, now: dt.datetime) -> bool:
        """No completed run within twice the job's period (never stale without a period)."""
        if self.period is None:
            return False
        return self.last_success is None or now - self.last_success > STALE_AFTER_PERIODS * self.period


def job_periods() -> dict[str, dt.timedelta]:
    """Each scheduled job's period: the longest wait between two of its runs."""
    return {job.name: period(job.when) for job in JOBS}


def last_runs(home: Path) -> dict[str, JobRun]:
    """Every job the wrapper has recorded under ``home/logs``, by name (sorted)."""
    logs = Path(home) / "logs"
    runs: dict[str, JobRun] = {}
    if not logs.is_dir():
        return runs
    for exit_file in sorted(logs.glob("*.exit")):
        name = exit_file.name[: -len(".exit")]
        try:
            check_job_name(name)  # what the wrapper accepts; a dotfile is a record being written
        except BadInput:
            continue
        exit_fields = _fields(exit_file, 2)
        success_fields = _fields(logs / f"{name}.success", 1)
        code = _integer(exit_fields[0]) if exit_fields else None
        ended = _time(exit_fields[1]) if exit_fields else None
        success = _time(success_fields[0]) if success_fields else None
        job = job_named(name)
        runs[name] = JobRun(name, code, ended, success, _message(logs / f"{name}.message"),
                            None if job is None else period(job.when))
    return runs


def stale_jobs(runs: dict[str, JobRun], now: dt.datetime, *, missing: bool = False) -> list[str]:
    """The scheduled jobs with no completed run within twice their period; with ``missing``, also
    those the wrapper never recorded (a line left out of the crontab, a cron that never ran)."""
    return [job.name for job in JOBS if (job.name in runs and runs[job.name].stale(now))
            or (missing and job.name not in runs)]


def write_record(home: Path, job: str, code: int, ended_at: dt.datetime) -> None:
    """Record a run of ``job`` as the wrapper does (``JOB.exit``, and ``JOB.success`` for a
    completed run), each file written beside its place and renamed into it: what a simulated
    season leaves for :func:`last_runs`."""
    check_job_name(job)
    logs = Path(home) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    stamp = int(ended_at.timestamp())
    files = {"exit": f"{code} {stamp}\n", **({"success": f"{stamp}\n"} if code in SUCCESS_CODES else {})}
    for suffix, text in files.items():
        temporary = logs / f".{job}.{suffix}.tmp"
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(logs / f"{job}.{suffix}")


def _read(path: Path) -> str | None:
    try:
        with open(path, "rb") as handle:
            return handle.read(_FILE_BYTES).decode("utf-8", "replace")
    except OSError:
        return None


def _fields(path: Path, count: int) -> list[str] | None:
    text = _read(path)
    if text is None:
        return None
    fields = text.split()
    return fields if len(fields) == count else None


def _integer(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) < 4 else None


def _time(text: str) -> dt.datetime | None:
    if not text.isdigit() or len(text) > 12:
        return None
    return dt.datetime.fromtimestamp(int(text), dt.timezone.utc)


def _message(path: Path) -> str:
    text = _read(path) or ""
    line = "".join(c if c.isprintable() else " " for c in text.strip())
    return line[:MESSAGE_BYTES]
