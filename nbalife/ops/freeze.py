"""The live-game freeze: daily windows in league time (or a zone the setting names) when
production must not change."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from nbalife.errors import BadInput, quoted

_ZONE = re.compile(r"[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+){0,2}")  # what IANA names are made of
_WINDOW = re.compile(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)")


@dataclass(frozen=True)
class Freeze:
    """Daily windows ``(start, end)`` in ``zone``; a window whose end is before its start
    runs past midnight."""

    windows: tuple[tuple[dt.time, dt.time], ...]
    zone: str
    text: str

    def active(self, now: dt.datetime) -> bool:
        """Whether ``now`` (UTC, naive or aware) falls inside a window."""
        from zoneinfo import ZoneInfo

        aware = now if now.tzinfo else now.replace(tzinfo=dt.timezone.utc)
        local = aware.astimezone(ZoneInfo(self.zone)).time()
        for start, end in self.windows:
            inside = start <= local < end if start < end else (local >= start or local < end)
            if inside:
                return True
        return False


def check_zone(zone: str) -> str:
    """An IANA time zone name (``America/New_York``, ``UTC``); anything else is bad input naming it."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        if not isinstance(zone, str) or not _ZONE.fullmatch(zone):
            raise ValueError(zone)
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        raise BadInput(f"time zone {quoted(zone, 60)}: unknown (use an IANA name such as America/New_York)") from None
    return zone


def parse_freeze(text: str, zone: str) -> Freeze:
    """``"HH:MM-HH:MM[, HH:MM-HH:MM ...][ Area/City]"``: the windows in the zone written after
    them or, when none is written, in ``zone`` (the league's, ``league.timezone``); anything
    else is bad input naming it."""
    shown = repr(text[:80])
    spans, _, last = text.strip().rpartition(" ")
    if ":" in last:  # no zone written (a zone name never holds a colon): the league's
        spans, written = text.strip(), None
    else:
        written = last
    if not spans:
        raise BadInput(f"freeze window {shown}: expected 'HH:MM-HH:MM[ Area/City]'")
    try:
        check_zone(written or zone)
    except BadInput:
        raise BadInput(f"freeze window {shown}: unknown time zone {(written or zone)[:60]!r}") from None
    windows = []
    for span in spans.split(","):
        match = _WINDOW.fullmatch(span.strip())
        if not match:
            raise BadInput(f"freeze window {shown}: {span.strip()[:40]!r} is not HH:MM-HH:MM")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if (h1, m1) == (h2, m2):
            raise BadInput(f"freeze window {shown}: {span.strip()!r} is empty")
        windows.append((dt.time(h1, m1), dt.time(h2, m2)))
    return Freeze(tuple(windows), written or zone, text.strip())
