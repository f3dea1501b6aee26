"""Input drift: the features of game patterns and the two tests that compare two samples of them.

Features of a pattern ``d0..d18`` (what the forecasters read):

- ``d18``: the differential at 6:00 left in the 2nd quarter, one value per game;
- ``minute_change``: ``d_m - d_(m-1)`` for ``m = 1..18``, pooled over minutes and games;
- ``volatility``: the mean ``|d_m - d_(m-1)|`` of one game (scoring volatility), one per game.

Tests, per feature: the two-sample Kolmogorov-Smirnov test (scipy) says whether the samples
differ beyond chance; the population stability index (PSI) says by how much, on ``bins``
quantile bins fixed from the reference sample. The two answer different questions, so a
feature drifts only when both cross their level (see ``is_drift``).

This lives in ``nbalife.monitoring``, not ``nbalife.forecast``: it judges the data, not a
model, and needs neither a fitted estimator nor the store. scipy is imported inside ``ks_test``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FEATURES = ("d18", "minute_change", "volatility")
PSI_FLOOR = 1e-4  # share given to an empty bin, so the logarithm stays finite


def features(patterns: np.ndarray) -> dict[str, np.ndarray]:
    """The drift features of ``(n, 19)`` patterns (``d0..d18``), each as a float64 array."""
    X = np.asarray(patterns, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] < 2:
        raise ValueError(f"patterns must be (n, 19), got shape {X.shape}")
    changes = np.diff(X, axis=1)
    return {
        "d18": X[:, -1].copy(),
        "minute_change": changes.ravel(),
        "volatility": np.abs(changes).mean(axis=1) if len(X) else np.empty(0),
    }


def psi(reference: np.ndarray, recent: np.ndarray, bins: int = 10) -> float:
    """Population stability index of ``recent`` against ``reference``.

    Bin edges are the reference's quantiles at ``1/bins, 2/bins, …`` (repeated edges of
    discrete data merge, so there may be fewer bins); a value on an edge falls in the bin above
    it, in both samples alike. ``PSI = sum((q - p) * ln(q / p))`` over bins, with ``p`` the
    reference's and ``q`` the recent sample's shares (each at least ``PSI_FLOOR``). Rules of
    thumb: below 0.1 stable, 0.1-0.2 moderate, above 0.2 a material shift.
    """
    ref = np.asarray(reference, dtype=np.float64)
    new = np.asarray(recent, dtype=np.float64)
    if len(ref) == 0 or len(new) == 0:
        raise ValueError("PSI needs two non-empty samples")
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))
    p = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=len(edges) + 1) / len(ref)
    q = np.bincount(np.searchsorted(edges, new, side="right"), minlength=len(edges) + 1) / len(new)
    p, q = np.maximum(p, PSI_FLOOR), np.maximum(q, PSI_FLOOR)
    return float(np.sum((q - p) * np.log(q / p)))


def ks_test(reference: np.ndarray, recent: np.ndarray) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic and p-value (scipy's ``ks_2samp``, two-sided)."""
    from scipy.stats import ks_2samp

    result = ks_2samp(np.asarray(reference, dtype=np.float64), np.asarray(recent, dtype=np.float64))
    return float(result.statistic), float(result.pvalue)


@dataclass(frozen=True)
class FeatureDrift:
    """One feature compared: sample sizes, means, both tests, and whether it drifted."""

    feature: str
    n_reference: int
    n_recent: int
    reference_mean: float
    recent_mean: float
    ks_statistic: float
    ks_pvalue: float
    psi: float
    drifted: bool


def is_drift(ks_pvalue: float, psi_value: float, *, max_pvalue: float, min_psi: float) -> bool:
    """Drift = significant AND material: KS p-value below ``max_pvalue`` and PSI at least ``min_psi``.

    KS alone flags trivial shifts once samples are large (``minute_change`` pools 18 values per
    game, which are not independent either, so its p-value is optimistic); PSI alone is noisy
    on a month of games. Requiring both keeps cron quiet on noise and on negligible shifts.
    """
    return ks_pvalue < max_pvalue and psi_value >= min_psi


def compare(reference: np.ndarray, recent: np.ndarray, *, bins: int, max_pvalue: float,
            min_psi: float) -> list[FeatureDrift]:
    """Every feature of ``recent`` patterns against ``reference`` patterns, in ``FEATURES`` order."""
    ref, new = features(reference), features(recent)
    out = []
    for name in FEATURES:
        statistic, pvalue = ks_test(ref[name], new[name])
        index = psi(ref[name], new[name], bins)
        out.append(FeatureDrift(name, len(ref[name]), len(new[name]), float(ref[name].mean()),
                                float(new[name].mean()), statistic, pvalue, index,
                                is_drift(pvalue, index, max_pvalue=max_pvalue, min_psi=min_psi)))
    return out
