"""The promotion gate, pure: guards on a candidate's figures and its improvement on production."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from nbalife.registry.records import VersionInfo


@dataclass(frozen=True)
class Verdict:
    """What a check before a switch found: ``failures`` (empty: pass) and ``details`` recorded
    with the switch."""

    failures: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Gate:
    """Promotion gate on figures (``mae``, ``coverage``): the candidate's MAE must not exceed
    ``max_mae``, its coverage must not fall below ``min_coverage``, and, where production's
    figures are given, its MAE must be lower than production's by at least ``min_improvement``
    (None: that rule is not checked). With ``max_vs_persistence``, a candidate whose MAE is
    worse than persistence's by more than that many standard errors of the paired difference
    (figures ``vs_persistence`` and ``vs_persistence_se``) is refused; sets recorded without
    those figures are not judged on it.

    Called with two model sets' metadata it judges their recorded held-out metrics; that is
    the check the Registry runs under its lock when no other is given."""

    max_mae: float | None = None
    min_coverage: float | None = None
    min_improvement: float | None = None
    max_vs_persistence: float | None = None

    def failures(self, candidate: Mapping[str, Any], production: Mapping[str, Any] | None = None) -> list[str]:
        """One line per failing (or missing) figure; empty when the gate passes."""
        out = []
        for name, bound, too_far in (
            ("mae", self.max_mae, lambda v, b: v > b),
            ("coverage", self.min_coverage, lambda v, b: v < b),
        ):
            if bound is None:
                continue
            value = candidate.get(name)
            if not is_number(value):
                out.append(f"{name} is missing from the metrics (gate needs it)")
            elif too_far(value, bound):
                relation = "above the maximum" if name == "mae" else "below the minimum"
                out.append(f"{name} {value:g} is {relation} {bound:g}")
        diff, se = candidate.get("vs_persistence"), candidate.get("vs_persistence_se")
        if self.max_vs_persistence is not None and is_number(diff) and is_number(se) \
                and diff > self.max_vs_persistence * se:
            out.append(f"mae is worse than persistence's by {diff:.3f} ± {se:.3f}, more than "
                       f"{self.max_vs_persistence:g} standard errors")
        if self.min_improvement is not None and production is not None:
            mine, theirs = candidate.get("mae"), production.get("mae")
            if is_number(mine) and is_number(theirs) and theirs - mine < self.min_improvement:
                out.append(f"mae {mine:g} is not at least {self.min_improvement:g} below production's {theirs:g}")
        return out

    def __call__(self, candidate: VersionInfo, production: VersionInfo | None) -> Verdict:
        """The verdict on ``candidate``'s recorded metrics against ``production``'s. A derived
        version recorded as not scored (no games neither it nor its base was fitted on) is
        judged on its base's held-out figures (``base_held_out``), and the verdict says so."""
        figures, details = held_out_figures(candidate.metrics)
        return Verdict(tuple(self.failures(figures, None if production is None else production.metrics)), details)


def held_out_figures(metrics: Mapping[str, Any]) -> tuple[Mapping[str, Any], dict[str, Any]]:
    """The figures a held-out gate judges: the version's own, or for a derived version not
    scored at registration, its base's held-out figures (named in the details)."""
    base = metrics.get("base_held_out")
    if "not_scored" in metrics and not is_number(metrics.get("mae")) and isinstance(base, dict):
        own = {k: v for k, v in metrics.items() if k not in ("mae", "coverage")}
        return {**own, **{k: v for k, v in base.items() if k != "version"}}, {
            "judged_on": f"base {base.get('version')}'s held-out figures (not scored itself)"}
    return metrics, {}


@dataclass(frozen=True)
class GateResult:
    """What the gate decided and on what: ``basis`` is "recent games" (both scored on the same
    ``games`` finished games after both training windows, ``first_date`` to ``last_date``) or
    "held-out metrics" (each version's metadata; ``note`` says why)."""

    candidate: str
    production: str | None
    passed: bool
    reasons: tuple[str, ...]
    basis: str
    note: str
    games: int
    first_date: str | None
    last_date: str | None
    candidate_mae: float | None
    candidate_coverage: float | None
    production_mae: float | None
    production_coverage: float | None
    max_mae: float | None
    min_coverage: float | None
    min_improvement: float | None


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
