"""Conformal layer: the finite-sample quantile, recency weights, ACI, persistence."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nbalife.errors import BadInput
from nbalife.forecast.conformal import AdaptiveConformal, SplitConformal, conformal_quantile

score_arrays = st.lists(st.floats(0, 1000, allow_nan=False, width=32), min_size=1, max_size=300)
alphas = st.integers(1, 999).map(lambda i: i / 1000)  # decimal levels, as an operator sets them


def rank(n: int, alpha: float) -> int:
    """ceil((n + 1)(1 - alpha)) in exact arithmetic."""
    return math.ceil((n + 1) * (1 - Fraction(str(alpha))))


def test_hand_computed_case() -> None:
    scores = np.arange(1, 20, dtype=float)  # 1..19
    # ceil(20 * 0.9) = 18: level 18/19, the 18th smallest score.
    assert conformal_quantile(scores, 0.1) == 18
    assert SplitConformal(alpha=0.1).fit(scores[::-1]).quantile_ == 18


@settings(max_examples=200, deadline=None)
@given(score_arrays, alphas)
def test_quantile_is_the_finite_sample_order_statistic(values: list[float], alpha: float) -> None:
    scores = np.array(values)
    n, k = len(scores), rank(len(values), alpha)
    got = conformal_quantile(scores, alpha)
    if k > n:
        assert got == math.inf
        assert conformal_quantile(scores, alpha, finite=True) == scores.max()
    else:
        assert got == np.sort(scores)[k - 1]
        # "inverted_cdf" is the empirical quantile; "higher" interpolates over n - 1 gaps and
        # can land one order statistic too high (scores 1..19 at 18/19 give 19, not 18).
        # (at (k - 1/2) / n: at k / n itself, k / n * n can round above k, e.g. 7/25 * 25)
        assert got == np.quantile(scores, (k - 0.5) / n, method="inverted_cdf")


@settings(max_examples=200, deadline=None)
@given(score_arrays, alphas)
def test_weights_of_one_give_the_unweighted_quantile(values: list[float], alpha: float) -> None:
    scores = np.array(values)
    assert conformal_quantile(scores, alpha, np.ones(len(scores))) == \
        conformal_quantile(scores, alpha)
    ageless = SplitConformal(alpha, halflife=7.0).fit(scores, ages=np.zeros(len(scores)))
    assert ageless.quantile_ == SplitConformal(alpha).fit(scores).quantile_


def test_weighted_quantile_by_hand() -> None:
    # p = w / (sum w + 1) = (0.5, 0.5, 1, 1) / 4: cumulative 0.125, 0.25, 0.5, 0.75 (+inf: 1).
    scores, weights = np.array([4.0, 1.0, 2.0, 3.0]), np.array([1.0, 0.5, 0.5, 1.0])
    assert conformal_quantile(scores, 0.5, weights) == 3.0
    assert conformal_quantile(scores, 0.3, weights) == 4.0
    assert conformal_quantile(scores, 0.2, weights) == math.inf


def test_recent_scores_weigh_more_after_a_drift() -> None:
    rng = np.random.default_rng(0)
    old, new = np.abs(rng.normal(0, 5, 900)), np.abs(rng.normal(0, 8, 100))
    scores = np.concatenate([old, new])
    ages = np.concatenate([np.full(900, 60.0), np.full(100, 1.0)])  # days
    plain = SplitConformal().fit(scores).quantile_
    recent = SplitConformal(halflife=7.0).fit(scores, ages=ages).quantile_
    assert recent > plain
    assert recent == pytest.approx(np.quantile(new, 0.95), rel=0.15)


def test_too_few_scores_give_an_unbounded_interval() -> None:
    model = SplitConformal(alpha=0.05).fit(np.arange(10.0))  # ceil(11 * 0.95) = 11 > 10
    assert model.quantile_ == math.inf
    lower, upper = model.interval([1.0, 2.0])
    assert (lower == -math.inf).all() and (upper == math.inf).all()


def test_interval_is_symmetric() -> None:
    model = SplitConformal(alpha=0.1).fit(np.arange(1, 20.0))
    lower, upper = model.interval(np.array([0.0, 5.5]))
    np.testing.assert_array_equal(lower, [-18, -12.5])
    np.testing.assert_array_equal(upper, [18, 23.5])


@pytest.mark.parametrize("call, message", [
    (lambda: SplitConformal().fit([1.0, -2.0]), "must be absolute residuals"),
    (lambda: SplitConformal().fit([]), "at least one residual"),
    (lambda: SplitConformal(alpha=1.5).fit([1.0]), "alpha=1.5 must be a number in"),
    (lambda: SplitConformal(halflife=3).fit([1.0]), "needs the residuals' ages"),
    (lambda: SplitConformal(halflife=3).fit([1.0], ages=[-1.0]), "ages must be >= 0"),
    (lambda: SplitConformal(halflife=0).fit([1.0], ages=[1.0]), "halflife=0 must be"),
    (lambda: AdaptiveConformal(gamma=2).fit([1.0]), "gamma=2 must be"),
    (lambda: SplitConformal().interval([1.0]), "SplitConformal is not fitted"),
    (lambda: AdaptiveConformal().update(True), "AdaptiveConformal is not fitted"),
    (lambda: AdaptiveConformal().fit([1.0, 2.0]).update([1, 0]), "covered must be booleans"),
])
def test_bad_input(call: Callable[[], object], message: str) -> None:
    with pytest.raises(BadInput, match=message):
        call()


def calibrated(gamma: float = 0.01, n: int = 1000) -> AdaptiveConformal:
    scores = np.abs(np.random.default_rng(1).normal(0, 5, n))
    return AdaptiveConformal(alpha=0.05, gamma=gamma).fit(scores)


def test_aci_starts_at_the_split_quantile() -> None:
    model = calibrated()
    assert model.alpha_t_ == 0.05
    assert model.quantile_ == model.split_.quantile_


def test_aci_widens_after_misses_and_narrows_after_hits() -> None:
    model = calibrated()
    start = model.quantile_
    model.update(False)
    assert model.alpha_t_ == pytest.approx(0.05 + 0.01 * (0.05 - 1))
    assert model.quantile_ >= start
    model.update([False] * 5)
    assert model.quantile_ > start
    wide = model.quantile_
    model.update(np.ones(200, dtype=bool))
    assert model.alpha_t_ == pytest.approx(0.05 - 0.01 * 6 * 0.95 + 0.01 * 200 * 0.05)
    assert model.quantile_ < wide
    assert (model.n_updates_, model.n_errors_) == (206, 6)


def test_aci_batch_update_equals_one_at_a_time() -> None:
    flags = np.random.default_rng(2).random(300) < 0.9
    batch, single = calibrated(), calibrated()
    batch.update(flags)
    for flag in flags:
        single.update(bool(flag))
    assert batch.alpha_t_ == pytest.approx(single.alpha_t_)
    assert batch.quantile_ == single.quantile_


def test_aci_quantile_is_clipped_to_the_scores_not_the_state() -> None:
    model = calibrated(gamma=0.1)
    model.update([False] * 50)
    assert model.alpha_t_ < 0  # the state is free
    assert model.quantile_ == model.split_.scores_.max()  # the interval stays finite
    model.update([True] * 3000)
    assert model.alpha_t_ > 1
    assert model.quantile_ == model.split_.scores_.min()


def test_aci_holds_coverage_through_a_drift_that_breaks_split_conformal() -> None:
    rng = np.random.default_rng(3)
    model = calibrated(gamma=0.01)
    static = model.quantile_
    stream = np.abs(rng.normal(0, 6.5, 5000))  # the residual scale grows 30%
    hits = []
    for score in stream:
        hits.append(bool(score <= model.quantile_))
        model.update(hits[-1])
    assert 0.94 <= np.mean(hits) <= 0.96
    assert np.mean(stream <= static) < 0.90


def test_save_load_keeps_the_state(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    model = AdaptiveConformal(alpha=0.1, gamma=0.02, halflife=5.0).fit(
        np.abs(rng.normal(0, 5, 400)), ages=rng.uniform(0, 30, 400))
    model.update(rng.random(40) < 0.8)
    assert [p.name for p in model.save(tmp_path)] == ["conformal.json"]
    json.loads((tmp_path / "conformal.json").read_text())  # strict JSON
    loaded = AdaptiveConformal.load(tmp_path)
    assert loaded.get_params() == model.get_params()
    assert (loaded.alpha_t_, loaded.n_updates_, loaded.n_errors_, loaded.quantile_) == \
        (model.alpha_t_, model.n_updates_, model.n_errors_, model.quantile_)
    assert loaded.split_.quantile_ == model.split_.quantile_
    np.testing.assert_array_equal(loaded.interval([1.0, 2.0]), model.interval([1.0, 2.0]))


@pytest.mark.parametrize("content", ["{", "[]", '{"format": "nbalife.conformal"}',
                                     '{"format": "other"}'])
def test_damaged_file_is_bad_input_naming_it(tmp_path: Path, content: str) -> None:
    (tmp_path / "conformal.json").write_text(content)
    with pytest.raises(BadInput, match=r"conformal.json"):
        AdaptiveConformal.load(tmp_path)


def test_negative_scores_in_the_file_are_rejected(tmp_path: Path) -> None:
    calibrated().save(tmp_path)
    data = json.loads((tmp_path / "conformal.json").read_text())
    data["scores"][0] = -1.0
    (tmp_path / "conformal.json").write_text(json.dumps(data))
    with pytest.raises(BadInput, match=r"conformal.json: corrupt model file"):
        AdaptiveConformal.load(tmp_path)
