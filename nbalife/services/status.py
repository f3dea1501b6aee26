"""``nbalife status``: one screen of where the system stands, from what is already recorded.

It reads the registry's metadata, the events table and the prediction log's sums; it recomputes
nothing heavy (drift figures come from the last ``drift check`` event) and imports neither torch
nor scipy.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from nbalife.config import Settings
from nbalife.ops import jobs as cron_records
from nbalife.registry import Registry, VersionInfo
from nbalife.services.drift import EVENT_KIND as DRIFT_EVENT
from nbalife.services.guard import GuardrailState, guardrail_states
from nbalife.services.metrics import window_metrics
from nbalife.services.triggers import LstmAge, Trigger, evaluate, lineage
from nbalife.store.abtests import AbTest, running_test
from nbalife.store.engine import reachable
from nbalife.store.events import Event, list_events, recorded_kinds

WINDOWS_DAYS = (7, 30)
SERVING_ARM = "A"


@dataclass(frozen=True)
class Ancestor:
    """One version of production's lineage; ``tombstone`` says when gc deleted it."""

    version: str
    kind: str
    created_at: dt.datetime
    description: str
    tombstone: str | None = None


@dataclass(frozen=True)
class JobRun:
    """The last recorded run of one kind of job."""

    kind: str
    at: dt.datetime
    outcome: str
    version: str | None


@dataclass(frozen=True)
class WindowFigures:
    """Arm A's counted predictions of the last ``days`` days next to persistence on the same games."""

    days: int
    n: int
    mae: float | None
    coverage: float | None
    persistence_mae: float | None


@dataclass(frozen=True)
class DriftFigures:
    """The last drift check: when, on which version, its outcome and per-feature KS p-value and PSI."""

    at: dt.datetime
    version: str | None
    outcome: str
    features: dict[str, Any]


@dataclass(frozen=True)
class CronJob:
    """A scheduled job as the cron wrapper last recorded it."""

    job: str
    exit_code: int | None
    ended_at: dt.datetime | None
    last_success: dt.datetime | None
    period_minutes: float | None
    stale: bool
    message: str


@dataclass(frozen=True)
class CronJobs:
    """Every job the wrapper recorded in this home, and the scheduled ones that are stale (no
    completed run within twice their period) or never ran here."""

    jobs: list[CronJob]
    stale: list[str]
    never_ran: list[str]


def cron_jobs(home: Path, now: dt.datetime) -> CronJobs:
    """What the cron wrapper recorded under ``home/logs`` (see ``nbalife.ops.jobs``)."""
    runs = cron_records.last_runs(home)
    rows = [CronJob(r.job, r.exit_code, r.ended_at, r.last_success,
                    None if r.period is None else r.period.total_seconds() / 60, r.stale(now), r.message)
            for r in runs.values()]
    stale = cron_records.stale_jobs(runs, now)
    never = [] if not runs else [name for name in cron_records.stale_jobs(runs, now, missing=True)
                                 if name not in runs]
    return CronJobs(rows, stale, never)


@dataclass(frozen=True)
class Status:
    """Everything ``nbalife status`` shows; production fields are None when none is set."""

    now: dt.datetime
    production: str | None
    production_age_days: float | None
    lineage: list[Ancestor]
    jobs: list[JobRun]
    windows: list[WindowFigures]
    lstm: LstmAge | None
    drift: DriftFigures | None
    abtest: AbTest | None
    triggers: list[Trigger]
    cron: CronJobs | None = None
    tombstones: dict[str, str] = field(default_factory=dict)
    guardrails: list[GuardrailState] = field(default_factory=list)  # as the last `guard check` left them

    def named(self, version: str | None) -> str | None:
        """``version``, with "(deleted by gc on D)" when it is a tombstone."""
        if version is None or version not in self.tombstones:
            return version
        return f"{version} ({self.tombstones[version]})"


def _drift_trigger(drift: DriftFigures | None, production: str) -> Trigger:
    if drift is None:
        return Trigger("drift", False, "no drift check recorded yet")
    fired = drift.outcome == "drift" and drift.version == production
    drifted = [name for name, figures in drift.features.items() if figures.get("drifted")]
    said = f"drifted: {', '.join(drifted)}" if drifted else drift.outcome
    return Trigger("drift", fired, f"last drift check {drift.at:%Y-%m-%d %H:%M} on {drift.version}: {said}")


def status(engine: Engine, registry: Registry, settings: Settings, *, now: dt.datetime,
           home: Path | None = None) -> Status:
    """Production and its lineage, each job's last run (events, and with ``home`` the cron
    wrapper's records), recent figures, drift, A/B test, triggers."""
    cron = None if home is None else cron_jobs(home, now)
    with reachable(engine), engine.connect() as conn:
        latest = [list_events(conn, kind=kind, limit=1)[0] for kind in sorted(recorded_kinds(conn))]
        test = running_test(conn)
    jobs = sorted((JobRun(e.kind, e.at, e.outcome, e.version) for e in latest), key=lambda j: j.at, reverse=True)
    drift_event: Event | None = next((e for e in latest if e.kind == DRIFT_EVENT), None)
    drift = None if drift_event is None else DriftFigures(drift_event.at, drift_event.version, drift_event.outcome,
                                                          drift_event.details.get("features", {}))
    windows = []
    for days in WINDOWS_DAYS:
        row = window_metrics(engine, now - dt.timedelta(days=days), now, arm=SERVING_ARM)
        windows.append(WindowFigures(days, row.n, row.mae, row.coverage, row.persistence_mae))
    deleted = registry.tombstones()
    production: VersionInfo | None = registry.current()
    named = {j.version for j in jobs} | {drift.version if drift else None}
    if production is None:
        return Status(now, None, None, [], jobs, windows, None, drift, test, [], cron,
                      {v: d for v, d in deleted.items() if v in named}, guardrail_states(engine))
    chain = lineage(registry, production)
    age, triggers = evaluate(engine, chain, settings, now=now, drift=_drift_trigger(drift, production.version),
                             force=False)
    return Status(
        now=now,
        production=production.version,
        production_age_days=(now - production.created_at).total_seconds() / 86400,
        lineage=[Ancestor(i.version, i.kind.value, i.created_at, i.description, i.tombstone) for i in chain],
        jobs=jobs,
        windows=windows,
        lstm=age,
        drift=drift,
        abtest=test,
        triggers=[t for t in triggers if t.name != "force"],
        cron=cron,
        tombstones={v: d for v, d in deleted.items()
                    if v in named | {i.version for i in chain} | {age.version if age else None}},
        guardrails=guardrail_states(engine),
    )
