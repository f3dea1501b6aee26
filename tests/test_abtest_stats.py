"""A/B statistics and routing (pure): the sequential test's guarantee, power, CUPED, the rule, stickiness."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from nbalife.abtest import paths
from nbalife.abtest.analysis import ArmGames, analyse_shadow, analyse_split
from nbalife.abtest.decision import CONTINUE, PROMOTE, ROLLBACK, Rule, decide
from nbalife.abtest.routing import assign_arm, bucket
from nbalife.abtest.sequential import directional_p_paths, log_likelihood_ratio
from nbalife.abtest.simulation import simulate_games

GAME_SD = 6.0
RULE = Rule(alpha=0.05, min_improvement=0.5, min_coverage=0.9)


def test_mixture_ratio_is_the_one_sample_formula() -> None:
    sigma, tau, n, mean = 3.0, 0.5, 400, 0.4
    expected = math.sqrt(sigma**2 / (sigma**2 + n * tau**2)) * math.exp(
        n**2 * tau**2 * mean**2 / (2 * sigma**2 * (sigma**2 + n * tau**2)))
    assert math.exp(float(log_likelihood_ratio(mean, sigma**2 / n, tau))) == pytest.approx(expected)
    assert float(log_likelihood_ratio(1.0, float("nan"), tau)) == 0.0
    assert float(log_likelihood_ratio(1.0, 0.0, tau)) == 0.0


def _split(sim, cuped: bool, seed: int = 3) -> paths.Path:  # noqa: ANN001
    is_b = np.random.default_rng(seed).random(sim.abs_a.shape) < 0.5
    return paths.split_path(is_b, np.where(is_b, sim.abs_b, sim.abs_a), sim.persistence if cuped else None)


def test_aa_sequential_false_positives_stay_below_alpha_while_naive_peeking_does_not() -> None:
    """1,000 A/A tests of 2,000 games, monitored after every game (stricter than every 50)."""
    sim = simulate_games(1000, 2000, improvement=0.0, game_sd=GAME_SD, seed=11)
    looks = np.arange(49, 2000, 50)
    for path in (paths.shadow_path(sim.abs_a, sim.abs_b), _split(sim, cuped=False), _split(sim, cuped=True)):
        better, worse = directional_p_paths(path.estimate, path.variance, RULE.min_improvement)
        assert (better[:, -1] <= 0.05).mean() <= 0.05
        assert (np.minimum(better, worse)[:, -1] <= 0.05).mean() <= 0.05
        z = path.estimate[:, looks] / np.sqrt(path.variance[:, looks])
        naive = (2 * stats.norm.sf(np.abs(z)) <= 0.05).any(axis=1).mean()
        assert naive > 0.15  # the repeated t-test checked 40 times: several times alpha


def test_power_half_point_shadow_and_control_variate_beat_plain_split() -> None:
    sim = simulate_games(100, 2000, improvement=0.5, game_sd=GAME_SD, seed=12)
    found = {}
    for name, path in {"shadow": paths.shadow_path(sim.abs_a, sim.abs_b), "plain": _split(sim, False),
                       "cuped": _split(sim, True)}.items():
        better, _ = directional_p_paths(path.estimate, path.variance, RULE.min_improvement)
        found[name] = (better[:, -1] <= 0.05).mean()
    assert found["shadow"] >= 0.9
    assert found["cuped"] >= 0.8
    assert found["plain"] < found["cuped"] - 0.2


def test_control_variate_estimates_the_same_difference_with_a_narrower_interval() -> None:
    sim = simulate_games(1, 4000, improvement=0.5, game_sd=GAME_SD, seed=13)
    plain, cuped = _split(sim, cuped=False), _split(sim, cuped=True)
    assert cuped.variance[0, -1] < 0.4 * plain.variance[0, -1]
    assert abs(cuped.estimate[0, -1] - 0.5) < 3 * math.sqrt(cuped.variance[0, -1])
    assert 0.8 < cuped.theta[0, -1] < 1.1  # errors move almost one for one with persistence errors


def _arm(abs_error, covered=None, persistence=None) -> ArmGames:  # noqa: ANN001
    abs_error = np.asarray(abs_error, dtype=float)
    return ArmGames(abs_error, np.ones(len(abs_error), bool) if covered is None else np.asarray(covered),
                    np.full(len(abs_error), 20.0), abs_error if persistence is None else np.asarray(persistence))


def test_shadow_analysis_reports_paired_tests_and_promotes_a_clear_winner() -> None:
    sim = simulate_games(1, 1500, improvement=1.5, game_sd=GAME_SD, seed=14)
    a, b = _arm(sim.abs_a[0], persistence=sim.persistence[0]), _arm(sim.abs_b[0], sim.covered_b[0],
                                                                   sim.persistence[0])
    result = analyse_shadow(a, b, RULE)
    assert [arm.n for arm in result.arms] == [1500, 1500]
    assert result.arms[0].mae == pytest.approx(sim.abs_a[0].mean())
    assert [t.name for t in result.tests] == ["paired_t", "wilcoxon"]
    assert result.tests[0].p_value == pytest.approx(stats.ttest_rel(sim.abs_a[0], sim.abs_b[0]).pvalue)
    assert result.difference.low < result.difference.estimate < result.difference.high
    assert result.decision.action == PROMOTE, result.decision.reason


def test_split_analysis_uses_welch_and_the_control_variate() -> None:
    sim = simulate_games(1, 3000, improvement=-1.0, game_sd=GAME_SD, seed=15)
    is_b = np.random.default_rng(1).random(3000) < 0.5
    a = _arm(sim.abs_a[0][~is_b], persistence=sim.persistence[0][~is_b])
    b = _arm(sim.abs_b[0][is_b], sim.covered_b[0][is_b], sim.persistence[0][is_b])
    result = analyse_split(a, b, is_b, RULE)
    welch = stats.ttest_ind(a.abs_error, b.abs_error, equal_var=False)
    assert result.tests[0].name == "welch_t" and result.tests[0].p_value == pytest.approx(welch.pvalue)
    assert result.control_variate.narrowing > 0.3
    assert result.decision.action == ROLLBACK and "B is worse" in result.decision.reason


def test_no_games_is_continue_not_an_error() -> None:
    empty = _arm([])
    result = analyse_split(empty, empty, np.zeros(0, bool), RULE)
    assert result.decision.action == CONTINUE and result.arms[1].mae is None


@given(st.floats(-5, 5), st.floats(0, 1), st.floats(0, 1), st.one_of(st.none(), st.floats(0, 1)))
def test_rule(improvement: float, p_better: float, p_worse: float, coverage: float | None) -> None:
    decision = decide(improvement, p_better, p_worse, coverage, RULE)
    if decision.action == PROMOTE:
        assert p_better <= 0.05 and improvement >= 0.5 and coverage >= 0.9
    elif decision.action == ROLLBACK:
        assert p_worse <= 0.05 and improvement < 0
    else:
        assert decision.reason


def test_rule_names_what_is_missing() -> None:
    assert decide(0.6, 0.01, 1.0, 0.85, RULE).reason == "B coverage 0.850 < 0.9"
    assert "improvement 0.300 < 0.5 points" in decide(0.3, 0.01, 1.0, 0.95, RULE).reason
    assert decide(-0.3, 1.0, 0.2, 0.95, RULE).reason.startswith("not significant yet")


def test_realised_share_within_one_point_over_100000_ids() -> None:
    ids = [f"g{i}" for i in range(100_000)]
    for share in (0.1, 0.25, 0.5):
        realised = sum(assign_arm("ab-1", g, share) == "B" for g in ids) / len(ids)
        assert abs(realised - share) < 0.01


@given(st.text(min_size=1), st.text(min_size=1), st.floats(0, 1), st.floats(0, 1))
def test_raising_the_share_only_moves_games_from_a_to_b(test_id: str, game_id: str, s1: float, s2: float) -> None:
    low, high = sorted((s1, s2))
    assert 0.0 <= bucket(test_id, game_id) < 1.0
    if assign_arm(test_id, game_id, low) == "B":
        assert assign_arm(test_id, game_id, high) == "B"


def test_same_arm_in_another_process() -> None:
    ids = [f"00221{i:05d}" for i in range(500)]
    here = "".join(assign_arm("ab-7", g, 0.3) for g in ids)
    code = ("import sys; from nbalife.abtest.routing import assign_arm; "
            "print(''.join(assign_arm('ab-7', g, 0.3) for g in sys.argv[1:]))")
    other = subprocess.run([sys.executable, "-c", code, *ids], capture_output=True, text=True, check=True)
    assert other.stdout.strip() == here
