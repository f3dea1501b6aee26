"""The A/B decision: promote, roll back or continue, with the reason."""

from __future__ import annotations

from dataclasses import dataclass

PROMOTE, ROLLBACK, CONTINUE = "promote", "rollback", "continue"


@dataclass(frozen=True)
class Rule:
    """The promotion rule's thresholds."""

    alpha: float
    min_improvement: float
    min_coverage: float


@dataclass(frozen=True)
class Decision:
    action: str
    reason: str


def decide(improvement: float, p_better: float, p_worse: float, coverage_b: float | None, rule: Rule) -> Decision:
    """Roll back when B is significantly worse by the sequential test; promote when B improves MAE
    by at least ``min_improvement`` points, significantly by the sequential test, and B's interval
    coverage is not below ``min_coverage``; otherwise continue and say what is missing."""
    if p_worse <= rule.alpha and improvement < 0:
        return Decision(ROLLBACK, f"B is worse by {-improvement:.3f} points "
                                  f"(always-valid p = {p_worse:.4g} <= {rule.alpha:g})")
    missing = []
    if p_better > rule.alpha:
        missing.append(f"not significant yet (always-valid p = {min(p_better, p_worse):.4g} > {rule.alpha:g})")
    if not improvement >= rule.min_improvement:
        missing.append(f"improvement {improvement:.3f} < {rule.min_improvement:g} points")
    if coverage_b is None or coverage_b < rule.min_coverage:
        shown = "unknown" if coverage_b is None else f"{coverage_b:.3f}"
        missing.append(f"B coverage {shown} < {rule.min_coverage:g}")
    if not missing:
        return Decision(PROMOTE, f"B is better by {improvement:.3f} points (always-valid p = {p_better:.4g}), "
                                 f"coverage {coverage_b:.3f}")
    return Decision(CONTINUE, "; ".join(missing))
