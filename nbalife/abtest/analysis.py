"""The full A/B report of one test: per-arm summary, intervals, tests and the decision."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nbalife.abtest import classical, paths, sequential
from nbalife.abtest.classical import Interval, TestResult
from nbalife.abtest.decision import Decision, Rule, decide

if TYPE_CHECKING:
    import numpy as np

Z975 = 1.959963984540054


@dataclass(frozen=True)
class ArmGames:
    """One arm's resolved games, in the order they resolved (``persistence`` = ``|actual - d18|``)."""

    abs_error: "np.ndarray"
    covered: "np.ndarray"
    width: "np.ndarray"
    persistence: "np.ndarray"


@dataclass(frozen=True)
class ArmSummary:
    arm: str
    n: int
    mae: float | None
    coverage: float | None
    width: float | None


@dataclass(frozen=True)
class Sequential:
    """Always-valid p-values of the mixture SPRT, one per direction, and its mixture scale."""

    p_better: float
    p_worse: float
    tau: float


@dataclass(frozen=True)
class ControlVariate:
    """The CUPED-adjusted difference and how much narrower its interval is than the plain one."""

    theta: float
    interval: Interval
    narrowing: float


@dataclass(frozen=True)
class Analysis:
    mode: str
    arms: tuple[ArmSummary, ArmSummary]
    difference: Interval
    tests: tuple[TestResult, ...]
    sequential: Sequential
    control_variate: ControlVariate | None
    decision: Decision


def _summary(arm: str, games: ArmGames) -> ArmSummary:
    n = len(games.abs_error)
    if n == 0:
        return ArmSummary(arm, 0, None, None, None)
    return ArmSummary(arm, n, float(games.abs_error.mean()), float(games.covered.mean()), float(games.width.mean()))


def _sequential(path: paths.Path, tau: float) -> Sequential:
    if path.estimate.shape[-1] == 0:
        return Sequential(1.0, 1.0, tau)
    better, worse = sequential.directional_p_paths(path.estimate, path.variance, tau)
    return Sequential(float(better[-1]), float(worse[-1]), tau)


def analyse_shadow(a: ArmGames, b: ArmGames, rule: Rule) -> Analysis:
    """Shadow mode: A and B forecast the same games (aligned row by row)."""
    difference, tests = classical.paired(a.abs_error, b.abs_error)
    seq = _sequential(paths.shadow_path(a.abs_error, b.abs_error), rule.min_improvement)
    b_summary = _summary("B", b)
    decision = decide(difference.estimate, seq.p_better, seq.p_worse, b_summary.coverage, rule)
    return Analysis("shadow", (_summary("A", a), b_summary), difference, tests, seq, None, decision)


def _split_paths(a: ArmGames, b: ArmGames, is_b: "np.ndarray") -> tuple[paths.Path, paths.Path]:
    """The plain and the control-variate (persistence-adjusted) looks of a split test, the two
    arms' games interleaved in the order ``is_b`` gives."""
    import numpy as np

    order = np.empty(len(is_b), dtype=int)
    order[~is_b], order[is_b] = np.arange(len(a.abs_error)), len(a.abs_error) + np.arange(len(b.abs_error))
    y = np.concatenate([a.abs_error, b.abs_error])[order]
    x = np.concatenate([a.persistence, b.persistence])[order]
    return paths.split_path(is_b, y, None), paths.split_path(is_b, y, x)


def sequential_looks(a: ArmGames, b: ArmGames, is_b: "np.ndarray | None",
                     tau: float) -> tuple["np.ndarray", "np.ndarray", "np.ndarray"]:
    """After every game: the improvement estimate and the always-valid p-values (B better, B
    worse) of the path whose last look the analysis reports (shadow: paired; split: adjusted)."""
    path = paths.shadow_path(a.abs_error, b.abs_error) if is_b is None else _split_paths(a, b, is_b)[1]
    better, worse = sequential.directional_p_paths(path.estimate, path.variance, tau)
    return path.estimate, better, worse


def analyse_split(a: ArmGames, b: ArmGames, is_b: "np.ndarray", rule: Rule) -> Analysis:
    """Split mode: each game served by one arm; ``is_b`` interleaves the two arms' games in the
    order they resolved. The sequential test and the decision use the control variate."""
    import numpy as np

    difference, welch = classical.welch(a.abs_error, b.abs_error)
    plain, adjusted = _split_paths(a, b, is_b)
    seq = _sequential(adjusted, rule.min_improvement)
    control = None
    if len(is_b) and np.isfinite(adjusted.variance[-1]) and plain.variance[-1] > 0:
        estimate, se = float(adjusted.estimate[-1]), math.sqrt(float(adjusted.variance[-1]))
        control = ControlVariate(float(adjusted.theta[-1]),
                                 Interval(estimate, estimate - Z975 * se, estimate + Z975 * se),
                                 1.0 - se / math.sqrt(float(plain.variance[-1])))
    improvement = control.interval.estimate if control else difference.estimate
    b_summary = _summary("B", b)
    decision = decide(improvement, seq.p_better, seq.p_worse, b_summary.coverage, rule)
    return Analysis("split", (_summary("A", a), b_summary), difference, (welch,), seq, control, decision)
