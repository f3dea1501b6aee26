"""The guardrails' Prometheus series, in a node_exporter textfile of their own (the textfile
collector reads every ``*.prom`` of its folder, so it sits beside ``metrics export``'s)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable


def add_guard_series(registry: Any, findings: Iterable[Any], checked_at: float) -> None:
    """Add to a prometheus_client ``CollectorRegistry``: ``nbalife_guardrail_firing`` (1 firing, 0
    ok, -1 idle: nothing to judge) per ``guardrail`` and ``nbalife_guard_check_timestamp_seconds``.
    ``findings``: objects with ``guardrail`` and ``state``."""
    from prometheus_client import Gauge

    firing = Gauge("nbalife_guardrail_firing", "1 when the guardrail fires, 0 when ok, -1 when it had nothing "
                   "to judge", ["guardrail"], registry=registry)
    for finding in findings:
        firing.labels(guardrail=finding.guardrail).set(
            {"firing": 1, "ok": 0}.get(finding.state, -1))
    Gauge("nbalife_guard_check_timestamp_seconds", "When the guardrails were last checked",
          registry=registry).set(checked_at)


def write_guard_textfile(path: Path, findings: Iterable[Any], checked_at: float) -> Path:
    """Write the guardrail series to ``path`` atomically (prometheus_client renames a temporary file)."""
    from prometheus_client import CollectorRegistry, write_to_textfile

    registry = CollectorRegistry()
    add_guard_series(registry, findings, checked_at)
    write_to_textfile(str(path), registry)
    return path
