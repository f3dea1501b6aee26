"""The one schedule of nbalife's jobs, in league time, rendered as a crontab or as Kubernetes CronJobs.

Every text that goes into a generated file passes through here. A path or name with a control
character is refused (a newline would start a line of its own), every path the shell sees is one
quoted word, and the marked block of a crontab that nbalife shares with its operator is found
exactly once or not at all: an ambiguous block is refused, never guessed.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from nbalife.errors import BadInput, quoted
from nbalife.ops.freeze import Freeze, check_zone

BLOCK_BEGIN = "# BEGIN nbalife (managed by `nbalife cron install`; edit the schedule there)"
BLOCK_END = "# END nbalife"
# Any line that looks like a marker counts as one, so a hand-edited or half-deleted block is
# refused rather than parsed by a guess.
_BEGIN = re.compile(r"\s*#\s*BEGIN\s+nbalife\b", re.IGNORECASE)
_END = re.compile(r"\s*#\s*END\s+nbalife\b", re.IGNORECASE)
_JOB_NAME = re.compile(r"[a-z][a-z0-9-]{0,40}")
_USER = re.compile(r"[A-Za-z_][A-Za-z0-9._-]{0,31}")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_DNS_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
_SECRET_KEY = re.compile(r"[-._a-zA-Z0-9]{1,253}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_IMAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:@+-]{0,254}")
_CRON_PART = re.compile(r"(\*|(\d+)(?:-(\d+))?)(?:/(\d+))?")
_CRON_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
_USERINFO_PASSWORD = re.compile(r"://[^/@\s]*:[^/@\s]*@")
DATABASE_ENV = ("NBALIFE_DB", "NBALIFE_DATABASE__URL")
KUBERNETES_HOME = "/var/lib/nbalife"
EXAMPLE = ("/srv/nbalife", "/opt/nbalife/.venv/bin/nbalife", "/opt/nbalife/scripts/nbalife-cron")


@dataclass(frozen=True)
class Job:
    """One scheduled command: its name (lock and log), when (cron fields, in league time), what,
    and why. ``host_only``: it writes a file for the host's own collector, so it has no place in
    a pod with an empty home."""

    name: str
    when: str
    args: tuple[str, ...]
    why: str
    host_only: bool = False

    @property
    def fixed_times(self) -> tuple[tuple[int, int], ...]:
        """``(hour, minute)`` of each run of a job that runs at set times of day; () for one that
        runs around the clock (an hour field of ``*``)."""
        minute, hour = self.when.split()[:2]
        if hour.startswith("*"):
            return ()
        return tuple((h, m) for h in sorted(_values(hour, 0, 23)) for m in sorted(_values(minute, 0, 59)))


# Times are league time (``league.timezone``, written as CRON_TZ). The freeze (default 19:00-01:00)
# covers the night's games; every daily job runs after it ends and after the outcomes job has
# matched the night's last results (it runs every 10 minutes), and long before the next evening.
JOBS: tuple[Job, ...] = (
    Job("outcomes", "*/10 * * * *", ("outcomes", "sync"),
        "match logged predictions with the halftime results that arrived"),
    Job("metrics-export", "*/5 * * * *", ("metrics", "export", "--prometheus", "{home}/metrics/nbalife.prom"),
        "node_exporter textfile for Prometheus", host_only=True),
    Job("metrics-check", "0 * * * *", ("metrics", "check"), "alert on MAE, coverage and volume"),
    Job("abtest-advance", "*/15 * * * *", ("abtest", "advance", "--if-running"),
        "move the active A/B test a stage on, promote, or roll back"),
    Job("conformal-check", "0 2 * * *", ("conformal", "check"), "recalibrate the interval when coverage drifts"),
    Job("verify", "30 1 * * *", ("registry", "verify", "--all"), "recompute every model set's checksums"),
    Job("dejavu-update", "0 3 * * 1", ("dejavu", "update"), "add last week's finished games to the analog database"),
    Job("drift-check", "30 3 * * 1", ("drift", "check"), "compare recent inputs with the training window"),
    Job("lstm-retrain", "0 4 1 * *", ("lstm", "retrain"), "retrain when a trigger fires; never promotes"),
    Job("gc", "0 5 * * 0", ("registry", "gc"), "delete model sets beyond registry.keep_versions"),
    Job("guard-check", "20 * * * *", ("guard", "check", "--apply", "--prometheus", "{home}/metrics/guard.prom"),
        "guardrails: roll back a worse production; flag missing predictions, stale results or jobs, swapped feeds"),
)


def check_job_name(name: str) -> str:
    """A job name is a lock and a log file name: lower-case letters, digits and dashes."""
    if not _JOB_NAME.fullmatch(name):
        raise BadInput(f"job name {name[:60]!r}: use lower-case letters, digits and '-' (no '/')")
    return name


def job_named(name: str) -> Job | None:
    """The scheduled job called ``name``, if there is one."""
    return next((job for job in JOBS if job.name == name), None)


# -- cron time fields ----------------------------------------------------------------------------

def _values(text: str, low: int, high: int, what: str = "field") -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        match = _CRON_PART.fullmatch(part)
        if not match:
            raise BadInput(f"cron {what} {quoted(text, 40)}: expected *, N, N-M, optionally /STEP")
        if match.group(1) == "*":
            first, last = low, high
        else:
            first = int(match.group(2))
            last = int(match.group(3)) if match.group(3) else (high if match.group(4) else first)
        step = int(match.group(4) or 1)
        if not (low <= first <= last <= high) or step < 1:
            raise BadInput(f"cron {what} {quoted(text, 40)}: outside {low}-{high}")
        values.update(range(first, last + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class CronTimes:
    """The five fields of a cron line as sets; a restricted day of month and day of week match
    either (cron's rule)."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday (7 is folded into 0)
    any_day: bool
    any_weekday: bool

    def on(self, day: dt.date) -> bool:
        """Whether the line runs at all on ``day``."""
        if day.month not in self.months:
            return False
        by_day, by_weekday = day.day in self.days, (day.isoweekday() % 7) in self.weekdays
        if not self.any_day and not self.any_weekday:
            return by_day or by_weekday
        return by_day and by_weekday


@cache
def parse_when(when: str) -> CronTimes:
    """The five time fields of a cron line; anything else is bad input naming it."""
    fields = when.split()
    if len(fields) != 5:
        raise BadInput(f"cron time {quoted(when, 40)}: expected 5 fields")
    sets = [_values(text, low, high, name) for text, (name, low, high) in zip(fields, _CRON_FIELDS)]
    weekdays = frozenset(d % 7 for d in sets[4])
    return CronTimes(sets[0], sets[1], sets[2], sets[3], weekdays, fields[2] == "*", fields[4] == "*")


def runs(when: str, start: dt.date, days: int) -> Iterator[dt.datetime]:
    """Every wall-clock time (naive, in the cron's zone) the line fires on ``days`` days from ``start``."""
    times = parse_when(when)
    for offset in range(days):
        day = start + dt.timedelta(days=offset)
        if times.on(day):
            for hour in sorted(times.hours):
                for minute in sorted(times.minutes):
                    yield dt.datetime.combine(day, dt.time(hour, minute))


@cache
def period(when: str) -> dt.timedelta:
    """The longest wait between two runs of the line (a monthly job: 31 days)."""
    fired = list(runs(when, dt.date(2024, 1, 1), 400))
    if len(fired) < 2:
        raise BadInput(f"cron time {quoted(when, 40)}: runs less than twice a year")
    return max(later - earlier for earlier, later in zip(fired, fired[1:]))


def fire_times(when: str, day: dt.date, zone: str) -> list[dt.datetime]:
    """The instants (aware, UTC) at which the cron line fires on ``day`` in ``zone``."""
    return [in_zone(wall, zone) for wall in runs(when, day, 1)]


def local_at(day: dt.date, time_of_day: dt.time, zone: str) -> dt.datetime:
    """``time_of_day`` on ``day`` in ``zone``, as an aware UTC time."""
    return in_zone(dt.datetime.combine(day, time_of_day), zone)


def in_zone(wall: dt.datetime, zone: str) -> dt.datetime:
    """A wall-clock time in ``zone`` as an aware UTC time (a time skipped by a clock change is
    read with the offset before it, as cron runs it right after the change)."""
    from zoneinfo import ZoneInfo

    return wall.replace(tzinfo=ZoneInfo(zone)).astimezone(dt.timezone.utc)


def freeze_conflicts(freeze: Freeze | None, zone: str, jobs: tuple[Job, ...] = JOBS) -> list[str]:
    """A line per job whose set time of day, read in ``zone``, falls inside the live-game freeze
    on some day of the year (both sides of each clock change are tried)."""
    if freeze is None:
        return []
    days = [dt.date(2025, month, day) for month in range(1, 13) for day in (1, 8, 15, 22)]
    found = []
    for job in jobs:
        for hour, minute in job.fixed_times:
            wall = dt.time(hour, minute)
            inside = [day for day in days if freeze.active(in_zone(dt.datetime.combine(day, wall), zone))]
            if inside:
                share = "all year" if len(inside) == len(days) else "part of the year"
                found.append(f"{job.name} runs at {wall:%H:%M} {zone}, inside the live-game freeze "
                             f"{freeze.text!r} ({share}): a promotion it asks for waits until the freeze ends")
                break
    return found


# -- text that goes into generated files --------------------------------------------------------

def safe_text(value: str, what: str) -> str:
    """``value`` when it can go into a generated file as it is: no control character (a line
    break would start a line of its own), no unpaired surrogate (bytes that are not UTF-8)."""
    for char in value:
        category = unicodedata.category(char)
        if category in ("Cc", "Zl", "Zp", "Cs"):
            reason = "is not valid UTF-8" if category == "Cs" else f"holds the control character {char!r}"
            raise BadInput(f"{what} {quoted(value)}: {reason}; it cannot go into a generated file")
    return value


def safe_path(path: str | Path, what: str) -> str:
    """An absolute path that a generated file may carry."""
    text = safe_text(str(path), what)
    if not text.startswith("/"):
        raise BadInput(f"{what} {quoted(text)}: must be an absolute path")
    return text


def cron_assignment(name: str, value: str) -> str:
    """``NAME="value"``: cron strips one pair of matching quotes, so any value without a control
    character and without both kinds of quote goes through whole, spaces and ``%`` included."""
    for quote in '"\'':
        if quote not in value:
            return f"{name}={quote}{value}{quote}"
    raise BadInput(f"{name} {quoted(value)}: holds both ' and \"; a crontab line cannot carry it")


def check_user(user: str) -> str:
    """A login name for the user column of a system crontab."""
    if not _USER.fullmatch(user):
        raise BadInput(f"--user {quoted(user, 40)}: not a login name (letters, digits, '.', '_', '-')")
    return user


@dataclass(frozen=True)
class Installation:
    """Where this installation's pieces are, as absolute paths."""

    home: Path
    nbalife: Path
    wrapper: Path


def crontab(where: Installation | None = None, *, zone: str, user: str | None = None) -> str:
    """The schedule as crontab lines in league time ``zone``; with ``where``, this installation's
    absolute paths; with ``user``, the user column of a system crontab (``/etc/cron.d``)."""
    home, nbalife, wrapper = ((safe_path(where.home, "--home"), safe_path(where.nbalife, "nbalife executable"),
                               safe_path(where.wrapper, "cron wrapper")) if where else EXAMPLE)
    column = f"{check_user(user)} " if user is not None else ""
    lines = [
        "# nbalife schedule. To install it, run `nbalife cron install`: it writes these lines, with this",
        "# installation's paths, into a marked block of your crontab (`nbalife cron uninstall` removes",
        "# it; `nbalife cron show` prints it). Or edit the three paths below and run `crontab FILE`.",
        "# Each line runs through scripts/nbalife-cron: a non-blocking lock per job (exit 3 on overlap),",
        "# HOME/nbalife.env sourced for secrets, timestamped output in $NBALIFE_HOME/logs/JOB.log, the",
        "# job's own exit code, and its last run in $NBALIFE_HOME/logs/JOB.exit. Times are league time",
        "# (CRON_TZ, league.timezone in config.yaml); a cron that ignores CRON_TZ runs them on the host's clock.",
        cron_assignment("CRON_TZ", check_zone(zone)),
        cron_assignment("NBALIFE_HOME", home),
        cron_assignment("NBALIFE", nbalife),
        cron_assignment("CRON", wrapper),
        "",
    ]
    for job in JOBS:
        args = " ".join(f'"{a}"' if "{home}" in a else a for a in job.args).replace("{home}", "$NBALIFE_HOME")
        lines += [f"# {job.why}", f'{job.when:<14}{column}"$CRON" {job.name} -- "$NBALIFE" {args}']
    return "\n".join(lines) + "\n"


def block_span(lines: list[str], source: str) -> tuple[int, int] | None:
    """The indexes of the BEGIN and END lines of nbalife's block, None when there is none.
    Anything ambiguous (two BEGINs, two ENDs, one without the other, END first) is bad input
    naming the line, and nothing is written."""
    begins = [i for i, line in enumerate(lines) if _BEGIN.match(line)]
    ends = [i for i, line in enumerate(lines) if _END.match(line)]
    fix = "fix the file by hand, then run the command again"
    if not begins and not ends:
        return None
    if len(begins) > 1:
        raise BadInput(f"{source}: line {begins[1] + 1}: a second '# BEGIN nbalife' (the first is line "
                       f"{begins[0] + 1}); {fix}")
    if len(ends) > 1:
        raise BadInput(f"{source}: line {ends[1] + 1}: a second '# END nbalife' (the first is line "
                       f"{ends[0] + 1}); {fix}")
    if not ends:
        raise BadInput(f"{source}: line {begins[0] + 1}: '# BEGIN nbalife' has no '# END nbalife' after it; {fix}")
    if not begins:
        raise BadInput(f"{source}: line {ends[0] + 1}: '# END nbalife' has no '# BEGIN nbalife' before it; {fix}")
    if ends[0] < begins[0]:
        raise BadInput(f"{source}: line {ends[0] + 1}: '# END nbalife' comes before '# BEGIN nbalife' "
                       f"(line {begins[0] + 1}); {fix}")
    return begins[0], ends[0]


def with_block(existing: str, block: str | None, source: str = "crontab") -> str:
    """``existing`` crontab text with nbalife's marked block replaced in place, appended when
    there is none, or removed when ``block`` is None. Every other line is kept byte for byte (a
    last line without a line break gets one when the block follows it); applying the same block
    twice changes nothing."""
    terminated = existing.endswith("\n")
    lines = existing.split("\n")[:-1] if terminated else (existing.split("\n") if existing else [])
    span = block_span(lines, source)
    new = [] if block is None else [BLOCK_BEGIN, *block.rstrip("\n").split("\n"), BLOCK_END]
    if span is None:
        before, after = lines, []
    else:
        before, after = lines[: span[0]], lines[span[1] + 1:]
    out = before + new + after
    if not out:
        return ""
    ends_open = bool(after) or (not new and span is None)  # the original's own last line is last
    return "\n".join(out) + ("" if ends_open and not terminated else "\n")


# -- Kubernetes ----------------------------------------------------------------------------------

def kubernetes(image: str, env: dict[str, str], *, zone: str, namespace: str | None = None,
               secret: str = "nbalife-db", secret_key: str = "url") -> str:
    """The schedule as Kubernetes ``CronJob`` manifests (one YAML document each) in league time.

    Each pod runs with an empty home (``emptyDir``): the registry, the log and the audit trail
    live in the store, whose URL comes from the Secret ``secret`` (key ``secret_key``) and never
    appears in a manifest. Jobs that only feed the host's collector are left out."""
    import yaml

    check_zone(zone)
    if not _IMAGE.fullmatch(image):
        raise BadInput(f"--image {quoted(image)}: not a container image reference")
    if namespace is not None and not _DNS_LABEL.fullmatch(namespace):
        raise BadInput(f"--namespace {quoted(namespace)}: not a Kubernetes name (lower-case letters, digits, '-')")
    if not _DNS_NAME.fullmatch(secret):
        raise BadInput(f"--db-secret {quoted(secret)}: not a Kubernetes Secret name")
    if not _SECRET_KEY.fullmatch(secret_key):
        raise BadInput(f"--db-secret-key {quoted(secret_key)}: not a Secret key (letters, digits, '-', '_', '.')")
    for name, value in env.items():
        if not _ENV_NAME.fullmatch(name):
            raise BadInput(f"--env {quoted(name, 40)}: not an environment variable name")
        if name in DATABASE_ENV or _USERINFO_PASSWORD.search(value):
            raise BadInput(f"--env {name}: a database URL or password does not belong in a manifest; "
                           f"put it in the Secret {secret!r} (key {secret_key!r}), which every CronJob reads")
        safe_text(value, f"--env {name}")
    home = safe_path(env.get("NBALIFE_HOME", KUBERNETES_HOME), "--env NBALIFE_HOME")
    variables = [{"name": "NBALIFE_DB", "valueFrom": {"secretKeyRef": {"name": secret, "key": secret_key}}},
                 *({"name": k, "value": v} for k, v in sorted({**env, "NBALIFE_HOME": home}.items()))]
    documents = []
    for job in JOBS:
        if job.host_only:
            continue
        metadata: dict = {"name": f"nbalife-{job.name}", "labels": {"app": "nbalife", "job": job.name}}
        if namespace:
            metadata["namespace"] = namespace
        container = {"name": "nbalife", "image": image, "command": ["nbalife", *job.args], "env": variables,
                     "volumeMounts": [{"name": "home", "mountPath": home}]}
        documents.append({
            "apiVersion": "batch/v1", "kind": "CronJob", "metadata": metadata,
            "spec": {"schedule": job.when, "timeZone": zone, "concurrencyPolicy": "Forbid",
                     "startingDeadlineSeconds": 600,
                     "jobTemplate": {"spec": {"backoffLimit": 0, "template": {"spec": {
                         "restartPolicy": "Never", "containers": [container],
                         "volumes": [{"name": "home", "emptyDir": {}}]}}}}},
        })
    return yaml.safe_dump_all(documents, sort_keys=False)
