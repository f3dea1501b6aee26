"""Versions derived from production (the same artifacts with one part replaced, registered as its
child), and the lifecycle event the jobs that make them record.

A recalibration replaces the conformal layer, a Dejavu update the pattern database; every other
file is copied unchanged from the verified production folder. The set is staged in a temporary
folder under the home and registered in one step (the registry renames it into place), so a
failure before registration leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine

from nbalife.errors import BadInput
from nbalife.locks import run_lock
from nbalife.registry import NO_PRODUCTION, ChangeKind, Production, Registry, VersionInfo
from nbalife.store.engine import reachable
from nbalife.store.events import record_event


def record_job(engine: Engine, kind: str, outcome: str, *, at: dt.datetime, version: str | None,
               details: dict[str, Any]) -> None:
    """The job's one lifecycle event, in its own transaction."""
    with reachable(engine), engine.begin() as conn:
        record_event(conn, kind, outcome, at=at, version=version, details=details)


T = TypeVar("T")


def run_on_production(engine: Engine, registry: Registry, *, lock: str, kind: str, inputs: dict[str, Any],
                      now: dt.datetime, job: Callable[[], T], outcome: Callable[[T], tuple[str, str, dict]]) -> T:
    """Run a job that derives from production: under its run lock, refused with no production,
    and recorded as one ``kind`` event: ``outcome(result)`` gives (outcome, version, details) on
    success; a failure half-way is recorded as ``failed`` and re-raised."""
    with run_lock(lock, home=registry.home, engine=engine):
        production = registry.current_version()
        if production is None:
            raise BadInput(NO_PRODUCTION)
        try:
            result = job()
        except Exception as exc:
            record_job(engine, kind, "failed", at=now, version=production, details={**inputs, "error": str(exc)})
            raise
        done, version, details = outcome(result)
        record_job(engine, kind, done, at=now, version=version, details={**inputs, **details})
    return result


def register_derived(
    registry: Registry,
    production: Production,
    write_part: Callable[[Path], object],
    kind: ChangeKind,
    *,
    description: str,
    metrics: dict[str, Any],
    params: dict[str, Any],
    training_window: dict[str, Any] | None = None,
    now: dt.datetime,
) -> VersionInfo:
    """Copy production's files into a staging folder, let ``write_part`` overwrite its part there,
    and register the folder as a ``kind`` child of production created at ``now`` (by default with
    its training window)."""
    with registry.staging(".derive-") as staging:
        folder = Path(staging)
        for entry in production.info.files:
            shutil.copyfile(production.path / entry.name, folder / entry.name)
        write_part(folder)
        return registry.register(folder, kind, metrics=metrics, params=params, description=description,
                                 base=production.version, at=now,
                                 training_window=training_window or production.info.training_window)
