"""Cron arithmetic in the league's time: at which instants of a day a 5-field cron expression
fires, and a local time of day as a UTC instant."""

from __future__ import annotations

import datetime as dt

from nbalife.errors import BadInput

# The league's time zone: game dates and cron times are local to it, whatever the host's clock.
ZONE = "America/New_York"
_LIMITS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))


def _values(text: str, low: int, high: int) -> set[int]:
    """The values one cron field (``*``, ``N``, ``A-B``, ``*/S``, ``A-B/S``, lists) allows."""
    allowed: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        try:
            step = int(step_text) if step_text else 1
            first, last = ((low, high) if base == "*" else
                           tuple(int(x) for x in base.split("-")) if "-" in base else
                           (int(base), high if step_text else int(base)))
        except ValueError:
            raise BadInput(f"cron field {text!r}: not a number, range or */step") from None
        if step < 1 or not low <= first <= last <= high:
            raise BadInput(f"cron field {text!r}: outside {low}-{high}")
        allowed.update(range(first, last + 1, step))
    return allowed


def fire_times(expression: str, day: dt.date, zone: str = ZONE) -> list[dt.datetime]:
    """The times (UTC) on ``day`` in ``zone`` at which the 5-field cron ``expression`` fires (cron's rule: when
    both day-of-month and day-of-week are restricted, either one matching is enough)."""
    fields = expression.split()
    if len(fields) != 5:
        raise BadInput(f"cron expression {expression!r}: expected 5 fields")
    minutes, hours, doms, months, dows = (_values(f, lo, hi) for f, (lo, hi) in zip(fields, _LIMITS))
    dows = {d % 7 for d in dows}
    dom_ok, dow_ok = day.day in doms, (day.weekday() + 1) % 7 in dows
    restricted = fields[2] != "*" and fields[4] != "*"
    if day.month not in months or not ((dom_ok or dow_ok) if restricted else (dom_ok and dow_ok)):
        return []
    return [local_at(day, dt.time(h, m), zone) for h in sorted(hours) for m in sorted(minutes)]


def local_at(day: dt.date, time_of_day: dt.time, zone: str = ZONE) -> dt.datetime:
    """``time_of_day`` on ``day`` in ``zone``, as an aware UTC datetime."""
    from zoneinfo import ZoneInfo

    return dt.datetime.combine(day, time_of_day, ZoneInfo(zone)).astimezone(dt.timezone.utc)
