"""Games as the arrays the forecasters use, and the checks every forecaster applies to them.

A pattern is ``d0 … d18`` (19 numbers, ``d0 = 0``): what is known at 6:00 left in the 2nd
quarter. The target is ``d24``; every forecaster learns the future move ``d24 - d18``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from nbalife.errors import BadInput
from nbalife.interchange import DIFF_COLUMNS, PATTERN_COLUMNS

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pandas as pd

PATTERN_LENGTH = len(PATTERN_COLUMNS)  # 19: d0..d18
LAST = PATTERN_LENGTH - 1  # index of d18, the value every pattern is aligned to
TARGET_COLUMN = DIFF_COLUMNS[-1]  # d24


@dataclass(frozen=True)
class GameArrays:
    """The games of a frame as arrays: patterns, halftime targets and identities.

    ``X`` is float32 ``(n, 19)``; ``y`` is ``d24`` as float64 (``None`` when the frame has no
    outcomes); ``dates`` are ``datetime64[D]``; ids and teams are unicode arrays.
    """

    X: np.ndarray
    y: np.ndarray | None
    game_ids: np.ndarray
    dates: np.ndarray
    home: np.ndarray
    away: np.ndarray

    def __len__(self) -> int:
        return len(self.X)

    @property
    def moves(self) -> np.ndarray:
        """The future moves ``d24 - d18`` (what the forecasters learn)."""
        if self.y is None:
            raise BadInput("these games have no halftime differential (d24), so no future move")
        return self.y - self.X[:, LAST]


def to_arrays(frame: pd.DataFrame, *, require_target: bool = True) -> GameArrays:
    """Convert a games frame (``nbalife.interchange`` format) into checked arrays.

    Without ``require_target``, ``y`` is None unless every game has its ``d24``.
    """
    missing = [c for c in ["game_id", "game_date", "home", "away", *PATTERN_COLUMNS]
               if c not in frame.columns]
    if require_target and TARGET_COLUMN not in frame.columns:
        missing.append(TARGET_COLUMN)
    if missing:
        raise BadInput(f"games: missing column(s) {', '.join(missing)}")
    game_ids = frame["game_id"].astype(str).to_numpy(dtype=str)
    try:
        values = frame[PATTERN_COLUMNS + [TARGET_COLUMN] * (TARGET_COLUMN in frame.columns)]
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        raise BadInput("games: d0..d24 must be numbers") from None
    X = check_patterns(numbers[:, :len(PATTERN_COLUMNS)], game_ids)
    y = None
    if numbers.shape[1] > len(PATTERN_COLUMNS) and (require_target
                                                    or np.isfinite(numbers[:, -1]).all()):
        y = check_values(TARGET_COLUMN, numbers[:, -1], len(X), game_ids)
    return GameArrays(
        X=X,
        y=y,
        game_ids=game_ids,
        dates=check_dates(frame["game_date"].astype(str).to_numpy(dtype=str), len(X)),
        home=frame["home"].astype(str).to_numpy(dtype=str),
        away=frame["away"].astype(str).to_numpy(dtype=str),
    )


def _label(row: int, game_ids: Sequence[str] | np.ndarray | None) -> str:
    if game_ids is not None and row < len(game_ids):
        return f"game {game_ids[row]}"
    return f"row {row}"


def check_patterns(X: object, game_ids: Sequence[str] | np.ndarray | None = None) -> np.ndarray:
    """Return ``X`` as a C-contiguous float32 ``(n, 19)`` matrix, or raise BadInput.

    A 1-D input of 19 numbers is one pattern. Rejected, with a one-line message naming the game
    (or row): a pattern with the wrong number of values, a missing or infinite value, ``d0 != 0``.
    """
    array = X if isinstance(X, np.ndarray) and X.dtype != object else _rectangular(X, game_ids)
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2:
        raise BadInput(f"patterns must be a 2-D array (games x {PATTERN_LENGTH}), "
                       f"got {array.ndim} dimensions")
    if array.shape[1] != PATTERN_LENGTH:
        raise BadInput(f"pattern for {_label(0, game_ids)} has {array.shape[1]} values, "
                       f"expected {PATTERN_LENGTH} (d0..d{LAST})")
    try:
        values = array.astype(np.float64)
    except (TypeError, ValueError):
        raise BadInput("patterns must be numbers") from None
    bad = ~np.isfinite(values)
    if bad.any():
        row, column = np.argwhere(bad)[0]
        raise BadInput(f"pattern for {_label(row, game_ids)} has a missing or infinite value "
                       f"at d{column}")
    nonzero = np.flatnonzero(values[:, 0] != 0)
    if nonzero.size:
        row = nonzero[0]
        raise BadInput(f"pattern for {_label(row, game_ids)} has d0 = {values[row, 0]:g}, "
                       "expected 0 (the game starts level)")
    return np.ascontiguousarray(values, dtype=np.float32)


def _rectangular(X: object, game_ids: Sequence[str] | np.ndarray | None) -> np.ndarray:
    """Nested sequences as a 2-D array, naming the first pattern of the wrong length."""
    try:
        rows = list(X)  # type: ignore[call-overload]
    except TypeError:
        raise BadInput("patterns must be a sequence of 19-number patterns") from None
    if rows and all(np.ndim(value) == 0 for value in rows):
        rows = [rows]
    for row, values in enumerate(rows):
        if np.ndim(values) != 1 or len(values) != PATTERN_LENGTH:
            raise BadInput(f"pattern for {_label(row, game_ids)} has {np.size(values)} values, "
                           f"expected {PATTERN_LENGTH} (d0..d{LAST})")
    try:
        return np.asarray(rows, dtype=np.float64).reshape(len(rows), PATTERN_LENGTH)
    except (TypeError, ValueError):
        raise BadInput("patterns must be numbers") from None


def check_values(name: str, values: object, n: int,
                 game_ids: Sequence[str] | np.ndarray | None = None) -> np.ndarray:
    """Return ``values`` as a finite float64 vector of length ``n``, or raise BadInput."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise BadInput(f"{name} must be numbers") from None
    if array.ndim != 1 or len(array) != n:
        raise BadInput(f"{name} has shape {array.shape}, expected ({n},) (one per game)")
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        raise BadInput(f"{name} for {_label(bad[0], game_ids)} is missing or infinite")
    return array


def check_labels(name: str, values: object, n: int) -> np.ndarray:
    """Return text labels (ids, teams) as a unicode vector of length ``n``, or raise BadInput."""
    array = np.asarray(values).astype(str)
    if array.ndim != 1 or len(array) != n:
        raise BadInput(f"{name} has shape {array.shape}, expected ({n},) (one per game)")
    return array


def check_dates(values: object, n: int) -> np.ndarray:
    """ISO dates (text, ``date`` or ``datetime64``) as ``datetime64[D]``, or raise BadInput."""
    raw = np.asarray(values)
    if raw.ndim != 1 or len(raw) != n:
        raise BadInput(f"dates have shape {raw.shape}, expected ({n},) (one per game)")
    text = raw.astype("<U10") if raw.dtype.kind in "USO" else raw
    try:
        return text.astype("datetime64[D]")
    except (TypeError, ValueError):
        for value in text:
            try:
                np.datetime64(value, "D")
            except (TypeError, ValueError):
                raise BadInput(f"date {str(value)!r} is not an ISO date (YYYY-MM-DD)") from None
        raise
