"""Always-valid sequential test: the normal mixture SPRT (mSPRT).

Johari, Koomen, Pekelis & Walsh, "Always valid inference: continuous monitoring of A/B tests"
(Operations Research, 2022). For an estimate ``x ~ N(theta, v)`` of the improvement and the
mixture ``theta ~ N(0, tau^2)`` over the alternative, the likelihood ratio against
``theta = 0`` is

    Lambda = sqrt(v / (v + tau^2)) * exp(tau^2 x^2 / (2 v (v + tau^2)))

(with ``v = sigma^2 / n`` this is their formula). ``1 / Lambda`` is a p-value at every look,
and its running minimum is an always-valid p-value: the chance that it *ever* falls below
``alpha``, however often one peeks, is at most ``alpha``. ``tau`` is the improvement (points
of MAE) the test is tuned for; the guarantee holds for any ``tau``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


def log_likelihood_ratio(estimate: "np.ndarray", variance: "np.ndarray", tau: float) -> "np.ndarray":
    """``log Lambda`` per look; 0 (no evidence) where the variance is unknown or zero."""
    import numpy as np

    estimate = np.asarray(estimate, dtype=float)
    variance = np.asarray(variance, dtype=float)
    usable = np.isfinite(estimate) & np.isfinite(variance) & (variance > 0)
    v = np.where(usable, variance, 1.0)
    t2 = float(tau) ** 2
    x = np.where(usable, estimate, 0.0)
    log_lr = 0.5 * np.log(v / (v + t2)) + t2 * x**2 / (2.0 * v * (v + t2))
    return np.where(usable, log_lr, 0.0)


def directional_p_paths(
    estimate: "np.ndarray", variance: "np.ndarray", tau: float
) -> tuple["np.ndarray", "np.ndarray"]:
    """Running always-valid p-values along the looks (last axis): (B better, B worse).

    Each direction only counts looks whose estimate points its way, so each is bounded below
    by the two-sided always-valid p-value and keeps its guarantee.
    """
    import numpy as np

    estimate = np.asarray(estimate, dtype=float)
    p = np.minimum(1.0, np.exp(-log_likelihood_ratio(estimate, variance, tau)))
    better = np.minimum.accumulate(np.where(estimate > 0, p, 1.0), axis=-1)
    worse = np.minimum.accumulate(np.where(estimate < 0, p, 1.0), axis=-1)
    return better, worse
