"""``conformal check`` and ``conformal status``: production's interval coverage and its recalibration,
and the online layer's state.

The online layer (``nbalife.forecast.conformal``): every ``conformal.json`` is a layer, identified
by its content (``AdaptiveConformal.layer_id_``) and shared by the versions that keep the file
(a Dejavu update or an LSTM retrain continues production's layer and its state). Its state is a
pure function of the layer and the resolved predictions it served (arms A and B, every row
served, in the order (resolved_at, created_at, id)): ``advance_online`` (run by ``outcomes
sync``) recomputes it from the log for every layer with new outcomes and writes it to the
``conformal_state`` table, and ``forecasting.serving_state`` (run by ``predict``) reads that one row. So every
interval served can be recomputed from the log (``recheck_served``): the state folded over the
outcomes resolved by its creation time, on the outcome lattice.

The window is the latest resolved prediction per game (``latest_resolved``) of the serving arm
``A`` by the versions that serve production's conformal layer (``layer_versions``: production and
the ancestors whose ``conformal.json`` is the same file, such as the Dejavu updates since the last
recalibration), created in ``[now - days, now)``. Only rows made with production's interval
measure it. Two rules find drift, and either registers a patch version of production
whose conformal layer is refitted on absolute residuals ``|actual - forecast|``:

- ``window``: at least ``min_samples`` outcomes in the window and ``|coverage - target| >
  recalibration_threshold``; refitted on the window's residuals. After a recalibration it waits
  until the new version has ``min_samples`` outcomes of its own in the window.
- ``sequential`` (when ``cusum_threshold`` is set): a CUSUM of production's misses over all its
  outcomes in time order (``miss_cusum``, tuned to the miss rate ``1 - target +
  recalibration_threshold``) exceeds ``cusum_threshold``; refitted on the residuals since the
  CUSUM's change-point estimate, extended back to the last ``min_samples`` when there are fewer.
  It needs ``min_samples`` outcomes of production in all, not in the window: its threshold is the
  evidence. It only widens (it watches under-coverage).

So no recalibration is fitted on fewer than ``min_samples`` residuals.

The refit methods:

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
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from nbalife.config import ConformalSettings, Settings
from nbalife.errors import BadInput
from nbalife.registry import ChangeKind, Production, Registry, Status, VersionInfo
from nbalife.services.derived import register_derived, run_on_production
from nbalife.services.forecasting import stored_state
from nbalife.services.registry import active_freeze, promote, waiting_for_freeze
from nbalife.store.conformal_state import ServedRow, StateRow, read_state, served_rows, served_versions, write_state
from nbalife.store.engine import reachable
from nbalife.store.predictions import ResolvedPrediction, latest_resolved
from nbalife.window import window_length

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from nbalife.forecast.conformal import AdaptiveConformal, OnlineState

METHODS = ("split", "weighted", "aci", "online")
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
    waiting: bool = False  # an earlier check registered it; it still awaits promotion
    retired: tuple[str, ...] = ()  # earlier recalibrations that waited and are stale now


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
    trigger: str | None = None  # the rule that found drift: "window" or "sequential"
    cusum: float | None = None  # the miss CUSUM's peak over production's outcomes (None: off)
    cusum_threshold: float | None = None

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
    online: OnlineStatus | None = None


def layer_versions(registry: Registry, production: Production) -> tuple[str, ...]:
    """Production and its ancestors, newest first, while each has production's conformal layer
    (the same ``conformal.json`` checksum): the versions whose intervals measure that layer."""
    from nbalife.forecast.conformal import JSON_FILE

    def layer_sha(info: VersionInfo) -> str | None:
        return next((f.sha256 for f in info.files if f.name == JSON_FILE), None)

    registered = set(registry.versions())
    sha, versions, info = layer_sha(production.info), [production.version], production.info
    while info.parent is not None and info.parent in registered:
        info = registry.show(info.parent)
        if layer_sha(info) != sha:
            break
        versions.append(info.version)
    return tuple(versions)


def _checked_inputs(settings: Settings, days: float | None, method: str | None) -> tuple[float, str]:
    days = settings.conformal.window_days if days is None else days
    method = settings.conformal.method if method is None else method
    days = window_length(days, low_days=1)  # the one window rule: a CLI check and this agree
    if method not in METHODS:
        raise BadInput(f"--method {method!r}: expected one of {', '.join(METHODS)}")
    if method == "weighted" and settings.conformal.recency_halflife_days is None:
        raise BadInput("--method weighted needs conformal.recency_halflife_days set in the configuration")
    return float(days), method


def _covered(row: ResolvedPrediction) -> bool:
    return row.lower <= row.actual <= row.upper


def _coverage(rows: list[ResolvedPrediction]) -> tuple[float | None, float | None]:
    if not rows:
        return None, None
    covered = sum(map(_covered, rows))
    return covered / len(rows), sum(r.upper - r.lower for r in rows) / len(rows)


@dataclass(frozen=True)
class Decision:
    """Which rule found drift (None: none), the rows to refit on, and the CUSUM's peak."""

    trigger: str | None
    rows: list[ResolvedPrediction]
    cusum: float | None


def decide(window: list[ResolvedPrediction], history: list[ResolvedPrediction],
           cfg: ConformalSettings) -> Decision:
    """Apply the two drift rules (module docstring) to production's outcomes: ``window`` those in
    the check's window, ``history`` all of them; both in time order."""
    from nbalife.forecast.conformal import miss_cusum

    alpha = 1.0 - cfg.target_coverage
    peak = None
    if cfg.cusum_threshold is not None:
        peak, start = miss_cusum([not _covered(r) for r in history], alpha,
                                 alpha + cfg.recalibration_threshold)
        if peak > cfg.cusum_threshold and len(history) >= cfg.min_samples:
            start = min(start, max(0, len(history) - cfg.min_samples))
            return Decision("sequential", history[start:], peak)
    coverage, _ = _coverage(window)
    if len(window) >= cfg.min_samples and abs(coverage - cfg.target_coverage) > cfg.recalibration_threshold:
        return Decision("window", window, peak)
    return Decision(None, window, peak)


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
        history = latest_resolved(conn, until=now, version=layer_versions(registry, production),
                                  arm=SERVING_ARM)
    rows = [r for r in history if r.created_at >= since]
    coverage, width = _coverage(rows)
    decision = decide(rows, history, cfg)
    result = CheckResult(production.version, since, now, method, len(rows), coverage, width,
                         cfg.target_coverage, cfg.recalibration_threshold, cfg.min_samples, "ok", None,
                         decision.trigger, decision.cusum, cfg.cusum_threshold)
    if decision.trigger is None:
        return result if len(rows) >= cfg.min_samples else dataclasses.replace(result, outcome="too_few")
    frozen = active_freeze(settings, now) if apply else None
    waiting = _waiting_recalibration(registry, production)
    if waiting is not None and frozen:
        waiting = dataclasses.replace(waiting, refused=f"promotion waits for the live-game freeze {frozen!r}")
    elif waiting is not None and apply:  # its base is still production: promote it, mint no other
        waiting = _promote_waiting(engine, registry, settings, waiting, now=now)
    recalibration = waiting or _recalibrate(engine, registry, settings, production, decision.rows, result,
                                            now=now, apply=apply)
    return dataclasses.replace(result, outcome="drift", recalibration=recalibration)


def _waiting_recalibration(registry: Registry, production: Production) -> Recalibration | None:
    """The newest recalibration of production that an earlier check registered and nobody has
    promoted yet: a check without ``--apply``, or inside a live-game freeze, reports it instead of
    registering one more each day."""
    for row in sorted(registry.list_versions(), key=lambda r: r.created_at or dt.datetime.min, reverse=True):
        if row.status is not Status.CANDIDATE or row.kind is not ChangeKind.RECALIBRATION:
            continue
        info = registry.show(row.version)
        record = info.params.get(METADATA_KEY)
        if info.parent == production.version and isinstance(record, dict):
            return Recalibration(info.version, str(record["method"]), float(record["old_quantile"]),
                                 float(record["new_quantile"]), float(record["coverage_after"]),
                                 applied=False, waiting=True)
    return None


def _promote_waiting(engine: Engine, registry: Registry, settings: Settings, waiting: Recalibration, *,
                     now: dt.datetime) -> Recalibration:
    """Promote the recalibration an earlier check registered (its parent is production)."""
    promotion = promote(registry, engine, settings, waiting.version, now=now,
                        reason=f"conformal check --apply: the recalibration {waiting.version} waiting since "
                               "an earlier check")
    refused = promotion.failure or waiting_for_freeze(promotion)
    return dataclasses.replace(waiting, applied=refused is None, refused=refused)


def refit_layer(production_dir: Path, rows: list[ResolvedPrediction], settings: Settings, method: str,
                now: dt.datetime, radius: float | None = None) -> Any:
    """The conformal layer ``method`` makes from the rows' residuals (an AdaptiveConformal with
    the configured online rule); ``aci`` continues the layer saved in ``production_dir`` by its
    level; ``online`` keeps that layer's scores and rule and starts it from ``radius``, the radius
    production's online state serves now (a re-versioned layer starts where it stands)."""
    import numpy as np

    from nbalife.forecast.conformal import AdaptiveConformal

    cfg = settings.conformal
    labels = [f"{r.game_id} (prediction of version {r.version}, arm {r.arm}, {r.created_at:%Y-%m-%d %H:%M})"
              for r in rows]
    residuals = np.abs(np.array([r.error for r in rows], dtype=np.float64))
    if method == "aci":
        layer = AdaptiveConformal.load(production_dir)
        for residual in residuals:  # in time order: each step sees the interval at alpha_t
            layer.update(np.array([residual <= layer.quantile_]))
        return layer
    if method == "online":
        base = AdaptiveConformal.load(production_dir)
        start = base.quantile_ if radius is None else radius
        weights = base.split_.weights_  # kept: the ages that give them back
        ages = None if weights is None else -float(base.halflife) * np.log2(np.maximum(weights, 1e-300))
        return AdaptiveConformal(**{**base.get_params(), "start": float(start)}).fit(base.split_.scores_, ages)
    alpha = 1.0 - cfg.target_coverage
    rule = {"online": cfg.online, "step": cfg.online_step}
    if method == "split":
        return AdaptiveConformal(alpha=alpha, gamma=cfg.aci_gamma, **rule).fit(residuals, labels=labels)
    ages = np.array([(now - r.created_at).total_seconds() / 86400.0 for r in rows])
    return AdaptiveConformal(alpha=alpha, gamma=cfg.aci_gamma, halflife=cfg.recency_halflife_days,
                             **rule).fit(residuals, np.maximum(ages, 0.0), labels=labels)


def _recalibrate(engine: Engine, registry: Registry, settings: Settings, production: Production,
                 rows: list[ResolvedPrediction], result: CheckResult, *, now: dt.datetime,
                 apply: bool) -> Recalibration:
    """Register the recalibrated patch version; promote it when ``apply``."""
    import numpy as np

    from nbalife.forecast.conformal import AdaptiveConformal

    current = AdaptiveConformal.load(production.path)
    with reachable(engine), engine.connect() as conn:
        state = stored_state(conn, current)
    old = current.radius(state)  # the radius production's online state serves now
    layer = refit_layer(production.path, rows, settings, result.method, now, radius=old)
    residuals = np.abs(np.array([r.error for r in rows]))
    after = float((residuals <= layer.quantile_).mean())
    record = {
        "method": result.method, "old_quantile": old, "new_quantile": layer.quantile_,
        "coverage_before": result.coverage, "coverage_after": after, "target": result.target,
        "window_since": result.since.isoformat(), "window_until": result.until.isoformat(),
        "n": result.n, "alpha_t": layer.alpha_t_, "set_at": now.isoformat(),
        "trigger": result.trigger, "cusum": result.cusum, "refit_n": len(rows),
        "refit_since": rows[0].created_at.isoformat(),
    }
    coverage = "n/a" if result.coverage is None else f"{result.coverage:.3f}"
    description = (f"conformal recalibration ({result.method}, {result.trigger} rule) of "
                   f"{production.version}: quantile {old:.3f} -> {layer.quantile_:.3f}, window "
                   f"coverage {coverage} (target {result.target:g}, n={result.n}), refitted on "
                   f"{len(rows)} residuals")
    metrics = {**production.info.metrics, "coverage": after, "width": 2.0 * layer.quantile_}
    info = register_derived(registry, production, layer.save, ChangeKind.RECALIBRATION,
                            description=description, metrics=metrics,
                            params={**production.info.params, METADATA_KEY: record}, now=now)
    refused = None
    if apply:
        promotion = promote(registry, engine, settings, info.version, now=now,
                            reason=f"conformal check --apply: {description}")
        refused = promotion.failure or waiting_for_freeze(promotion)
    return Recalibration(info.version, result.method, old, layer.quantile_, after,
                         apply and refused is None, refused, retired=info.retired)


def status(engine: Engine, registry: Registry, *, now: dt.datetime) -> StatusResult:
    """Production's quantile and method, when it was set (the recalibration that made it, else
    the registration of the oldest version with this layer), and the coverage of the layer's
    serving rows since then."""
    from nbalife.forecast.conformal import AdaptiveConformal

    production = registry.load_production()
    layer = AdaptiveConformal.load(production.path)
    versions = layer_versions(registry, production)
    record = production.info.params.get(METADATA_KEY)
    if isinstance(record, dict):
        method, set_at = str(record.get("method")), dt.datetime.fromisoformat(record["set_at"])
        set_by = f"conformal check ({production.info.description})"
    else:
        halflife = layer.halflife
        method = "split (training calibration" + (f", halflife {halflife:g} d)" if halflife else ")")
        origin = registry.show(versions[-1])
        set_at, set_by = origin.created_at, f"registration of {origin.version}"
    with reachable(engine), engine.connect() as conn:
        rows = latest_resolved(conn, since=set_at, until=now, version=versions, arm=SERVING_ARM)
        online = online_status(conn, registry, production.version)
    coverage, width = _coverage(rows)
    return StatusResult(production.version, layer.quantile_, layer.alpha, layer.alpha_t_, method,
                        set_at, set_by, len(rows), coverage, width, online)


# ---------------------------------------------------------------------------------------------
# The online layer's state


@dataclass(frozen=True)
class PathPoint:
    """The layer after the outcomes resolved on one day: radius, outcomes and misses so far."""

    day: str
    radius: float
    n: int
    misses: int


@dataclass(frozen=True)
class OnlineStatus:
    """A layer's online rule, its state, the long-run bound, its path and the log re-check."""

    layer: str
    online: str
    step: float
    gamma: float
    alpha: float
    start: float
    radius: float
    n: int
    misses: int
    miss_rate: float | None
    bound: float | None
    stored: bool  # the conformal_state row exists and equals the state recomputed from the log
    path: list[PathPoint]
    checked: int  # served intervals recomputed from the log
    differing: int  # of those, how many differ from what was served


def _layers(registry: Registry, versions: list[str]) -> dict[str, tuple[AdaptiveConformal, list[str]]]:
    """The layers of ``versions`` (those still registered): id -> (layer, its versions)."""
    from nbalife.forecast.conformal import AdaptiveConformal

    registered = set(registry.versions())
    found: dict[str, tuple[AdaptiveConformal, list[str]]] = {}
    for version in sorted(set(versions) & registered):
        layer = AdaptiveConformal.load(registry.path_of(version))
        found.setdefault(layer.layer_id_, (layer, []))[1].append(version)
    return found


def fold(layer: AdaptiveConformal, rows: list[ServedRow],
         path: list[PathPoint] | None = None) -> OnlineState:
    """The layer's state after ``rows`` (resolved, in order), from its start: each outcome a miss
    when it fell outside the interval served. ``path`` collects the state after each day."""
    state = layer.start_state()
    for row in rows:
        missed = not row.lower <= row.actual <= row.upper
        state = layer.advance(state, missed, abs(row.actual - row.forecast))
        if path is not None:
            point = PathPoint(row.resolved_at.date().isoformat(), layer.radius(state), state.n, state.misses)
            if path and path[-1].day == point.day:
                path[-1] = point
            else:
                path.append(point)
    return state


def advance_online(conn: Connection, registry: Registry, *, now: dt.datetime) -> list[str]:
    """Recompute from the log, and store, the state of every layer whose served outcomes are not
    all counted in its stored row; returns the layers written. Run inside the caller's
    transaction (``outcomes sync``)."""
    counts = served_versions(conn)
    written = []
    for layer_id, (layer, versions) in _layers(registry, list(counts)).items():
        stored = read_state(conn, layer_id)
        if stored is not None and stored.n == sum(counts[v] for v in versions):
            continue
        rows = served_rows(conn, tuple(versions))
        state = fold(layer, rows)
        write_state(conn, StateRow(layer_id, versions[0], layer.radius(state), state.n, state.misses,
                                   state.to_dict(), rows[-1].resolved_at if rows else None, now))
        written.append(layer_id)
    return written


def recheck_served(layer: AdaptiveConformal, resolved: list[ServedRow], served: list[ServedRow]) -> int:
    """How many of the ``served`` intervals differ from the interval the layer's state gives,
    folded over the ``resolved`` outcomes whose resolved_at is not after each one's creation."""
    import numpy as np

    differing, state, taken = 0, layer.start_state(), 0
    for row in served:
        while taken < len(resolved) and resolved[taken].resolved_at <= row.created_at:
            done = resolved[taken]
            state = layer.advance(state, not done.lower <= done.actual <= done.upper,
                                  abs(done.actual - done.forecast))
            taken += 1
        lower, upper = layer.interval(np.array([row.forecast]), state if state.n else None)
        if not (np.isclose(lower[0], row.lower) and np.isclose(upper[0], row.upper)):
            differing += 1
    return differing


def online_status(conn: Connection, registry: Registry, version: str) -> OnlineStatus:
    """The online state of ``version``'s layer: recomputed from the log, compared with its stored
    row, with its path by day, the bound, and every served interval re-checked."""
    from nbalife.forecast.conformal import AdaptiveConformal

    layer = AdaptiveConformal.load(registry.path_of(version))
    members = _layers(registry, [*served_versions(conn), version]).get(layer.layer_id_, (layer, [version]))[1]
    resolved = served_rows(conn, tuple(members))
    path: list[PathPoint] = []
    state = fold(layer, resolved, path)
    stored = read_state(conn, layer.layer_id_)
    same = stored is not None and stored.state == state.to_dict() if state.n else stored is None or stored.n == 0
    served = served_rows(conn, tuple(members), resolved=False)
    return OnlineStatus(layer.layer_id_, layer.online, float(layer.step), float(layer.gamma), float(layer.alpha),
                        float(layer.quantile_), layer.radius(state), state.n, state.misses,
                        state.misses / state.n if state.n else None, layer.bound(state), same, path,
                        len(served), recheck_served(layer, resolved, served))
