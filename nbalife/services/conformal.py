"""``conformal check`` and ``conformal status``: production's interval coverage and its recalibration.

The window is the latest resolved prediction per game (``latest_resolved``) of the serving arm
``A`` by the production version, created in ``[now - days, now)``. Only production's own rows
measure its interval, so after a recalibration the check waits until the new version has
``min_samples`` outcomes of its own. With enough of them and ``|coverage - target| >
recalibration_threshold`` the check registers a patch version of production whose conformal
layer is refitted on the window's absolute residuals ``|actual - forecast|``:

- ``split``: the finite-sample quantile ``ceil((n + 1)(1 - alpha))``-th smallest residual;
- ``weighted``: the same with recency weights ``0.5 ** (age / recency_halflife_days)``;
- ``aci``: production's layer continued by adaptive conformal inference over the window's
  outcomes in time order, ``alpha_t+1 = alpha_t + gamma (alpha - err_t)``, where ``err_t`` says
  whether residual ``t`` exceeded the interval at ``alpha_t``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from nbalife.config import Settings
from nbalife.errors import BadInput
from nbalife.registry import ChangeKind, Production, Registry
from nbalife.services.derived import register_derived, run_on_production
from nbalife.services.registry import promote, waiting_for_freeze
from nbalife.store.engine import reachable
from nbalife.store.predictions import ResolvedPrediction, latest_resolved

METHODS = ("split", "weighted", "aci")
SERVING_ARM = "A"
EVENT_KIND = "conformal_check"
LOCK = "conformal"
METADATA_KEY = "recalibration"


@dataclass(frozen=True)
class Recalibration:
    """The patch version a check registered, and whether it became production."""

    version: str
    method: str
    old_quantile: float
    new_quantile: float
    coverage_after: float  # of the new interval on the window it was fitted on (in sample)
    applied: bool
    refused: str | None = None  # why the promotion gate kept it from production


@dataclass(frozen=True)
class CheckResult:
    """Coverage of production's intervals over the window, and what the check did about it.

    ``outcome``: ``ok``, ``too_few`` (fewer than ``min_samples`` outcomes) or ``drift``.
    """

    production: str
    since: dt.datetime
    until: dt.datetime
    method: str
    n: int
    coverage: float | None
    width: float | None
    target: float
    threshold: float
    min_samples: int
    outcome: str
    recalibration: Recalibration | None

    @property
    def drift(self) -> bool:
        return self.outcome == "drift"


@dataclass(frozen=True)
class StatusResult:
    """Production's conformal layer: its quantile, how and when it was set, coverage since."""

    version: str
    quantile: float
    alpha: float
    alpha_t: float
    method: str
    set_at: dt.datetime
    set_by: str
    n_since: int
    coverage_since: float | None
    width_since: float | None


def _checked_inputs(settings: Settings, days: float | None, method: str | None) -> tuple[float, str]:
    days = settings.conformal.window_days if days is None else days
    method = settings.conformal.method if method is None else method
    if isinstance(days, bool) or not isinstance(days, (int, float)) or not days > 0:
        raise BadInput(f"--days {days!r}: must be a number of days > 0")
    if method not in METHODS:
        raise BadInput(f"--method {method!r}: expected one of {', '.join(METHODS)}")
    if method == "weighted" and settings.conformal.recency_halflife_days is None:
        raise BadInput("--method weighted needs conformal.recency_halflife_days set in the configuration")
    return float(days), method


def _coverage(rows: list[ResolvedPrediction]) -> tuple[float | None, float | None]:
    if not rows:
        return None, None
    covered = sum(r.lower <= r.actual <= r.upper for r in rows)
    return covered / len(rows), sum(r.upper - r.lower for r in rows) / len(rows)


def check(engine: Engine, registry: Registry, settings: Settings, *, now: dt.datetime,
          days: float | None = None, method: str | None = None, apply: bool = False) -> CheckResult:
    """Measure the window's coverage; on drift register (and with ``apply`` or
    ``conformal.auto_apply`` promote) a recalibrated patch version. Takes the ``conformal`` run
    lock and records one ``conformal_check`` event, also when it fails half-way."""
    days, method = _checked_inputs(settings, days, method)
    apply = apply or settings.conformal.auto_apply
    inputs: dict[str, Any] = {"days": days, "method": method, "apply": apply}
    return run_on_production(
        engine, registry, lock=LOCK, kind=EVENT_KIND, inputs=inputs, now=now,
        job=lambda: _check(engine, registry, settings, now=now, days=days, method=method, apply=apply),
        outcome=lambda result: (result.outcome, result.production, {
            k: v for k, v in dataclasses.asdict(result).items() if k not in ("production", "method")}))


def _check(engine: Engine, registry: Registry, settings: Settings, *, now: dt.datetime, days: float,
           method: str, apply: bool) -> CheckResult:
    cfg = settings.conformal
    production = registry.load_production()
    since = now - dt.timedelta(days=days)
    with reachable(engine), engine.connect() as conn:
        rows = latest_resolved(conn, since=since, until=now, version=production.version, arm=SERVING_ARM)
    coverage, width = _coverage(rows)
    result = CheckResult(production.version, since, now, method, len(rows), coverage, width,
                         cfg.target_coverage, cfg.recalibration_threshold, cfg.min_samples, "ok", None)
    if len(rows) < cfg.min_samples:
        return dataclasses.replace(result, outcome="too_few")
    if abs(coverage - cfg.target_coverage) <= cfg.recalibration_threshold:
        return result
    recalibration = _recalibrate(engine, registry, settings, production, rows, result, now=now,
                                 apply=apply)
    return dataclasses.replace(result, outcome="drift", recalibration=recalibration)


def refit_layer(production_dir: Path, rows: list[ResolvedPrediction], settings: Settings, method: str,
                now: dt.datetime) -> Any:
    """The conformal layer ``method`` makes from the window's residuals (an AdaptiveConformal)."""
    import numpy as np

    from nbalife.forecast.conformal import AdaptiveConformal

    cfg = settings.conformal
    residuals = np.abs(np.array([r.error for r in rows], dtype=np.float64))
    if method == "aci":
        layer = AdaptiveConformal.load(production_dir)
        for residual in residuals:  # in time order: each step sees the interval at alpha_t
            layer.update(np.array([residual <= layer.quantile_]))
        return layer
    alpha = 1.0 - cfg.target_coverage
    if method == "split":
        return AdaptiveConformal(alpha=alpha, gamma=cfg.aci_gamma).fit(residuals)
    ages = np.array([(now - r.created_at).total_seconds() / 86400.0 for r in rows])
    return AdaptiveConformal(alpha=alpha, gamma=cfg.aci_gamma,
                             halflife=cfg.recency_halflife_days).fit(residuals, np.maximum(ages, 0.0))


def _recalibrate(engine: Engine, registry: Registry, settings: Settings, production: Production,
                 rows: list[ResolvedPrediction], result: CheckResult, *, now: dt.datetime,
                 apply: bool) -> Recalibration:
    """Register the recalibrated patch version; promote it when ``apply``."""
    import numpy as np

    from nbalife.forecast.conformal import AdaptiveConformal

    old = AdaptiveConformal.load(production.path).quantile_
    layer = refit_layer(production.path, rows, settings, result.method, now)
    residuals = np.abs(np.array([r.error for r in rows]))
    after = float((residuals <= layer.quantile_).mean())
    record = {
        "method": result.method, "old_quantile": old, "new_quantile": layer.quantile_,
        "coverage_before": result.coverage, "coverage_after": after, "target": result.target,
        "window_since": result.since.isoformat(), "window_until": result.until.isoformat(),
        "n": result.n, "alpha_t": layer.alpha_t_, "set_at": now.isoformat(),
    }
    description = (f"conformal recalibration ({result.method}) of {production.version}: quantile "
                   f"{old:.3f} -> {layer.quantile_:.3f}, window coverage {result.coverage:.3f} "
                   f"(target {result.target:g}, n={result.n})")
    metrics = {**production.info.metrics, "coverage": after, "width": 2.0 * layer.quantile_}
    info = register_derived(registry, production, layer.save, ChangeKind.RECALIBRATION,
                            description=description, metrics=metrics,
                            params={**production.info.params, METADATA_KEY: record})
    refused = None
    if apply:
        promotion = promote(registry, engine, settings, info.version, now=now,
                            reason=f"conformal check --apply: {description}")
        refused = promotion.failure or waiting_for_freeze(promotion)
    return Recalibration(info.version, result.method, old, layer.quantile_, after,
                         apply and refused is None, refused)


def status(engine: Engine, registry: Registry, *, now: dt.datetime) -> StatusResult:
    """Production's quantile and method, when it was set (the recalibration that made it, else
    the version's registration), and the coverage of its serving rows since then."""
    from nbalife.forecast.conformal import AdaptiveConformal

    production = registry.load_production()
    layer = AdaptiveConformal.load(production.path)
    record = production.info.params.get(METADATA_KEY)
    if isinstance(record, dict):
        method, set_at = str(record.get("method")), dt.datetime.fromisoformat(record["set_at"])
        set_by = f"conformal check ({production.info.description})"
    else:
        halflife = layer.halflife
        method = "split (training calibration" + (f", halflife {halflife:g} d)" if halflife else ")")
        set_at, set_by = production.info.created_at, f"registration of {production.version}"
    with reachable(engine), engine.connect() as conn:
        rows = latest_resolved(conn, since=set_at, until=now, version=production.version,
                               arm=SERVING_ARM)
    coverage, width = _coverage(rows)
    return StatusResult(production.version, layer.quantile_, layer.alpha, layer.alpha_t_, method,
                        set_at, set_by, len(rows), coverage, width)
