"""``metrics export --prometheus``: the lifecycle's figures as a node_exporter textfile."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from nbalife.errors import BadInput
from nbalife.files import check_output_path
from nbalife.ops.jobs import last_runs
from nbalife.ops.prometheus import Exposition, JobStatus, write_textfile
from nbalife.registry import Registry
from nbalife.services.drift import EVENT_KIND as DRIFT_EVENT
from nbalife.services.metrics import window_metrics
from nbalife.store.abtests import running_test
from nbalife.store.engine import reachable
from nbalife.store.events import list_events

WINDOWS = {"1d": dt.timedelta(days=1), "7d": dt.timedelta(days=7)}


@dataclass(frozen=True)
class ExportResult:
    """What was written where."""

    file: Path
    production: str | None
    predictions_1d: int
    predictions_7d: int
    jobs: int
    abtest_active: bool
    drift_features: int


def check_prom_path(path: Path, *, create: bool = False) -> Path:
    """The textfile collector reads ``*.prom`` files from a folder; with ``create`` a missing folder
    is made (the shipped cron line writes ``$NBALIFE_HOME/metrics/nbalife.prom`` on a fresh home)."""
    path = Path(path)
    if create and path.suffix.lower() == ".prom" and not path.parent.is_dir():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BadInput(f"--prometheus {path}: cannot create folder {path.parent}: {exc.strerror}") from None
    return check_output_path(path, option="--prometheus", suffixes=(".prom",))


def job_statuses(home: Path) -> list[JobStatus]:
    """The last exit code and success time of each job, as the cron wrapper recorded them
    (``ops.jobs.last_runs``), in epoch seconds for the textfile."""
    def epoch(moment: dt.datetime | None) -> float | None:
        return None if moment is None else moment.timestamp()

    return [JobStatus(run.job, run.exit_code, epoch(run.ended_at), epoch(run.last_success))
            for run in last_runs(home).values()]


def export(engine: Engine, registry: Registry, home: Path, path: Path, *, now: dt.datetime) -> ExportResult:
    """Gather the figures (1- and 7-day windows of what production served: arms A and B, production,
    jobs, A/B stage, last drift check) and write them to ``path`` atomically, its folder created
    if missing."""
    check_prom_path(path, create=True)
    windows = {label: window_metrics(engine, now - span, now) for label, span in WINDOWS.items()}
    with reachable(engine), engine.connect() as conn:
        test = running_test(conn)
        drift_events = list_events(conn, kind=DRIFT_EVENT, limit=1)
    drift = {feature: {"psi": figures.get("psi"), "ks_pvalue": figures.get("ks_pvalue")}
             for feature, figures in (drift_events[0].details.get("features", {}) if drift_events else {}).items()}
    jobs = job_statuses(home)
    exposition = Exposition(
        windows=windows, production=registry.current_version(), jobs=jobs, abtest_active=test is not None,
        abtest_stage_share=None if test is None else test.shares[test.stage], drift=drift)
    write_textfile(path, exposition)
    return ExportResult(path, exposition.production, windows["1d"].n, windows["7d"].n, len(jobs),
                        test is not None, len(drift))
