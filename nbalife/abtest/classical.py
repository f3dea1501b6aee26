"""Fixed-sample tests and intervals for the MAE difference (valid for one look only)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

NAN = float("nan")


@dataclass(frozen=True)
class Interval:
    """An estimate of ``MAE(A) - MAE(B)`` (positive: B better) and its 95% interval."""

    estimate: float
    low: float
    high: float


@dataclass(frozen=True)
class TestResult:
    name: str
    statistic: float
    p_value: float


def welch(abs_a: "np.ndarray", abs_b: "np.ndarray") -> tuple[Interval, TestResult]:
    """Split mode: Welch's t-test on the two arms' absolute errors and its 95% interval."""
    import numpy as np
    from scipy import stats

    if len(abs_a) < 2 or len(abs_b) < 2:
        return Interval(NAN, NAN, NAN), TestResult("welch_t", NAN, NAN)
    va, vb = np.var(abs_a, ddof=1) / len(abs_a), np.var(abs_b, ddof=1) / len(abs_b)
    estimate = float(np.mean(abs_a) - np.mean(abs_b))
    se = math.sqrt(va + vb)
    if se == 0:
        return Interval(estimate, estimate, estimate), TestResult("welch_t", NAN, NAN)
    df = (va + vb) ** 2 / (va**2 / (len(abs_a) - 1) + vb**2 / (len(abs_b) - 1))
    half = float(stats.t.ppf(0.975, df)) * se
    result = stats.ttest_ind(abs_a, abs_b, equal_var=False)
    return Interval(estimate, estimate - half, estimate + half), TestResult(
        "welch_t", float(result.statistic), float(result.pvalue))


def paired(abs_a: "np.ndarray", abs_b: "np.ndarray") -> tuple[Interval, tuple[TestResult, TestResult]]:
    """Shadow mode: paired t-test and Wilcoxon signed-rank on ``|e_A| - |e_B|`` per game."""
    import numpy as np
    from scipy import stats

    diff = np.asarray(abs_a, dtype=float) - np.asarray(abs_b, dtype=float)
    blank = (TestResult("paired_t", NAN, NAN), TestResult("wilcoxon", NAN, NAN))
    if len(diff) < 2:
        return Interval(NAN, NAN, NAN), blank
    estimate = float(diff.mean())
    se = float(diff.std(ddof=1)) / math.sqrt(len(diff))
    if se == 0:
        return Interval(estimate, estimate, estimate), blank
    half = float(stats.t.ppf(0.975, len(diff) - 1)) * se
    t_result = stats.ttest_rel(abs_a, abs_b)
    w_result = stats.wilcoxon(diff)
    return Interval(estimate, estimate - half, estimate + half), (
        TestResult("paired_t", float(t_result.statistic), float(t_result.pvalue)),
        TestResult("wilcoxon", float(w_result.statistic), float(w_result.pvalue)))
