"""One rule for a whole number and a number in a parameter: a bool is neither."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from nbalife.checks import is_number, is_whole


@pytest.mark.parametrize(("value", "whole", "number"), [
    (3, True, True), (np.int64(3), True, True), (np.uint8(0), True, True),
    (True, False, False), (np.bool_(True), False, False),
    (2.0, False, True), (np.float32(0.5), False, True), (float("nan"), False, True), (Fraction(1, 2), False, True),
    ("3", False, False), (None, False, False), (1j, False, False),
])
def test_whole_numbers_and_numbers(value: object, whole: bool, number: bool) -> None:
    assert (is_whole(value), is_number(value)) == (whole, number)


def test_estimators_refuse_a_bool_for_a_count() -> None:
    from nbalife.errors import BadInput
    from nbalife.forecast.dejavu import Dejavu

    with pytest.raises(BadInput, match=r"k=True must be a whole number >= 1"):
        Dejavu(k=True).fit(np.zeros((3, 19)), np.zeros(3), ["a", "b", "c"], ["2021-01-01"] * 3,
                           ["BOS"] * 3, ["NYK"] * 3)
