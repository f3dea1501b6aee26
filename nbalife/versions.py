"""Version numbers and their lineage: semver parsing, ordering, and the number a new version gets.

A new version derives from a base: a recalibration is a patch of it, a Dejavu update or an LSTM
retrain a minor step, a full ``train`` or a change by hand a major step. When the natural number
is taken (or was, before gc), the next free number at that level is used.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from enum import Enum

from nbalife.errors import BadInput, quoted

MAX_PART = 999_999
"""The largest number each of MAJOR, MINOR and PATCH may be (so a version is at most 20 characters)."""
_SEMVER = re.compile(r"(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})", re.ASCII)
_SHOWN = 48  # characters of a bad value quoted in the error line (its repr, cut)


class ChangeKind(str, Enum):
    """Why a model set was made; decides which part of the version number moves."""

    RECALIBRATION = "recalibration"  # patch
    DEJAVU_UPDATE = "dejavu_update"  # minor
    LSTM_RETRAIN = "lstm_retrain"  # minor
    TRAIN = "train"  # major: every part refitted
    MANUAL = "manual"  # major

    @classmethod
    def parse(cls, kind: ChangeKind | str) -> ChangeKind:
        """``kind`` as a ChangeKind; BadInput listing the choices otherwise."""
        try:
            return cls(kind)
        except ValueError:
            choices = ", ".join(k.value for k in cls)
            raise BadInput(f"invalid kind of change {kind!r}: expected one of {choices}") from None

    @property
    def level(self) -> int:
        """Index of the semver part this kind moves: 0 major, 1 minor, 2 patch."""
        return {ChangeKind.RECALIBRATION: 2, ChangeKind.DEJAVU_UPDATE: 1, ChangeKind.LSTM_RETRAIN: 1}.get(self, 0)


def parse_version(text: str, what: str = "version") -> tuple[int, int, int]:
    """``"1.2.0"`` -> ``(1, 2, 0)``. Anything but plain ASCII MAJOR.MINOR.PATCH, each part at
    most MAX_PART without leading zeros, is BadInput naming ``what`` and the value (repr, cut)."""
    match = _SEMVER.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise BadInput(f"invalid {what} {quoted(text, _SHOWN)}: expected MAJOR.MINOR.PATCH of plain digits, "
                       f"each 0..{MAX_PART}, e.g. 1.2.0")
    major, minor, patch = (int(g) for g in match.groups())
    return major, minor, patch


def checked_version(text: str | None, what: str = "version") -> str | None:
    """``text`` unchanged once it parses as a version (None passes); the one check a version
    from the command line goes through (BadInput naming ``what`` otherwise)."""
    if text is not None:
        parse_version(text, what)
    return text


def is_version(text: str) -> bool:
    """True when ``text`` is a version parse_version accepts (e.g. a folder name)."""
    return isinstance(text, str) and _SEMVER.fullmatch(text) is not None


def newest_first(versions: Iterable[str]) -> list[str]:
    """Versions ordered by semver (not string), newest first."""
    return sorted(versions, key=parse_version, reverse=True)


def next_version(used: Collection[str], kind: ChangeKind, base: str | None = None) -> str:
    """The version ``kind`` derives from ``base`` (default: the highest of ``used``; 1.0.0 when
    there is none): its part at ``kind.level`` goes up by one, lower parts reset to 0, and while
    that number is in ``used`` the part goes up again. From 1.2.0 with 1.3.0 taken, a
    recalibration is 1.2.1 and an LSTM retrain 1.4.0."""
    if base is None:
        ordered = newest_first(used)
        if not ordered:
            return "1.0.0"
        base = ordered[0]
    parts = list(parse_version(base))
    level = ChangeKind(kind).level
    parts[level + 1:] = [0] * (2 - level)
    taken = {parse_version(v) for v in used}
    while True:
        parts[level] += 1
        if parts[level] > MAX_PART:
            raise BadInput(f"no free version after {base} at that level: numbers stop at {MAX_PART}")
        if tuple(parts) not in taken:
            return ".".join(map(str, parts))
