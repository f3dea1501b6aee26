"""The one parser of a window's length (``--days``, ``--hours``), for the CLI and the services
alike: a value that would overflow a date, an inverted or empty window, or a non-number is one
BadInput naming the option and the value, before any work or event."""

from __future__ import annotations

import math
from typing import Any

from nbalife.errors import BadInput, cut

MAX_WINDOW_DAYS = 36525  # a century: longer than any store holds, far from datetime's limits
ONE_SECOND_DAYS = 1 / 86400
UNIT_DAYS = {"days": 1.0, "hours": 1 / 24}


def window_length(value: Any, *, option: str = "--days", unit: str = "days", low_days: float = ONE_SECOND_DAYS,
                  high_days: float = MAX_WINDOW_DAYS) -> float | None:
    """A window length given in ``unit`` (days or hours), as that number; BadInput (exit 2)
    naming ``option`` and the value as typed unless it is a finite number whose length in days
    lies in [``low_days``, ``high_days``]."""
    if value is None:
        return None
    text = str(value).strip()
    shown = f"{option} {cut(text if text.isprintable() else repr(text), 40)}"
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError, OverflowError):
        raise BadInput(f"{shown}: not a number of {unit}") from None
    if not number > 0:  # zero, negative, NaN
        raise BadInput(f"{shown}: must be a positive number of {unit}")
    days = number * UNIT_DAYS[unit]
    if days > high_days:  # infinity too
        raise BadInput(f"{shown}: longer than {high_days * 24 if unit == 'hours' else high_days:g} {unit} "
                       f"(a window reaches back {high_days / 365.25:g} years at most)")
    if days < low_days:
        least = f"{low_days:g} day" if low_days >= 1 else f"{low_days * 86400:g} second"
        raise BadInput(f"{shown}: shorter than {least}{'s' if not least.startswith('1 ') else ''}"
                       + (" (this window counts whole days)" if low_days >= 1 else ""))
    return number
