"""One check suite for every estimator, in the manner of scikit-learn's ``check_estimator``:
no work in ``__init__``, ``fit`` returns self, fitted attributes end in ``_``, use before
``fit`` is NotFitted, predicting mutates nothing, and save/load round-trips."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nbalife.errors import BadInput
from nbalife.forecast.artifacts import NotFitted
from nbalife.forecast.conformal import AdaptiveConformal, SplitConformal
from nbalife.forecast.dejavu import Dejavu
from nbalife.forecast.ensemble import Ensemble
from nbalife.forecast.lstm import LSTMForecaster
from nbalife.forecast.patterns import to_arrays

from .conftest import random_walk_games

TRAIN = to_arrays(random_walk_games(400, seed=31))
VALID = to_arrays(random_walk_games(100, seed=32))
GUESS = VALID.X[:, -1].astype(np.float64) + 0.3  # a forecast of the validation games


@dataclass(frozen=True)
class Case:
    """How to build, fit and use one estimator; ``bad`` are parameters ``fit`` must refuse."""

    make: Callable[..., Any]
    params: dict[str, Any]
    bad: dict[str, Any]
    fit: Callable[[Any], Any]
    predict: Callable[[Any], Any]
    saved: bool = True


CASES = {
    "Dejavu": Case(
        Dejavu, {"k": 7, "aggregation": "weighted"}, {"k": 0},
        lambda m: m.fit(TRAIN.X, TRAIN.moves, TRAIN.game_ids, TRAIN.dates, TRAIN.home, TRAIN.away),
        lambda m: m.predict(VALID.X)),
    "LSTMForecaster": Case(
        LSTMForecaster, {"hidden_size": 4, "num_layers": 2, "epochs": 1, "batch_size": 64},
        {"device": "tpu"},
        lambda m: m.fit(TRAIN.X, TRAIN.moves, VALID.X, VALID.moves),
        lambda m: m.predict(VALID.X)),
    "SplitConformal": Case(
        SplitConformal, {"alpha": 0.1, "halflife": 5.0}, {"alpha": 1.5},
        lambda m: m.fit(np.abs(VALID.y - GUESS), np.arange(len(GUESS)) / 8.0),
        lambda m: m.interval(GUESS), saved=False),  # saved within AdaptiveConformal
    "AdaptiveConformal": Case(
        AdaptiveConformal, {"alpha": 0.1, "gamma": 0.02}, {"gamma": -1},
        lambda m: m.fit(np.abs(VALID.y - GUESS)).update(np.arange(len(GUESS)) % 3 > 0),
        lambda m: m.interval(GUESS)),
    "Ensemble": Case(
        Ensemble, {"step": 0.05}, {"step": 0},
        lambda m: m.fit(VALID.y, GUESS, VALID.X[:, -1]),
        lambda m: m.predict(GUESS, VALID.X[:, -1])),
}
ESTIMATORS = pytest.mark.parametrize("name", list(CASES))


def state(value: Any) -> Any:
    """A comparable deep copy of an estimator's state (arrays by dtype, shape and bytes)."""
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, dict):
        return {key: state(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [state(item) for item in value]
    if hasattr(value, "__dict__"):
        return (type(value).__name__, state(vars(value)))
    return value


@functools.cache
def fitted(name: str) -> Any:
    """One fitted estimator per case, shared by the checks that do not change it."""
    case = CASES[name]
    return case.fit(case.make(**case.params))


@ESTIMATORS
def test_init_only_stores_its_parameters(name: str) -> None:
    case = CASES[name]
    model = case.make(**{**case.params, **case.bad})  # bad values: refused by fit, not here
    names = list(inspect.signature(case.make).parameters)
    assert list(vars(model)) == names
    assert model.get_params() == {n: getattr(model, n) for n in names}
    with pytest.raises(BadInput):
        case.fit(model)


@ESTIMATORS
def test_fit_returns_self_and_adds_only_attributes_ending_in_underscore(name: str) -> None:
    case = CASES[name]
    model = case.make(**case.params)
    params = model.get_params()
    assert case.fit(model) is model
    added = set(vars(model)) - set(params)
    assert added and all(attribute.endswith("_") and not attribute.startswith("_")
                         for attribute in added)
    assert model.get_params() == params


@ESTIMATORS
def test_use_before_fit_is_not_fitted(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    with pytest.raises(NotFitted, match=f"{name} is not fitted: call fit"):
        case.predict(case.make(**case.params))
    if case.saved:
        with pytest.raises(NotFitted):
            case.make(**case.params).save(tmp_path)
    assert issubclass(NotFitted, BadInput)


@ESTIMATORS
def test_predict_mutates_neither_the_model_nor_its_input(name: str) -> None:
    model = fitted(name)
    inputs = state([VALID.X, GUESS])
    before = state(vars(model))
    first = CASES[name].predict(model)
    assert state(vars(model)) == before and state([VALID.X, GUESS]) == inputs
    assert state(CASES[name].predict(model)) == state(first)


@pytest.mark.parametrize("name", [name for name, case in CASES.items() if case.saved])
def test_save_and_load_round_trip(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    model = fitted(name)
    paths = model.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)
    loaded = type(model).load(tmp_path)
    assert loaded.get_params() == model.get_params()
    assert set(vars(loaded)) == set(vars(model))
    assert state(case.predict(loaded)) == state(case.predict(model))
