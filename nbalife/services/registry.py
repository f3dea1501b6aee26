"""The registry as operators use it: wired to the store's lock and lifecycle events."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from nbalife.config import Settings
from nbalife.errors import BadInput, CheckFailed, unreadable
from nbalife.locks import run_lock
from nbalife.registry import Gate, Registry, RegistryEvent, VerifyReport
from nbalife.store.abtests import active_versions
from nbalife.store.engine import reachable
from nbalife.store.events import record_event

EVENT_KIND = {"promote": "promotion", "rollback": "rollback", "register": "registration", "gc": "gc",
              "recover": "recovery"}


def open_registry(home: Path, engine: Engine, settings: Settings, *, lock_wait_s: float | None = None) -> Registry:
    """A Registry whose mutations take the run lock and are written to the lifecycle log."""
    wait = settings.registry.lock_wait_s if lock_wait_s is None else lock_wait_s

    def on_event(event: RegistryEvent) -> None:
        details = {"from": event.from_version, "to": event.to_version, "reason": event.reason,
                   **event.details}
        with reachable(engine), engine.begin() as conn:
            record_event(conn, EVENT_KIND.get(event.action, event.action), "ok", at=event.time,
                         version=event.to_version, details=details)

    return Registry(home, lock=lambda: run_lock("registry", home=home, engine=engine, wait_s=wait),
                    on_event=on_event)


def gate_of(settings: Settings) -> Gate:
    """The promotion gate from configuration."""
    return Gate(max_mae=settings.registry.gate_max_mae, min_coverage=settings.registry.gate_min_coverage)


def ab_protected(engine: Engine) -> set[str]:
    """Versions under an active A/B test."""
    with reachable(engine), engine.connect() as conn:
        return active_versions(conn)


GATED_METRICS = ("mae", "coverage")


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
    if not isinstance(data, dict):
        raise BadInput(f"{path}: expected a JSON object of metrics")
    for key in GATED_METRICS:
        value = data.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise BadInput(f"{path}: metric {key} = {value!r} is not a number (the promotion gate reads it)")
    return data


@dataclass(frozen=True)
class VerifyResult:
    """Every version checked; ``ok`` only if all are intact."""

    ok: bool
    reports: list[VerifyReport]


def verify(registry: Registry, version: str | None) -> VerifyResult:
    """Recompute checksums of one version (default: production) or, with None and all, every one."""
    reports = registry.verify_all() if version is None else [registry.verify(version)]
    return VerifyResult(all(r.ok for r in reports), reports)


def raise_if_corrupt(result: VerifyResult) -> None:
    """CheckFailed naming every mismatched or missing file."""
    if result.ok:
        return
    problems = [f"{r.version}/{p.name}: {p.describe()}" for r in result.reports for p in r.problems]
    raise CheckFailed(f"registry verification failed: {'; '.join(problems)}")
