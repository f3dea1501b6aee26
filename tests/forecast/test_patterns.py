"""Games to arrays, and the pattern checks every forecaster applies."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nbalife.errors import BadInput
from nbalife.forecast.patterns import GameArrays, check_patterns, to_arrays


def test_to_arrays_on_real_games(real_frame: pd.DataFrame) -> None:
    arrays = to_arrays(real_frame)
    assert isinstance(arrays, GameArrays) and len(arrays) == 319
    assert arrays.X.dtype == np.float32 and arrays.X.shape == (319, 19)
    assert arrays.X.flags["C_CONTIGUOUS"]
    assert arrays.y.dtype == np.float64
    np.testing.assert_array_equal(arrays.moves, real_frame["d24"] - real_frame["d18"])
    assert arrays.dates.dtype == np.dtype("datetime64[D]")
    assert arrays.game_ids[0] == str(real_frame["game_id"].iloc[0])
    assert arrays.home.dtype.kind == "U" and arrays.away.dtype.kind == "U"


def test_to_arrays_without_outcomes(real_frame: pd.DataFrame) -> None:
    arrays = to_arrays(real_frame.drop(columns=["d24"]), require_target=False)
    assert arrays.y is None
    with pytest.raises(BadInput, match="no halftime differential"):
        _ = arrays.moves
    with pytest.raises(BadInput, match=r"missing column.*d24"):
        to_arrays(real_frame.drop(columns=["d24"]))
    upcoming = real_frame.assign(d24=np.nan)
    assert to_arrays(upcoming, require_target=False).y is None
    with pytest.raises(BadInput, match="d24 for game 0021500001 is missing or infinite"):
        to_arrays(upcoming)
    with pytest.raises(BadInput, match=r"d0\.\.d24 must be numbers"):
        to_arrays(real_frame.astype(str).assign(d5="x"))


def test_one_pattern_is_one_row() -> None:
    assert check_patterns([0] * 19).shape == (1, 19)
    assert check_patterns(np.zeros(19)).shape == (1, 19)


def test_lists_are_accepted() -> None:
    out = check_patterns([[0] + [1] * 18, [0] * 19])
    assert out.dtype == np.float32 and out.shape == (2, 19)


@pytest.mark.parametrize("patterns, ids, message", [
    (np.zeros((2, 18)), ["A", "B"], "pattern for game A has 18 values, expected 19 (d0..d18)"),
    ([[0] * 19, [0] * 18], ["A", "B"], "pattern for game B has 18 values, expected 19 (d0..d18)"),
    ([[0] * 19, [0] * 20], None, "pattern for row 1 has 20 values, expected 19 (d0..d18)"),
    ([[0] * 5 + [np.nan] + [0] * 13], ["X"],
     "pattern for game X has a missing or infinite value at d5"),
    ([[0] * 18 + [np.inf]], ["X"], "pattern for game X has a missing or infinite value at d18"),
    ([[3] + [0] * 18], ["X"], "pattern for game X has d0 = 3, expected 0"),
    ([["0"] * 18 + ["a"]], None, "patterns must be numbers"),
    (np.zeros((2, 19, 1)), None, "must be a 2-D array"),
])
def test_rejections_name_the_problem(patterns: object, ids: list[str] | None, message: str) -> None:
    with pytest.raises(BadInput) as caught:
        check_patterns(patterns, ids)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
