"""The Prometheus textfile (node_exporter's textfile collector), written with prometheus_client."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class JobStatus:
    """What the cron wrapper recorded of a job's last run."""

    job: str
    exit_code: int | None
    exit_time: float | None
    success_time: float | None


@dataclass(frozen=True)
class Exposition:
    """Everything the textfile publishes."""

    windows: dict[str, Any]  # window label ("1d", "7d") -> nbalife.services.metrics.MetricsRow
    production: str | None
    jobs: list[JobStatus]
    abtest_active: bool
    abtest_stage_share: float | None  # B's traffic share at the current stage, 0..1
    drift: dict[str, dict[str, float]]  # feature -> {"psi": ..., "ks_pvalue": ...}


FIGURES = {  # metric name -> (MetricsRow field, help)
    "nbalife_mae": ("mae", "Mean absolute error of the resolved predictions production served (points)"),
    "nbalife_rmse": ("rmse", "Root mean squared error of resolved predictions (points)"),
    "nbalife_coverage": ("coverage", "Share of resolved predictions inside their interval"),
    "nbalife_interval_width": ("mean_width", "Mean interval width (points)"),
    "nbalife_persistence_mae": ("persistence_mae", "MAE of persistence (d18) on the same games"),
    "nbalife_predictions_resolved": ("n", "Resolved predictions counted (arms A and B: what production served)"),
}


def write_textfile(path: Path, exposition: Exposition) -> Path:
    """Write ``exposition`` to ``path`` atomically (prometheus_client writes a temporary file
    beside it and renames it into place)."""
    from prometheus_client import CollectorRegistry, Gauge, Info, write_to_textfile

    registry = CollectorRegistry()
    for name, (field, help_text) in FIGURES.items():
        gauge = Gauge(name, help_text, ["window"], registry=registry)
        for label, row in exposition.windows.items():
            value = getattr(row, field)
            if value is not None:
                gauge.labels(window=label).set(value)
    Info("nbalife_production", "The model set serving in production", registry=registry).info(
        {"version": exposition.production or "none"})
    exit_code = Gauge("nbalife_job_last_exit_code", "Exit code of the job's last run", ["task"], registry=registry)
    exit_time = Gauge("nbalife_job_last_run_timestamp_seconds", "When the job last ran", ["task"], registry=registry)
    success = Gauge("nbalife_job_last_success_timestamp_seconds",
                    "When the job last completed (exit 0, or 1 for a finding)", ["task"], registry=registry)
    for job in exposition.jobs:
        if job.exit_code is not None:
            exit_code.labels(task=job.job).set(job.exit_code)
            exit_time.labels(task=job.job).set(job.exit_time or 0)
        if job.success_time is not None:
            success.labels(task=job.job).set(job.success_time)
    Gauge("nbalife_abtest_active", "1 while an A/B test runs", registry=registry).set(int(exposition.abtest_active))
    Gauge("nbalife_abtest_stage_share", "The candidate's traffic share at the current stage (0..1)",
          registry=registry).set(exposition.abtest_stage_share or 0.0)
    psi = Gauge("nbalife_drift_psi", "Population stability index of the last drift check", ["feature"],
                registry=registry)
    ks = Gauge("nbalife_drift_ks_pvalue", "Kolmogorov-Smirnov p-value of the last drift check", ["feature"],
               registry=registry)
    for feature, figures in exposition.drift.items():
        if figures.get("psi") is not None:
            psi.labels(feature=feature).set(figures["psi"])
        if figures.get("ks_pvalue") is not None:
            ks.labels(feature=feature).set(figures["ks_pvalue"])
    write_to_textfile(str(path), registry)
    return path
