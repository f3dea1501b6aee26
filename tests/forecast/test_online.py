"""The online conformal layer: its long-run guarantee on adversarial sequences, the lattice,
and the ensemble's weights on out-of-fold forecasts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nbalife.forecast.conformal import (
    AdaptiveConformal,
    OnlineState,
    conformal_quantile,
    held,
    lattice_interval,
    serve_online,
)
from nbalife.forecast.ensemble import Ensemble
from nbalife.forecast.metrics import part_figures, winkler, worse_than_best_part

RNG = np.random.default_rng(7)
CALIBRATION = np.abs(RNG.normal(0, 6, 2000)).round()


def layer(online: str, step: float = 1.0, gamma: float = 0.01) -> AdaptiveConformal:
    return AdaptiveConformal(online=online, step=step, gamma=gamma).fit(CALIBRATION)


def run(model: AdaptiveConformal, scores: np.ndarray) -> tuple[np.ndarray, list[OnlineState]]:
    """Serve a forecast of 0.3 and the whole-point outcome nearest ``0.3 + score`` (one a day);
    misses and states."""
    state, missed, states = model.start_state(), [], []
    for score in scores:
        low, high = model.interval(np.array([0.3]), state)
        y = float(np.round(0.3 + score))
        miss = not low[0] <= y <= high[0]
        state = model.advance(state, miss, abs(y - 0.3))
        missed.append(miss)
        states.append(state)
    return np.array(missed), states


def adversarial() -> dict[str, np.ndarray]:
    """Sequences built to defeat the layer: 300 outcomes far outside, then 1,700 at the forecast;
    a spread that doubles half way; alternating bursts."""
    noise = np.abs(np.random.default_rng(3).normal(0, 6, 2000))
    return {
        "all misses then all hits": np.r_[np.full(300, 40.0), np.zeros(1700)],
        "variance doubles": np.r_[noise[:1000], 2 * noise[1000:]],
        "bursts": np.where((np.arange(2000) // 50) % 2 == 0, 40.0, 0.0),
    }


@pytest.mark.parametrize("online", ["quantile", "decaying", "aci"])
@pytest.mark.parametrize("name", list(adversarial()))
def test_long_run_miscoverage_stays_within_the_bound(online: str, name: str) -> None:
    scores = adversarial()[name]
    model = layer(online)
    missed, states = run(model, scores)
    for t in (100, 500, 1000, 2000):
        bound = model.bound(states[t - 1])
        assert bound is not None
        assert abs(missed[:t].mean() - model.alpha) <= bound + 1e-12, (t, missed[:t].mean(), bound)
    if online == "quantile":  # the exact identity behind the bound
        final = states[-1]
        assert missed.mean() - model.alpha == pytest.approx((final.q - model.quantile_) / (model.step * len(scores)))
    assert model.bound(states[-1]) < model.bound(states[99])  # the bound shrinks with T


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 60, allow_nan=False), min_size=1, max_size=400),
       st.sampled_from([0.25, 1.0, 3.0]))
def test_any_bounded_sequence_keeps_the_quantile_bound(scores: list[float], step: float) -> None:
    model = layer("quantile", step=step)
    missed, states = run(model, np.array(scores))
    assert abs(missed.mean() - model.alpha) <= model.bound(states[-1]) + 1e-12


def test_the_static_layer_has_no_bound_and_never_moves() -> None:
    model = layer("static")
    missed, states = run(model, np.full(50, 40.0))
    assert missed.all() and model.bound(states[-1]) is None
    assert model.radius(states[-1]) == model.quantile_


def test_advance_is_pure() -> None:
    model = layer("quantile")
    start = model.start_state()
    after = model.advance(start, True, 30.0)
    assert start == model.start_state() and after.q == pytest.approx(start.q + 0.95)
    assert OnlineState.from_dict(after.to_dict()) == after


@given(st.floats(-30, 30, allow_nan=False), st.floats(0, 20, allow_nan=False))
def test_the_lattice_interval_holds_exactly_the_whole_points_within_the_radius(centre: float,
                                                                              radius: float) -> None:
    lower, upper = lattice_interval(np.array([centre]), radius)
    inside = [k for k in range(-60, 61) if abs(k - centre) <= radius + 1e-9]
    assert [k for k in range(-60, 61) if lower[0] <= k <= upper[0]] == inside
    assert held(lower, upper)[0] == len(inside)
    if inside:
        assert (lower[0], upper[0]) == (inside[0] - 0.5, inside[-1] + 0.5)


def test_lattice_coverage_on_integer_outcomes() -> None:
    """Split conformal on the lattice covers at least 95% of exchangeable integer outcomes, and
    reports as width the outcomes it holds (not twice a fractional radius)."""
    rng = np.random.default_rng(11)
    covered, widths = [], []
    for _ in range(200):
        forecast = rng.normal(0, 3, 400)
        y = np.round(forecast + rng.normal(0, 6, 400))
        q = conformal_quantile(np.abs(y[:200] - forecast[:200]), 0.05)
        lower, upper = lattice_interval(forecast[200:], q)
        covered.append(((lower <= y[200:]) & (y[200:] <= upper)).mean())
        widths.append(held(lower, upper).mean())
        assert np.all(upper - lower == held(lower, upper))
    assert 0.95 <= np.mean(covered) <= 0.965
    assert np.mean(widths) < 2 * 12.5


def test_serving_a_day_uses_the_state_before_the_day() -> None:
    model = layer("quantile")
    forecast, y = np.zeros(6), np.array([50, 50, 50, 0, 0, 0], float)
    lower, upper, state = serve_online(model, forecast, y, np.array([1, 1, 1, 2, 2, 2]))
    assert (lower[:3] == lower[0]).all() and upper[3] > upper[0]  # day 2 after three misses
    assert state.n == 6 and state.misses == 3


def test_a_noise_component_gets_weight_zero() -> None:
    rng = np.random.default_rng(5)
    signal = rng.normal(0, 3, 3000)
    y = np.round(signal + rng.normal(0, 5, 3000))
    good = signal + rng.normal(0, 0.5, 3000)
    noise = rng.normal(0, 8, 3000)  # predicts nothing
    fitted = Ensemble(reference="best").fit(y, noise, good, good + rng.normal(0, 0.5, 3000))
    assert fitted.weights_["dejavu"] == 0.0
    combined = fitted.predict(noise, good, good)
    assert np.abs(y - combined).mean() <= np.abs(y - good).mean() + 1e-9


def test_an_ensemble_worse_than_its_best_part_is_found() -> None:
    rng = np.random.default_rng(9)
    y = rng.normal(0, 6, 2000).round()
    part = y + rng.normal(0, 2, 2000)
    assert worse_than_best_part(y, {"ensemble": part + 3, "context": part}, 2.0)[0] == "context"
    assert worse_than_best_part(y, {"ensemble": part, "context": part + 0.01}, 2.0) is None


def test_part_figures_per_season_and_the_winkler_score() -> None:
    y = np.array([0.0, 1.0, 2.0, 10.0])
    low, high = np.array([-0.5] * 4), np.array([2.5] * 4)
    assert winkler(y, low, high, 0.05).tolist() == [3.0, 3.0, 3.0, 3.0 + 40 * 7.5]
    rows = part_figures(y, np.zeros(4), {"ensemble": np.ones(4)}, {"ensemble": (low, high)},
                        ["a", "a", "b", "b"], 0.05)
    assert [(r.group, r.model) for r in rows] == [("a", "ensemble"), ("a", "persistence"), ("b", "ensemble"),
                                                  ("b", "persistence"), ("all", "ensemble"), ("all", "persistence")]
    first = rows[0]
    assert first.coverage == 1.0 and first.held == 3.0 and first.mae == 0.5 and first.gain == 0.0
