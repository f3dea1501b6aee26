"""``drift check``: recent games' inputs against the games production was trained on."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from nbalife.config import DriftSettings
from nbalife.errors import BadInput
from nbalife.registry import NO_PRODUCTION, Registry, VersionInfo
from nbalife.store.engine import reachable
from nbalife.store.events import record_event
from nbalife.window import window_length

if TYPE_CHECKING:
    import numpy as np

    from nbalife.monitoring.drift import FeatureDrift

EVENT_KIND = "drift_check"


@dataclass(frozen=True)
class DriftReport:
    """Both samples, every feature's figures, and the outcome: ``ok``, ``drift`` or ``too_few``."""

    version: str
    reference_first: str
    reference_last: str
    reference_games: int
    since: str
    until: str
    recent_games: int
    ks_pvalue_level: float
    psi_level: float
    features: list[FeatureDrift]  # empty when too few games
    drifted: list[str]
    outcome: str
    message: str


def recent_window(now: dt.datetime, days: float) -> tuple[dt.date, dt.date]:
    """Game dates of the last ``days`` days up to ``now`` (both ends inclusive)."""
    days = window_length(days, low_days=1)  # whole days: a shorter window would be inverted
    until = now.date()
    return (now - dt.timedelta(days=days)).date() + dt.timedelta(days=1), until


def training_dates(info: VersionInfo) -> tuple[dt.date, dt.date]:
    """First and last game date of a version's training window (BadInput when not recorded)."""
    window = info.training_window or {}
    try:
        return dt.date.fromisoformat(window["first_date"]), dt.date.fromisoformat(window["last_date"])
    except (KeyError, TypeError, ValueError):
        raise BadInput(f"version {info.version} records no training window (first_date, last_date) "
                       "to compare with") from None


def _patterns(engine: Engine, since: dt.date, until: dt.date) -> np.ndarray:
    """``d0..d18`` of the store's games dated ``since..until`` (inclusive), oldest first."""
    import numpy as np

    from nbalife.interchange import PATTERN_COLUMNS
    from nbalife.store.games import read_games

    with reachable(engine), engine.connect() as conn:
        frame = read_games(conn, since=since, until=until)
    return frame[PATTERN_COLUMNS].to_numpy(dtype=np.float64)


def measure(engine: Engine, production: VersionInfo, settings: DriftSettings, *, days: float,
            now: dt.datetime) -> DriftReport:
    """Compare the games of the last ``days`` days with ``production``'s training window games.

    Records nothing (``lstm retrain`` uses it as a trigger). Fewer than ``drift.min_games`` recent
    games is outcome ``too_few``; a training window with fewer games in the store is BadInput.
    """
    from nbalife.monitoring.drift import compare

    since, until = recent_window(now, days)
    first, last = training_dates(production)
    reference = _patterns(engine, first, last)
    if len(reference) < settings.min_games:
        raise BadInput(f"production {production.version} was trained on games of {first}..{last}, but the "
                       f"store holds {len(reference)} of them (drift check needs {settings.min_games})")
    recent = _patterns(engine, since, until)
    base = dict(version=production.version, reference_first=str(first), reference_last=str(last),
                reference_games=len(reference), since=str(since), until=str(until), recent_games=len(recent),
                ks_pvalue_level=settings.ks_pvalue, psi_level=settings.psi)
    if len(recent) < settings.min_games:
        return DriftReport(**base, features=[], drifted=[], outcome="too_few",
                           message=f"{len(recent)} games in {since}..{until}, fewer than drift.min_games "
                                   f"{settings.min_games}: nothing to judge")
    figures = compare(reference, recent, bins=settings.bins, max_pvalue=settings.ks_pvalue,
                      min_psi=settings.psi)
    drifted = [f for f in figures if f.drifted]
    message = "; ".join(
        f"{f.feature} drifted: KS p-value {f.ks_pvalue:.2g} < {settings.ks_pvalue:g} and PSI {f.psi:.3f} "
        f">= {settings.psi:g}" for f in drifted
    ) or "no feature crosses both levels"
    return DriftReport(**base, features=figures, drifted=[f.feature for f in drifted],
                       outcome="drift" if drifted else "ok", message=message)


def event_details(report: DriftReport) -> dict:
    """What the lifecycle event keeps: windows, levels and every feature's figures."""
    return {
        "reference": [report.reference_first, report.reference_last], "reference_games": report.reference_games,
        "recent": [report.since, report.until], "recent_games": report.recent_games,
        "ks_pvalue_level": report.ks_pvalue_level, "psi_level": report.psi_level, "drifted": report.drifted,
        "features": {f.feature: {"ks_statistic": f.ks_statistic, "ks_pvalue": f.ks_pvalue, "psi": f.psi,
                                 "drifted": f.drifted} for f in report.features},
    }


def check(engine: Engine, registry: Registry, settings: DriftSettings, *, days: float | None,
          now: dt.datetime) -> DriftReport:
    """``drift check``: measure against production and record a ``drift_check`` event."""
    days = settings.window_days if days is None else days
    recent_window(now, days)  # a bad --days is reported before anything else
    production = registry.current()
    if production is None:
        raise BadInput(NO_PRODUCTION)
    report = measure(engine, production, settings, days=days, now=now)
    with reachable(engine), engine.begin() as conn:
        record_event(conn, EVENT_KIND, report.outcome, at=now, version=report.version,
                     details=event_details(report))
    return report
