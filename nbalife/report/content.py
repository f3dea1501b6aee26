"""What one report page shows: the service fills it from the store, ``page`` renders it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from nbalife.abtest.analysis import ArmSummary
    from nbalife.abtest.decision import Decision
    from nbalife.report.series import CalibrationPoint, Daily
    from nbalife.services.abtest import SequentialPath
    from nbalife.services.faults import FalseAlarm, FaultRow
    from nbalife.services.metrics import MetricsRow
    from nbalife.store.abtests import AbTest

# Marker kinds on the version timeline, in legend order, with their colours.
MARKER_COLOURS = {"promotion": "#2a7b2a", "recalibration": "#d08000", "retrain": "#6a3d9a",
                  "update": "#1f78b4", "rollback": "#c0262d"}
PRODUCTION_CHANGES = ("promotion", "rollback")  # the markers where the serving version changed


@dataclass(frozen=True)
class Marker:
    """One change of the serving model set (or an attempt at one) on the version timeline."""

    at: dt.datetime
    kind: str  # a key of MARKER_COLOURS
    version: str | None
    label: str

    @property
    def changed_production(self) -> bool:
        return self.kind in PRODUCTION_CHANGES


@dataclass(frozen=True)
class Finding:
    """The last run of one check up to the end of the window, in one line."""

    kind: str
    at: dt.datetime
    outcome: str
    version: str | None
    summary: str


@dataclass(frozen=True)
class Alert:
    """One check of the window that alerted (metrics), or found coverage or input drift."""

    at: dt.datetime
    kind: str
    outcome: str
    version: str | None
    causes: tuple[str, ...]
    summary: str


@dataclass(frozen=True)
class ArmSeries:
    """One arm's counted predictions of the window (``report --by arm``): totals and daily series."""

    arm: str
    total: MetricsRow
    daily: Daily


@dataclass(frozen=True)
class AbSection:
    """One A/B test of the window: per-arm figures, its decision (now, or when it ended), the
    sequential path."""

    test: AbTest
    arms: tuple[ArmSummary, ...]
    decision: Decision
    path: SequentialPath
    p_value: float  # the level the always-valid p-values are compared with


@dataclass(frozen=True)
class Residuals:
    """Errors ``actual - forecast`` of the model and ``actual - d18`` of persistence."""

    model: np.ndarray
    persistence: np.ndarray


@dataclass(frozen=True)
class Calibration:
    """Empirical against nominal coverage, and the predictions it could not use (their version's
    conformal layer was not in the registry)."""

    points: list[CalibrationPoint]
    skipped: int
    skipped_versions: list[str]


@dataclass(frozen=True)
class Baseline:
    """Another forecaster of the same games drawn beside the served one (a replay's "do nothing":
    the first model untouched), with its totals."""

    label: str
    daily: Daily
    mae: float
    coverage: float
    width: float


@dataclass(frozen=True)
class ReportContent:
    """Everything on the page; the series are None when the window holds no resolved prediction."""

    title: str
    now: dt.datetime
    since: dt.datetime | None  # open-ended windows: the first prediction (None when there is none)
    until: dt.datetime
    production: str | None
    arm: str
    total: MetricsRow
    target: float
    band: float  # the conformal check recalibrates outside target ± band
    coverage_alert: float
    findings: list[Finding]
    markers: list[Marker]
    daily: Daily | None
    calibration: Calibration | None
    residuals: Residuals | None
    segments: list[MetricsRow]
    abtests: list[AbSection]  # every test that ran in the window, oldest first
    zone: str  # the league's time zone (league.timezone): days and times on the page are in it
    label: str = "model"  # what the served series are called
    baseline: Baseline | None = None
    alerts: list[Alert] = field(default_factory=list)
    arms: list[ArmSeries] | None = None  # with ``report --by arm``
    # A replay's page (``replay --report``): one row per --fault, or without faults every guardrail
    # alert (each one false). Both None: no faults section (``nbalife report``).
    faults: list[FaultRow] | None = None
    false_alarms: list[FalseAlarm] | None = None
