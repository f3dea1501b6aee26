"""What a parameter's value may be: one rule for a whole number and for a number.

A bool is neither (``True`` would pass ``isinstance(value, int)`` as 1); numpy's integers and
floats count, as Python's do. Callers add their own range and message.
"""

from __future__ import annotations

import numbers


def is_whole(value: object) -> bool:
    """An integer (numpy's too), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value: object) -> bool:
    """A real number (an integer or a float, numpy's too), not a bool; NaN is one: check ranges
    as ``not low <= value <= high`` so that it fails them."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)
