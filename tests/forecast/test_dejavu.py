"""Dejavu: exact vectorised neighbours, aggregation, updates, explanations and persistence."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import nbalife.forecast.knn as knn
from nbalife.errors import BadInput
from nbalife.forecast.dejavu import Analog, Dejavu
from nbalife.forecast.patterns import GameArrays, to_arrays
from tests.forecast.conftest import damage_file


def continuous_walks(n: int, seed: int) -> np.ndarray:
    """Patterns with real-valued steps: no tied distances, so neighbour sets are unique."""
    steps = np.random.default_rng(seed).normal(0, 2, (n, 19))
    steps[:, 0] = 0
    return np.cumsum(steps, axis=1)


def fitted(X: np.ndarray, k: int, aggregation: str = "median", seed: int = 0) -> Dejavu:
    n = len(X)
    moves = np.random.default_rng(seed).normal(0, 5, n)
    dates = np.datetime64("2024-01-01") + np.arange(n) // 10
    return Dejavu(k=k, aggregation=aggregation).fit(
        X, moves, [f"g{i}" for i in range(n)], dates, ["HOM"] * n, ["AWY"] * n)


def brute_force(model: Dejavu, Q: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    aligned = (Q - Q[:, 18:]).astype(np.float64)
    distances = np.sqrt(((model.patterns_[None, :, :] - aligned[:, None, :]) ** 2).sum(axis=2))
    order = np.argsort(distances, axis=1)[:, :m]
    return np.take_along_axis(distances, order, axis=1), order


@pytest.mark.parametrize("n, k", [(40, 1), (300, 7), (5000, 5), (20000, 3)])
def test_neighbours_equal_brute_force(n: int, k: int) -> None:
    model = fitted(continuous_walks(n, seed=n), k)
    queries = continuous_walks(60, seed=1)
    distances, indices = model.kneighbors(queries)
    expected_distances, expected_indices = brute_force(model, queries, k)
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_allclose(distances, expected_distances, rtol=1e-5, atol=1e-4)


def test_more_neighbours_than_groups_falls_back_to_one_partition() -> None:
    model = fitted(continuous_walks(2000, seed=3), k=3)
    queries = continuous_walks(5, seed=4)
    _, indices = model.kneighbors(queries, n_neighbors=1500)
    np.testing.assert_array_equal(indices, brute_force(model, queries, 1500)[1])


def test_small_chunks_and_blocks_give_the_same_neighbours(monkeypatch: pytest.MonkeyPatch) -> None:
    model = fitted(continuous_walks(5000, seed=5), k=5)
    queries = continuous_walks(37, seed=6)
    expected = model.kneighbors(queries)
    np.testing.assert_array_equal(expected[1], brute_force(model, queries, 5)[1])
    # 4 queries a chunk (the last holds 1); 768-row blocks of the 5,120 padded rows at 4 queries
    # (the last block is 512 rows), 3,072-row blocks at 1 query: both levels of groups in use.
    monkeypatch.setattr(knn, "CHUNK_QUERIES", 4)
    monkeypatch.setattr(knn, "BLOCK_BYTES", 768 * 4 * 4)
    assert len(model.index_.matrix) == 5120 and knn._levels(5120, 5) == 2
    for got, want in zip(model.kneighbors(queries), expected, strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("n, k, levels", [(300, 40, 0), (3000, 100, 1), (60_000, 200, 2)])
def test_every_depth_of_the_selection_equals_brute_force(n: int, k: int, levels: int) -> None:
    model = fitted(continuous_walks(n, seed=n + 1), k)
    assert knn._levels(len(model.index_.matrix), k) == levels
    queries = continuous_walks(9, seed=2)
    distances, indices = model.kneighbors(queries)
    expected_distances, expected_indices = brute_force(model, queries, k)
    # the same sets; float32 distances may order a near-tie (1e-6 apart) the other way round
    np.testing.assert_array_equal(np.sort(indices, axis=1), np.sort(expected_indices, axis=1))
    np.testing.assert_allclose(distances, expected_distances, rtol=1e-5, atol=1e-4)


def test_integer_patterns_with_ties_find_a_valid_neighbour_set(walks: pd.DataFrame) -> None:
    arrays = to_arrays(walks)
    model = Dejavu(k=25).fit(arrays.X, arrays.moves, arrays.game_ids, arrays.dates,
                             arrays.home, arrays.away)
    distances, indices = model.kneighbors(arrays.X[:50])
    expected, _ = brute_force(model, arrays.X[:50], 25)
    np.testing.assert_allclose(distances, expected, atol=1e-4)  # same distances, ties may differ
    assert (np.diff(distances, axis=1) >= 0).all()
    assert all(len(set(row)) == 25 for row in indices)


@pytest.mark.parametrize("aggregation", ["median", "weighted"])
def test_predict_is_last_value_plus_aggregate_move(aggregation: str) -> None:
    model = fitted(continuous_walks(500, seed=7), k=9, aggregation=aggregation)
    queries = continuous_walks(20, seed=8)
    distances, indices = brute_force(model, queries, 9)
    moves = model.moves_[indices].astype(np.float64)
    if aggregation == "median":
        move = np.median(moves, axis=1)
    else:
        weights = 1 / (1 + distances)
        move = (weights * moves).sum(axis=1) / weights.sum(axis=1)
    np.testing.assert_allclose(model.predict(queries), queries[:, 18] + move, rtol=1e-5, atol=1e-5)


def test_fit_returns_self_and_stores_aligned_contiguous_float32(walks: pd.DataFrame) -> None:
    arrays = to_arrays(walks)
    model = Dejavu(k=10)
    assert model.fit(arrays.X, arrays.moves, arrays.game_ids, arrays.dates, arrays.home,
                     arrays.away) is model
    assert model.patterns_.dtype == np.float32 and model.patterns_.flags["C_CONTIGUOUS"]
    assert model.patterns_.shape == (3000, 19) and not model.patterns_[:, 18].any()
    np.testing.assert_array_equal(model.patterns_[:, 0], -arrays.X[:, 18])
    assert model.predict(arrays.X[:7]).shape == (7,)
    assert model.kneighbors(arrays.X[:7])[1].shape == (7, 10)


def test_predict_mutates_nothing() -> None:
    model = fitted(continuous_walks(400, seed=9), k=5)
    queries = continuous_walks(10, seed=10).astype(np.float32)
    before = {k: v.copy() for k, v in vars(model).items() if isinstance(v, np.ndarray)}
    params, queries_before = model.get_params(), queries.copy()
    model.predict(queries)
    model.explain(queries[0])
    assert model.get_params() == params
    np.testing.assert_array_equal(queries, queries_before)
    for name, value in before.items():
        np.testing.assert_array_equal(getattr(model, name), value)


@pytest.mark.parametrize("call", [
    lambda m: m.predict(np.zeros((1, 19))),
    lambda m: m.kneighbors(np.zeros((1, 19))),
    lambda m: m.explain(np.zeros(19)),
    lambda m: m.save(Path("unused")),
    lambda m: m.update(np.zeros((1, 19)), [0], ["a"], ["2024-01-01"], ["H"], ["A"], max_size=10),
])
def test_unfitted_use_is_bad_input(call: Callable[[Dejavu], object]) -> None:
    with pytest.raises(BadInput, match="Dejavu is not fitted"):
        call(Dejavu())


@pytest.mark.parametrize("params, message", [
    ({"k": 0}, "k=0 must be a whole number >= 1"),
    ({"aggregation": "mean"}, "allowed values are median, weighted"),
    ({"distance": "dtw"}, "allowed values are euclidean"),
    ({"k": 500}, "needs at least k=500 patterns, got 400"),
])
def test_bad_parameters(params: dict, message: str) -> None:
    X, n = continuous_walks(400, seed=1), 400
    with pytest.raises(BadInput, match=message):
        Dejavu(**params).fit(X, np.zeros(n), [f"g{i}" for i in range(n)], ["2024-01-01"] * n,
                             ["H"] * n, ["A"] * n)


def test_duplicate_game_ids_are_rejected() -> None:
    with pytest.raises(BadInput, match="game g1 appears more than once"):
        Dejavu(k=1).fit(np.zeros((2, 19)), [0, 0], ["g1", "g1"], ["2024-01-01"] * 2,
                        ["H"] * 2, ["A"] * 2)


def test_update_keeps_the_newest_max_size(walks: pd.DataFrame) -> None:
    old, new = to_arrays(walks.iloc[:1000]), to_arrays(walks.iloc[1000:1600])
    model = Dejavu(k=20).fit(old.X, old.moves, old.game_ids, old.dates, old.home, old.away)
    assert model.update(new.X, new.moves, new.game_ids, new.dates, new.home, new.away,
                        max_size=800) is model
    assert model.n_patterns_ == 800
    np.testing.assert_array_equal(model.game_ids_, walks["game_id"].iloc[800:1600])
    assert (np.diff(model.dates_.astype(np.int64)) >= 0).all()
    assert len(model.index_.matrix) >= 800
    reference = Dejavu(k=20).fit(*_arrays(to_arrays(walks.iloc[800:1600])))
    np.testing.assert_array_equal(model.predict(new.X[:30]), reference.predict(new.X[:30]))


def _arrays(a: GameArrays) -> tuple[np.ndarray, ...]:
    return a.X, a.moves, a.game_ids, a.dates, a.home, a.away


def test_update_replaces_a_stored_game_and_checks_max_size(walks: pd.DataFrame) -> None:
    arrays = to_arrays(walks.iloc[:100])
    model = Dejavu(k=5).fit(*_arrays(arrays))
    moves = arrays.moves[:1] + 100
    model.update(arrays.X[:1], moves, arrays.game_ids[:1], ["2030-01-01"], ["H"], ["A"],
                 max_size=1000)
    assert model.n_patterns_ == 100 and model.game_ids_[-1] == arrays.game_ids[0]
    assert model.moves_[-1] == moves[0]
    with pytest.raises(BadInput, match="max_size=4 must be a whole number >= k=5"):
        model.update(arrays.X[:1], moves, ["new"], ["2030-01-02"], ["H"], ["A"], max_size=4)


def test_explain_lists_analogs_nearest_first(walks: pd.DataFrame) -> None:
    arrays = to_arrays(walks)
    model = Dejavu(k=15).fit(*_arrays(arrays))
    analogs = model.explain(arrays.X[3])
    assert len(analogs) == 15 and all(isinstance(a, Analog) for a in analogs)
    assert [a.distance for a in analogs] == sorted(a.distance for a in analogs)
    assert analogs[0].game_id == arrays.game_ids[3] and analogs[0].distance == 0
    by_id = walks.set_index("game_id")
    for analog in analogs:
        game = by_id.loc[analog.game_id]
        assert analog.halftime_diff == game["d24"]
        assert analog.future_move == game["d24"] - game["d18"]
        assert (analog.date, analog.home, analog.away) == (game["game_date"], game["home"],
                                                           game["away"])
    assert len(model.explain(arrays.X[3], n=4)) == 4
    with pytest.raises(BadInput, match="explain takes one pattern"):
        model.explain(arrays.X[:2])


def test_save_load_round_trip(tmp_path: Path, walks: pd.DataFrame) -> None:
    arrays = to_arrays(walks)
    model = Dejavu(k=30, aggregation="weighted").fit(*_arrays(arrays))
    paths = model.save(tmp_path)
    assert sorted(p.name for p in paths) == ["dejavu.json", "dejavu.npz"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dejavu.json", "dejavu.npz"]
    with np.load(tmp_path / "dejavu.npz", allow_pickle=False) as npz:
        assert npz["patterns"].dtype == np.float32
    assert json.loads((tmp_path / "dejavu.json").read_text())["params"]["k"] == 30
    loaded = Dejavu.load(tmp_path)
    assert loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.predict(arrays.X[:200]), model.predict(arrays.X[:200]))
    assert loaded.explain(arrays.X[0]) == model.explain(arrays.X[0])


@pytest.mark.parametrize("damage", ["truncate", "garbage", "missing"])
@pytest.mark.parametrize("name", ["dejavu.npz", "dejavu.json"])
def test_damaged_files_are_bad_input_naming_them(tmp_path: Path, walks: pd.DataFrame,
                                                 name: str, damage: str) -> None:
    Dejavu(k=5).fit(*_arrays(to_arrays(walks.iloc[:200]))).save(tmp_path)
    damage_file(tmp_path / name, damage)
    with pytest.raises(BadInput, match=name):
        Dejavu.load(tmp_path)


def test_forecasts_real_games(real_frame: pd.DataFrame) -> None:
    train, test = to_arrays(real_frame.iloc[:250]), to_arrays(real_frame.iloc[250:])
    model = Dejavu(k=50).fit(*_arrays(train))
    forecast = model.predict(test.X)
    assert forecast.shape == (69,) and np.isfinite(forecast).all()
    assert np.abs(forecast - test.X[:, 18]).max() < 10  # a 6-minute move, not a wild guess
