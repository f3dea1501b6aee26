"""The registry as operators use it: each operation one call on the store-backed Registry, with
the promotion gate, the live-game freeze (which defers a promotion, never drops it) and the
retention rules gc follows."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from nbalife.config import Settings
from nbalife.errors import BadInput, CheckFailed, LockHeld, unreadable
from nbalife.registry import (
    GateResult,
    GcResult,
    Pending,
    Registry,
    Switch,
    VersionInfo,
    Verdict,
    VersionRow,
    VerifyReport,
)
from nbalife.registry import rows as registry_rows
from nbalife.store.abtests import active_versions
from nbalife.store.engine import reachable

GATED_METRICS = ("mae", "coverage")
ADVANCE = "abtest_advance"  # a deferred A/B advance (services.abtest), beside deferred promotions


def open_registry(home: Path, engine: Engine, settings: Settings, *, lock_wait_s: float | None = None,
                  fault_delay_s: float = 0.0, now: dt.datetime | None = None,
                  carry_pending: bool = True) -> Registry:
    """The Registry of ``home`` on the store behind ``engine``, whose mutations wait at most
    ``lock_wait_s`` (default ``registry.lock_wait_s``) for another one. Unless ``carry_pending``
    is False, a promotion the freeze deferred is carried out first (re-gated) once the freeze is
    over: every command that touches the registry does it (one cheap query when none waits)."""
    wait = settings.registry.lock_wait_s if lock_wait_s is None else lock_wait_s
    registry = Registry(home, engine, fault_delay_s=fault_delay_s, lock_wait_s=wait)
    if carry_pending and registry.any_pending():
        carry_out_pending(registry, engine, settings, now=now or dt.datetime.now(dt.timezone.utc))
    return registry


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
    ``frozen`` names the live-game freeze that deferred the promotion, recorded as ``pending``
    (no gate ran: it runs when the promotion is carried out), its windows read in ``zone``."""

    gate: GateResult | None
    switch: Switch | None
    failure: str | None
    frozen: str | None = None
    pending: Pending | None = None
    zone: str | None = None

    @property
    def deferred(self) -> str | None:
        """"deferred until HH:MM America/New_York (pending #N)", or None."""
        return None if self.pending is None else deferred_line(self.pending, self.zone or "UTC")


def deferred_line(pending: Pending, zone: str) -> str:
    """How a deferred change is announced, in the freeze's time zone (``freeze_zone``)."""
    from zoneinfo import ZoneInfo

    until = pending.not_before.astimezone(ZoneInfo(zone)).strftime("%H:%M")
    return f"deferred until {until} {zone} (pending #{pending.id})"


def freeze_zone(settings: Settings) -> str:
    """The zone the freeze's windows are read in: one written in ``registry.freeze``, else the
    league's (``league.timezone``)."""
    from nbalife.ops.freeze import parse_freeze

    text = settings.registry.freeze
    return parse_freeze(text, settings.league.timezone).zone if text else settings.league.timezone


def waiting_for_freeze(promotion: Promotion) -> str | None:
    """Why a promotion did not happen yet when the live-game freeze deferred it, else None."""
    if promotion.pending is None:
        return None
    return f"promotion of {promotion.pending.version} waits for the live-game freeze: {promotion.deferred}"


def active_freeze(settings: Settings, now: dt.datetime) -> str | None:
    """The configured freeze (``registry.freeze``) when ``now`` falls inside one of its windows."""
    from nbalife.ops.freeze import parse_freeze

    text = settings.registry.freeze
    return text if text and parse_freeze(text, settings.league.timezone).active(now) else None


def freeze_end(settings: Settings, now: dt.datetime) -> dt.datetime:
    """When the freeze active at ``now`` ends (the first minute after it that is outside every window)."""
    from zoneinfo import ZoneInfo

    from nbalife.ops.freeze import parse_freeze

    freeze = parse_freeze(settings.registry.freeze or "", settings.league.timezone)
    zone = ZoneInfo(freeze.zone)
    local = now.astimezone(zone)
    moment = local
    for _ in range(3):  # windows may chain: step to each end in turn
        ends = []
        for start, end in freeze.windows:
            candidate = dt.datetime.combine(moment.date(), end, tzinfo=zone)
            while candidate <= moment:
                candidate += dt.timedelta(days=1)
            ends.append(candidate)
        moment = min(ends)
        if not freeze.active(moment.astimezone(dt.timezone.utc)):
            break
    return moment.astimezone(dt.timezone.utc)


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
    pending_id: int | None = None,
) -> Promotion:
    """Make ``version`` production if it descends from production (fast-forward; the Registry
    refuses otherwise, naming what it would drop), loads as a model set and passes the gate
    against production (services.gate); ``force`` overrides the fast-forward rule and the gate,
    never the load. A gate refusal is recorded as a ``promote`` event with outcome ``refused``
    and returned, not raised.

    Inside the live-game freeze the promotion is recorded as pending (``promote`` event,
    outcome ``deferred``) unless ``override_freeze``; with no production yet nothing is serving,
    so nothing waits. The first command after the freeze carries it out, re-gated."""
    from nbalife.services import gate
    from nbalife.services.model_loading import load_model_set

    frozen = None if override_freeze or registry.current_version() is None else active_freeze(settings, now)
    if frozen:
        entry = registry.defer(version, not_before=freeze_end(settings, now), reason=reason, force=force, at=now)
        return Promotion(None, None, None, frozen, entry, freeze_zone(settings))

    verdicts: list[GateResult] = []

    def check(candidate: VersionInfo, production: VersionInfo | None) -> Verdict:
        loaded = load_model_set(registry, candidate.version)
        verdicts.append(gate.judge(settings, engine, registry, candidate, loaded, production, now=now))
        return Verdict(verdicts[-1].reasons, {"gate": asdict(verdicts[-1])})

    action = "auto" if pending_id is not None else "promote"
    try:
        switch = registry.promote(version, gate=check, force=force, reason=reason, at=now, action=action,
                                  pending_id=pending_id)
    except CheckFailed as exc:
        if not verdicts or verdicts[-1].passed:
            raise
        from nbalife.store.events import record_event

        with reachable(engine), engine.begin() as conn:
            record_event(conn, "promote", "refused", at=now, version=version,
                         details={"reason": reason, "gate": asdict(verdicts[-1])})
        return Promotion(verdicts[-1], None, str(exc))
    return Promotion(verdicts[-1], switch, None)


@dataclass(frozen=True)
class CarriedOut:
    """A deferred promotion or A/B advance that was due: what became of it (``promoted``: it was
    carried out; else ``outcome`` is the refusal, or the A/B rollback the advance made instead)."""

    pending: Pending
    promoted: bool
    outcome: str


def carry_out_pending(registry: Registry, engine: Engine, settings: Settings, *, now: dt.datetime,
                      advance: Callable[[Pending], tuple[bool, str]] | None = None) -> list[CarriedOut]:
    """Carry out, re-gated, every promotion the freeze deferred, oldest first, once no freeze is
    active at ``now``; one that is refused is closed as ``refused`` with the reason. A deferred A/B
    advance is carried out by ``advance`` (the A/B service's step, judged again on today's evidence:
    ``services.abtest.carry_out_deferred`` passes it); without it, it waits for the A/B job."""
    if active_freeze(settings, now):
        return []
    done = []
    for entry in registry.pending():
        if entry.action == ADVANCE:
            if advance is None:
                continue
            try:
                stands, outcome = advance(entry)
            except LockHeld:
                continue  # an advance runs elsewhere right now: the entry waits for the next command
            done.append(CarriedOut(entry, stands, outcome))
            continue
        try:
            result = promote(registry, engine, settings, entry.version, now=now, force=entry.force,
                             reason=f"pending #{entry.id}: {entry.reason}".rstrip(": "), override_freeze=True,
                             pending_id=entry.id)
        except BadInput as exc:
            if "no longer waiting" in str(exc):
                continue  # another host carried it out first
            done.append(CarriedOut(entry, False, _close(registry, entry, str(exc), now)))
            continue
        except CheckFailed as exc:
            done.append(CarriedOut(entry, False, _close(registry, entry, str(exc), now)))
            continue
        if result.failure:
            done.append(CarriedOut(entry, False, _close(registry, entry, result.failure, now)))
        else:
            done.append(CarriedOut(entry, True, f"promoted {entry.version}"))
    return done


def _close(registry: Registry, entry: Pending, why: str, now: dt.datetime) -> str:
    try:
        registry.settle(entry.id, "refused", why, at=now)
    except BadInput:
        pass  # settled meanwhile by another host
    return why


def cancel(registry: Registry, number: int, *, now: dt.datetime) -> Pending:
    """Drop the deferred promotion or A/B advance ``number`` (its ``promote`` or
    ``abtest_advance`` event, outcome ``cancelled``)."""
    kind = next((p.action for p in registry.pending() if p.id == number), "promote")
    return registry.settle(number, "cancelled", "cancelled by the operator", at=now, kind=kind)


def rollback(registry: Registry, version: str | None, *, now: dt.datetime, reason: str = "") -> Switch:
    """Production back to ``version`` (default: the previous production), a version that served
    before, once it loads, at ``now``. Allowed during the freeze."""
    from nbalife.services.model_loading import load_model_set

    def loads(target: VersionInfo, _production: VersionInfo | None) -> Verdict:
        load_model_set(registry, target.version)
        return Verdict()

    return registry.rollback(version, reason=reason, check=loads, at=now)


def collect_garbage(registry: Registry, engine: Engine, settings: Settings, keep: int | None, *,
                    now: dt.datetime | None = None) -> GcResult:
    """Delete all but the newest ``keep`` (default: ``registry.keep_versions``) versions; never
    production, the previous one, an A/B version, an ancestor whose layer production serves, or
    a version with predictions in the last ``registry.keep_predicted_days`` days."""
    now = now or dt.datetime.now(dt.timezone.utc)
    since = now - dt.timedelta(days=settings.registry.keep_predicted_days)
    return registry.gc(settings.registry.keep_versions if keep is None else keep, protected=ab_protected(engine),
                       predicted_since=since, at=now)


def list_versions(registry: Registry, engine: Engine) -> list[VersionRow]:
    """Every version with its status (A/B tests from the store); tombstones too."""
    return registry.list_versions(ab_versions=ab_protected(engine))


def ab_protected(engine: Engine) -> set[str]:
    """Versions under an active A/B test."""
    with reachable(engine), engine.connect() as conn:
        return active_versions(conn)


@dataclass(frozen=True)
class VerifyResult:
    """Every version checked; ``ok`` only if all are intact in the store, else ``failure``
    names each problem. A local copy that did not verify was rebuilt (``rematerialised``)."""

    ok: bool
    reports: list[VerifyReport]
    failure: str | None


def verify(registry: Registry, version: str | None, *, all_versions: bool = False) -> VerifyResult:
    """Hash the store's artifacts of ``version`` (default: production) or, with
    ``all_versions``, of every live version, and re-materialise a local copy that does not
    verify; an unknown ``version`` is BadInput."""
    if version is None and not all_versions:
        version = registry.current_version()
        if version is None:
            raise BadInput("no production version: name one or use --all")
    reports = registry.verify_all() if all_versions else [registry.verify(version)]
    problems = [f"{r.version}/{p.name}: {p.describe()}" for r in reports if not r.ok for p in r.problems]
    failure = f"registry verification failed: {'; '.join(problems)}" if problems else None
    return VerifyResult(not problems, reports, failure)


@dataclass(frozen=True)
class Serving:
    """One period of production: ``version`` served from ``since`` until ``until`` (None: now),
    put there by ``action`` (promote, rollback, or auto: a deferred promotion carried out) from
    ``from_version``; ``tombstone`` says when gc deleted it since."""

    version: str
    since: dt.datetime
    until: dt.datetime | None
    action: str
    from_version: str | None
    reason: str
    user: str
    host: str
    tombstone: str | None = None


def serving_history(engine: Engine) -> list[Serving]:
    """Which version served when, from the registry's switches, oldest first."""
    with reachable(engine), engine.connect() as conn:
        switches = registry_rows.switches(conn)
        deleted = {i.version: i.tombstone for i in registry_rows.all_versions(conn, Path("."))
                   if i.deleted_at is not None}
    ends = [s.at for s in switches[1:]] + [None]
    return [Serving(s.to_version, s.at, end, s.action, s.from_version, s.reason, s.who, s.host,
                    deleted.get(s.to_version)) for s, end in zip(switches, ends)]
