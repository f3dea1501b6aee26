"""Versions derived from production (the same artifacts with one part replaced, registered as its
child), and the lifecycle event the jobs that make them record.

A recalibration replaces the conformal layer, a Dejavu update the pattern database; every other
file is copied unchanged from the verified production folder. The set is staged in a temporary
folder under the home and registered in one transaction, so a failure before registration leaves
nothing behind. A derived version is scored against its base at registration; its figures are
never copied from the base.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine

from nbalife.config import Settings
from nbalife.errors import BadInput
from nbalife.locks import run_lock
from nbalife.registry import NO_PRODUCTION, ChangeKind, Production, Registry, VersionInfo
from nbalife.services.registry import ab_protected
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
    settings: Settings | None = None,
) -> VersionInfo:
    """Copy production's files into a staging folder, let ``write_part`` overwrite its part there,
    and register the folder as a ``kind`` child of production created at ``now`` (by default with
    its training window). Its figures are its own: the figures of ``metrics`` that merely repeat
    production's are dropped, and the new set is scored against production on the recent games
    neither was fitted on (``scored_on``), or recorded as not scored (its base's held-out figures
    kept apart under ``base_held_out``, for the held-out gate). The job's earlier
    candidates of this kind that are now stale are retired (``retired``)."""
    settings = settings or Settings()
    window = training_window or production.info.training_window
    own = {k: v for k, v in metrics.items() if production.info.metrics.get(k) != v}
    with registry.staging(".derive-") as staging:
        folder = Path(staging)
        for entry in production.info.files:
            shutil.copyfile(production.path / entry.name, folder / entry.name)
        write_part(folder)
        figures = score_against_base(registry, settings, folder, production, window, now)
        if figures.get("scored_on") is None:
            figures["base_held_out"] = base_held_out(production.info)
        return registry.register(folder, kind, metrics={**_unscored(own), **figures}, params=params,
                                 description=description, base=production.version, at=now,
                                 training_window=window, retire_stale=True, keep=ab_protected(registry.engine))


def base_held_out(base: VersionInfo) -> dict[str, Any]:
    """The held-out figures a not-scored child of ``base`` is gated on: the base's own, or, when
    the base was not scored either, the ones it was gated on (named by the version they are of)."""
    own = {k: base.metrics[k] for k in SCORED if k in base.metrics}
    inherited = base.metrics.get("base_held_out")
    if "mae" not in own and isinstance(inherited, dict):
        return dict(inherited)
    return {"version": base.version, **own}


def _unscored(own: dict[str, Any]) -> dict[str, Any]:
    """A job's own figures without the ones scoring decides (``mae``, ``coverage``, vs persistence)."""
    return {k: v for k, v in own.items() if k not in SCORED}


SCORED = ("mae", "coverage", "vs_persistence", "vs_persistence_se")


def score_against_base(registry: Registry, settings: Settings, folder: Path, base: Production,
                       window: dict[str, Any] | None, now: dt.datetime) -> dict[str, Any]:
    """The new set in ``folder`` and its base scored on the most recent ``registry.gate_games``
    finished games after both training windows (up to ``now``): its ``mae``, ``coverage`` and
    gap to persistence, the base's ``base_mae``/``base_coverage``, and ``scored_on: {games,
    from, to}``; with fewer than ``registry.gate_min_games`` such games, ``scored_on`` None and
    ``not_scored`` saying why (no figure is copied from the base)."""
    from nbalife.forecast.modelset import ModelSet
    from nbalife.services.gate import games_after, score_on_games, window_end
    from nbalife.services.model_loading import LoadedModelSet

    ends = [window_end(replace(base.info, training_window=window)), window_end(base.info)]
    if None in ends:
        return {"scored_on": None, "not_scored": "a training window's last_date is not recorded"}
    cutoff = max(e for e in ends if e is not None)
    games = games_after(registry.engine, cutoff, now.date(), settings.registry.gate_games)
    if len(games) < settings.registry.gate_min_games:
        return {"scored_on": None, "not_scored": f"only {len(games)} finished games after {cutoff} "
                                                 f"(scoring needs {settings.registry.gate_min_games})"}
    mine = score_on_games(registry.engine, LoadedModelSet("new", ModelSet.load(folder)), games)
    theirs = score_on_games(registry.engine, LoadedModelSet(base.version, ModelSet.load(base.path)), games)
    return {**mine, "base_mae": theirs["mae"], "base_coverage": theirs["coverage"],
            "scored_on": {"games": len(games), "from": str(games["game_date"].iloc[0]),
                          "to": str(games["game_date"].iloc[-1])}}
