"""The registry as operators use it: each operation one call, wired to the store's lock and
lifecycle events (whose kinds are the journal's actions: register, promote, rollback, gc,
recover)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from nbalife.config import Settings
from nbalife.errors import BadInput, CheckFailed, unreadable
from nbalife.locks import run_lock
from nbalife.registry import (
    GateResult,
    GcResult,
    Registry,
    RegistryEvent,
    Switch,
    VersionInfo,
    Verdict,
    VersionRow,
    VerifyReport,
)
from nbalife.store.abtests import active_versions
from nbalife.store.engine import reachable
from nbalife.store.events import event_keys, production_switches, record_event
from nbalife.store.times import to_db_time

GATED_METRICS = ("mae", "coverage")
JOURNAL_KINDS = frozenset({"register", "promote", "rollback", "gc", "recover"})


def open_registry(home: Path, engine: Engine, settings: Settings, *, lock_wait_s: float | None = None,
                  fault_delay_s: float = 0.0) -> Registry:
    """A Registry whose mutations take the run lock and are written to the lifecycle log, and
    whose recovery gives every journal line its event (``fault_delay_s``: crash tests only)."""
    wait = settings.registry.lock_wait_s if lock_wait_s is None else lock_wait_s

    def on_event(event: RegistryEvent) -> None:
        with reachable(engine), engine.begin() as conn:
            _record(conn, event, "ok")

    def reconcile(journal: list[tuple[RegistryEvent, str]]) -> None:
        with reachable(engine), engine.begin() as conn:
            recorded = event_keys(conn, JOURNAL_KINDS)
            for event, outcome in journal:
                if (event.action, to_db_time(event.time), event.to_version) not in recorded:
                    _record(conn, event, outcome, backfilled=True)

    return Registry(home, lock=lambda: run_lock("registry", home=home, engine=engine, wait_s=wait),
                    on_event=on_event, reconcile=reconcile, fault_delay_s=fault_delay_s)


def _record(conn: Connection, event: RegistryEvent, outcome: str, *, backfilled: bool = False) -> None:
    """The lifecycle event of one journal line: same kind, time and version (its key)."""
    details = {"from": event.from_version, "to": event.to_version, "reason": event.reason, **event.details,
               **({"backfilled": True} if backfilled else {})}
    record_event(conn, event.action, outcome, at=event.time, version=event.to_version, details=details)


def register(
    registry: Registry,
    from_dir: Path,
    *,
    kind: str,
    base: str | None = None,
    version: str | None = None,
    description: str = "",
    metrics_file: Path | None = None,
) -> VersionInfo:
    """Register the files in ``from_dir`` as a version derived from ``base`` (default:
    production), with the metrics of ``metrics_file``."""
    return registry.register(from_dir, kind, base=base, metrics=read_metrics(metrics_file),
                             description=description, version=version)


def read_metrics(path: Path | None) -> dict[str, Any]:
    """A JSON object of metrics from ``--metrics FILE``."""
    if path is None:
        return {}
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise BadInput(f"{path}: no such metrics file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise unreadable(path, "metrics file", exc) from None
    except json.JSONDecodeError as exc:
        raise BadInput(f"{path}: invalid JSON: {exc}") from None
    except (ValueError, RecursionError):  # a number past Python's int-str limit; nesting too deep
        raise BadInput(f"{path}: invalid JSON: a number too long or nesting too deep") from None
    if not isinstance(data, dict):
        raise BadInput(f"{path}: expected a JSON object of metrics")
    for key in GATED_METRICS:
        value = data.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise BadInput(f"{path}: metric {key} = {value!r} is not a number (the promotion gate reads it)")
    return data


@dataclass(frozen=True)
class Promotion:
    """The gate's verdict and, unless it refused, the switch; ``failure`` is set on refusal;
    ``frozen`` names the live-game freeze window that made the promotion wait (no gate ran)."""

    gate: GateResult | None
    switch: Switch | None
    failure: str | None
    frozen: str | None = None


def waiting_for_freeze(promotion: Promotion) -> str | None:
    """Why a promotion did not happen when a live-game freeze made it wait, else None."""
    return f"promotion waits for the live-game freeze {promotion.frozen!r}" if promotion.frozen else None


def active_freeze(settings: Settings, now: dt.datetime) -> str | None:
    """The configured freeze (``registry.freeze``) when ``now`` falls inside one of its windows."""
    from nbalife.ops.freeze import parse_freeze

    text = settings.registry.freeze
    return text if text and parse_freeze(text).active(now) else None


def promote(
    registry: Registry,
    engine: Engine,
    settings: Settings,
    version: str,
    *,
    now: dt.datetime,
    force: bool = False,
    reason: str = "",
    override_freeze: bool = False,
) -> Promotion:
    """Make ``version`` production if it loads as a model set and passes the gate against
    production (services.gate); ``force`` overrides the gate, never the load. A refusal is
    recorded as a ``promote`` event with outcome ``refused`` and returned, not raised.

    Inside the live-game freeze the promotion waits (event outcome ``frozen``) unless
    ``override_freeze``; with no production yet nothing is serving, so nothing waits."""
    from nbalife.services import gate
    from nbalife.services.model_loading import load_model_set

    frozen = None if override_freeze or registry.current_version() is None else active_freeze(settings, now)
    if frozen:
        with reachable(engine), engine.begin() as conn:
            record_event(conn, "promote", "frozen", at=now, version=version,
                         details={"reason": reason, "freeze": frozen})
        return Promotion(None, None, None, frozen)

    verdicts: list[GateResult] = []

    def check(candidate: VersionInfo, production: VersionInfo | None) -> Verdict:
        loaded = load_model_set(registry, candidate.version)
        verdicts.append(gate.judge(settings, engine, registry, candidate, loaded, production, now=now))
        return Verdict(verdicts[-1].reasons, {"gate": asdict(verdicts[-1])})

    try:
        switch = registry.promote(version, gate=check, force=force, reason=reason, at=now)
    except CheckFailed as exc:
        if not verdicts or verdicts[-1].passed:
            raise
        with reachable(engine), engine.begin() as conn:
            record_event(conn, "promote", "refused", at=now, version=version,
                         details={"reason": reason, "gate": asdict(verdicts[-1])})
        return Promotion(verdicts[-1], None, str(exc))
    return Promotion(verdicts[-1], switch, None)


def rollback(registry: Registry, version: str | None, *, now: dt.datetime, reason: str = "") -> Switch:
    """Production back to ``version`` (default: the previous production) once it loads, at ``now``."""
    from nbalife.services.model_loading import load_model_set

    def loads(target: VersionInfo, _production: VersionInfo | None) -> Verdict:
        load_model_set(registry, target.version)
        return Verdict()

    return registry.rollback(version, reason=reason, check=loads, at=now)


def collect_garbage(registry: Registry, engine: Engine, settings: Settings, keep: int | None) -> GcResult:
    """Delete all but the newest ``keep`` (default: ``registry.keep_versions``) versions, never
    production, the previous one, or one under an active A/B test."""
    return registry.gc(settings.registry.keep_versions if keep is None else keep, protected=ab_protected(engine))


def list_versions(registry: Registry, engine: Engine) -> list[VersionRow]:
    """Every version with its status (A/B tests from the store)."""
    return registry.list_versions(ab_versions=ab_protected(engine))


def ab_protected(engine: Engine) -> set[str]:
    """Versions under an active A/B test."""
    with reachable(engine), engine.connect() as conn:
        return active_versions(conn)


@dataclass(frozen=True)
class VerifyResult:
    """Every version checked; ``ok`` only if all are intact, else ``failure`` names each problem."""

    ok: bool
    reports: list[VerifyReport]
    failure: str | None


def verify(registry: Registry, version: str | None, *, all_versions: bool = False) -> VerifyResult:
    """Recompute checksums of ``version`` (default: production) or, with ``all_versions``, every
    one. A production pointer that is broken (not a symlink, or naming a missing folder) is a
    problem found, as a bad checksum is; an unknown ``version`` is BadInput."""
    pointer_problem = None
    if version is None:
        try:
            version = registry.current_version()
        except BadInput as exc:
            pointer_problem = f"production pointer: {exc}"
        if version is None and pointer_problem is None and not all_versions:
            raise BadInput("no production version: name one or use --all")
    if all_versions:
        reports = registry.verify_all()
    else:
        reports = [registry.verify(version)] if version is not None else []
    problems = [pointer_problem] if pointer_problem else []
    problems += [f"{r.version}/{p.name}: {p.describe()}" for r in reports for p in r.problems]
    failure = f"registry verification failed: {'; '.join(problems)}" if problems else None
    return VerifyResult(not problems, reports, failure)


@dataclass(frozen=True)
class Serving:
    """One period of production: ``version`` served from ``since`` until ``until`` (None: now),
    put there by ``action`` (promote or rollback) from ``from_version``."""

    version: str
    since: dt.datetime
    until: dt.datetime | None
    action: str
    from_version: str | None
    reason: str
    user: str
    host: str


def serving_history(engine: Engine) -> list[Serving]:
    """Which version served when, from the lifecycle events, oldest first."""
    with reachable(engine), engine.connect() as conn:
        switches = production_switches(conn)
    ends = [e.at for e in switches[1:]] + [None]
    return [Serving(e.version or "", e.at, end, e.kind, e.details.get("from"), e.details.get("reason", ""),
                    e.user, e.host) for e, end in zip(switches, ends)]
