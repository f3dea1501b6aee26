"""Ensemble weights: convex, fitted on validation MAE, persisted."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nbalife.errors import BadInput
from nbalife.forecast.ensemble import Ensemble

rng = np.random.default_rng(0)
Y = rng.normal(0, 10, 500)
NOISE_A, NOISE_B = rng.normal(0, 3, 500), rng.normal(0, 3, 500)


@settings(max_examples=50, deadline=None)
@given(st.floats(0.0, 3.0), st.floats(0.0, 3.0), st.integers(0, 2**31 - 1))
def test_weights_are_convex(scale_a: float, scale_b: float, seed: int) -> None:
    noise = np.random.default_rng(seed).normal(0, 1, (2, 200))
    model = Ensemble().fit(Y[:200], Y[:200] + scale_a * noise[0], Y[:200] + scale_b * noise[1])
    assert 0.0 <= model.weights_["dejavu"] <= 1.0
    assert 0.0 <= model.weights_["lstm"] <= 1.0
    assert model.weights_["dejavu"] + model.weights_["lstm"] == pytest.approx(1.0)


@pytest.mark.parametrize("a, b, weight", [
    (Y, Y + NOISE_B, 1.0),          # Dejavu perfect
    (Y + NOISE_A, Y, 0.0),          # LSTM perfect
    (Y + 0.7 * NOISE_A, Y - 0.3 * NOISE_A, 0.3),  # 0.3 a + 0.7 b is exact
])
def test_the_weight_minimising_validation_mae(a: np.ndarray, b: np.ndarray, weight: float) -> None:
    model = Ensemble().fit(Y, a, b)
    assert model.weights_["dejavu"] == pytest.approx(weight)
    assert model.validation_mae_["ensemble"] <= min(model.validation_mae_["dejavu"],
                                                    model.validation_mae_["lstm"])
    np.testing.assert_allclose(model.predict(a, b), weight * a + (1 - weight) * b)


def test_fit_returns_self_and_predict_mutates_nothing() -> None:
    model = Ensemble(step=0.05)
    assert model.fit(Y, Y + NOISE_A, Y + NOISE_B) is model
    a, state = (Y + NOISE_A).copy(), dict(vars(model))
    model.predict(a, Y)
    assert vars(model) == state
    np.testing.assert_array_equal(a, Y + NOISE_A)


@pytest.mark.parametrize("call, message", [
    (lambda: Ensemble().predict([1.0], [1.0]), "Ensemble is not fitted"),
    (lambda: Ensemble(step=0).fit([1.0], [1.0], [1.0]), "step=0 must be"),
    (lambda: Ensemble().fit([1.0, 2.0], [1.0], [1.0, 2.0]), r"expected \(2,\)"),
    (lambda: Ensemble().fit([], [], []), "validation set is empty"),
    (lambda: Ensemble().fit([1.0], [1.0], [1.0]).predict([1.0, 2.0], [1.0]), "differ in shape"),
])
def test_bad_input(call: Callable[[], object], message: str) -> None:
    with pytest.raises(BadInput, match=message):
        call()


def test_save_load_round_trip(tmp_path: Path) -> None:
    model = Ensemble().fit(Y, Y + NOISE_A, Y + 2 * NOISE_B)
    assert [p.name for p in model.save(tmp_path)] == ["ensemble.json"]
    loaded = Ensemble.load(tmp_path)
    assert loaded.weights_ == model.weights_
    assert loaded.validation_mae_ == model.validation_mae_
    np.testing.assert_array_equal(loaded.predict(Y, Y + 1), model.predict(Y, Y + 1))


@pytest.mark.parametrize("content", [
    "", "{", '{"format": "nbalife.ensemble"}',
    '{"format": "nbalife.ensemble", "params": {"step": 0.01}, "weights": {"dejavu": 2},'
    ' "validation_mae": {}}',
])
def test_damaged_file_is_bad_input_naming_it(tmp_path: Path, content: str) -> None:
    (tmp_path / "ensemble.json").write_text(content)
    with pytest.raises(BadInput, match=r"ensemble.json"):
        Ensemble.load(tmp_path)


def test_weights_stay_equal_unless_validation_clearly_prefers_one() -> None:
    rng = np.random.default_rng(3)
    y = rng.normal(0, 5, 400)
    noisy_a = y + rng.normal(0, 6, 400)
    noisy_b = y + rng.normal(0, 6, 400)
    assert Ensemble().fit(y, noisy_a, noisy_b).weights_ == {"dejavu": 0.5, "lstm": 0.5}
    sharp = y + rng.normal(0, 0.5, 400)
    assert Ensemble().fit(y, sharp, noisy_b).weights_["dejavu"] > 0.9


def test_the_gate_needs_move_se_standard_errors_of_validation_gain() -> None:
    rng = np.random.default_rng(11)
    y = rng.normal(0, 5, 400)
    noisy_a, noisy_b = y + rng.normal(0, 6, 400), y + rng.normal(0, 6, 400)
    gains = []
    for move_se in (0.0, 10.0):
        model = Ensemble(move_se=move_se).fit(y, noisy_a, noisy_b)
        gains.append(model.validation_mae_["ensemble"])
        if move_se:
            assert model.weights_ == {"dejavu": 0.5, "lstm": 0.5}
    assert gains[0] < gains[1]  # with no gate, the grid's (chance) minimum is taken
    with pytest.raises(BadInput, match="move_se=-1 must be"):
        Ensemble(move_se=-1).fit(y, noisy_a, noisy_b)


def test_a_file_without_move_se_loads_with_the_default(tmp_path: Path) -> None:
    Ensemble(move_se=3.0).fit(Y, Y + NOISE_A, Y + 2 * NOISE_B).save(tmp_path)
    assert Ensemble.load(tmp_path).move_se == 3.0
    path = tmp_path / "ensemble.json"
    data = json.loads(path.read_text())
    del data["params"]["move_se"]
    path.write_text(json.dumps(data))
    assert Ensemble.load(tmp_path).get_params() == {"step": 0.01, "move_se": 2.0, "reference": "prior"}
