"""The interchange format for games: columns, reading, writing and validation.

A game is ``game_id, season, game_date, home, away, d0 … d24[, final_diff]`` where
``dm`` is the home-minus-away differential at the end of first-half minute ``m``.
Files are CSV or Parquet with the same columns; extra columns are carried along.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from nbalife.errors import BadInput, quoted
from nbalife.files import check_output_path, write_atomic

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

MINUTES = 24
PATTERN_MINUTES = 18
DIFF_COLUMNS = [f"d{m}" for m in range(MINUTES + 1)]
PATTERN_COLUMNS = DIFF_COLUMNS[: PATTERN_MINUTES + 1]
FUTURE_COLUMNS = DIFF_COLUMNS[PATTERN_MINUTES + 1 :]
ID_COLUMNS = ["game_id", "season", "game_date", "home", "away"]
GAME_COLUMNS = ID_COLUMNS + DIFF_COLUMNS + ["final_diff"]
MAX_MINUTE_CHANGE = 15
MAX_FINAL_DIFF = 150  # points; the largest NBA final margin is 73
_IDENTITIES = ("game_id", "season", "home", "away")  # checked for a missing value, in this order
_MISSING = frozenset({"", "nan", "NaN", "None", "<NA>"})
D0_REASON = "d0 must be 0 (the game starts level)"
_T = TypeVar("_T")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ISO_TIME = re.compile(r"[0-9]{2}(:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?")


@dataclass(frozen=True)
class Rejection:
    """One invalid row: its 1-based line in the file, the column, the value and why."""

    row: int
    game_id: str
    column: str
    value: str
    reason: str

    def message(self, path: Path) -> str:
        return (
            f"{path}: row {self.row} (game {quoted(self.game_id)[1:-1] if self.game_id else '?'}): "
            f"column {self.column} = {quoted(self.value)}: {self.reason}"
        )


def file_format(path: Path) -> str:
    """'csv' or 'parquet' from the file name; anything else is bad input."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in {".parquet", ".pq"}:
        return "parquet"
    raise BadInput(f"{path}: unknown file type {suffix!r} (use .csv or .parquet)")


def check_output(path: Path, *, source: Path | None = None, option: str | None = None) -> None:
    """Bad input unless ``path`` can take a games file: a known suffix, then the checks every
    output path gets (``files.check_output_path``: an existing folder, not a folder itself, not
    the ``source`` file being read)."""
    try:
        file_format(Path(path))
    except BadInput as exc:  # the same words, naming the option too
        raise BadInput(f"{option} {exc}" if option else str(exc)) from None
    check_output_path(path, option=option, source=source)


def read_frame(path: Path, *, require_future: bool = True) -> pd.DataFrame:
    """Read a games file as text-typed columns, checking only that the columns exist."""
    import pandas as pd

    path = Path(path)
    kind = file_format(path)
    if not path.is_file():
        raise BadInput(f"{path}: no such file")
    try:
        if kind == "csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        else:
            frame = pd.read_parquet(path)
    except Exception as exc:  # pandas/pyarrow raise many types for unreadable files
        raise BadInput(f"{path}: cannot read {kind}: {str(exc).splitlines()[0]}") from exc
    repeated = [c for c in GAME_COLUMNS if f"{c}.1" in frame.columns]  # pandas renames a CSV's repeats
    if repeated:
        raise BadInput(f"{path}: column {repeated[0]} appears more than once")
    required = ID_COLUMNS + (DIFF_COLUMNS if require_future else PATTERN_COLUMNS)
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise BadInput(f"{path}: missing column(s) {', '.join(missing)}")
    return frame


def _id_reason(text: str) -> str | None:
    return "missing value" if not text.strip() or text in {"nan", "None"} else None


def parse_game_date(text: str) -> dt.date | None:
    """The date of ``YYYY-MM-DD`` (ASCII digits), alone or followed by ``T`` or a space and an ISO
    time (``2023-11-02T19:30:00-04:00``); None for anything else, trailing words included."""
    text = text.strip()
    if not _ISO_DATE.fullmatch(text[:10]):
        return None
    try:
        day = dt.date.fromisoformat(text[:10])
        if len(text) > 10 and (text[10] not in "T " or not _ISO_TIME.fullmatch(text[11:])):
            return None
        if len(text) > 10:
            dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return day


def _date_reason(text: str) -> str | None:
    """None for a ``parse_game_date`` date."""
    return None if parse_game_date(text) is not None else "not a valid ISO date (YYYY-MM-DD)"


def parse_number(text: str) -> float | None:
    """``text`` as a float, or None: plain ASCII only (``float`` also takes ``1_0`` and
    non-ASCII digits, which pandas then cannot read)."""
    if not text.isascii() or "_" in text:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def minute_change_reason(change: float) -> str:
    """Why a differential that moved ``change`` points in one minute is refused."""
    return f"changes by {change:g} points in one minute (more than {MAX_MINUTE_CHANGE})"


def _points(text: str) -> tuple[float, str | None]:
    """A differential cell's value, or NaN and why it is not a whole number of points."""
    text = text.strip()
    if text in _MISSING:
        return math.nan, "missing value"
    value = parse_number(text)
    if value is None:
        return math.nan, "not a number"
    if not math.isfinite(value):
        return math.nan, "not a finite number"
    if value != int(value):
        return math.nan, "not a whole number of points"
    return value, None


def pattern_values(texts: list[str], where: str) -> list[float]:
    """``d0..d18`` from their texts by ``validate``'s rules, or BadInput naming ``where``, the
    first failing column, its text and the reason (one game's ``_diff_reasons``)."""
    values: list[float] = []
    for column, text in zip(PATTERN_COLUMNS, texts, strict=True):
        value, reason = _points(text)
        if reason is None and column == "d0" and value != 0:
            reason = D0_REASON
        if reason is None and values and abs(value - values[-1]) > MAX_MINUTE_CHANGE:
            reason = minute_change_reason(abs(value - values[-1]))
        if reason is not None:
            raise BadInput(f"{where}: {column} = {quoted(text)}: {reason}")
        values.append(value)
    return values


def _final_reason(text: str) -> str | None:
    text = text.strip()
    if text in _MISSING:
        return None
    value = parse_number(text)
    if value is None:
        return "not a number"
    if not math.isfinite(value) or value != int(value):
        return "not a whole number of points"
    if abs(value) > MAX_FINAL_DIFF:
        return f"more than {MAX_FINAL_DIFF} points"
    return None


def _cell_texts(frame: pd.DataFrame, columns: list[str]) -> dict[str, np.ndarray]:
    """``str`` of each cell of ``columns`` as object arrays ("" for every row of an absent one)."""
    import numpy as np

    cells = frame.to_numpy(dtype=object)
    position = {name: i for i, name in enumerate(frame.columns)}  # a repeated name: the last
    return {
        column: np.array([str(v) for v in cells[:, position[column]]], dtype=object)
        if column in position else np.full(len(frame), "", dtype=object)
        for column in columns
    }


def _by_text(texts: np.ndarray, rule: Callable[[str], _T]) -> tuple[np.ndarray, list[_T]]:
    """``rule`` applied once per distinct text: each row's code and the result per code."""
    import pandas as pd

    codes, uniques = pd.factorize(texts)
    return codes, [rule(text) for text in uniques]


def _reasons(texts: np.ndarray, rule: Callable[[str], str | None]) -> np.ndarray:
    """Each row's reason from ``rule`` (None: the cell is valid), as an object array."""
    import numpy as np

    codes, reasons = _by_text(texts, rule)
    return np.array(reasons, dtype=object)[codes]


def _diff_reasons(texts: dict[str, np.ndarray],
                  diff_columns: list[str]) -> Iterator[tuple[str, np.ndarray]]:
    """Each differential column with each row's reason, judged as if the columns before it
    were valid (only a row's first failing column is reported)."""
    import numpy as np

    previous = None
    for column in diff_columns:
        codes, parsed = _by_text(texts[column], _points)
        values = np.array([value for value, _ in parsed], dtype=np.float64)[codes]
        reasons = np.array([reason for _, reason in parsed], dtype=object)[codes]
        valid = np.array([reason is None for _, reason in parsed], dtype=bool)[codes]
        if column == "d0":
            reasons[valid & (values != 0)] = D0_REASON
        if previous is not None:
            change = np.abs(values - previous)
            for index in np.flatnonzero(valid & (change > MAX_MINUTE_CHANGE)):
                reasons[index] = minute_change_reason(float(change[index]))
        previous = values
        yield column, reasons


def _first_failures(texts: dict[str, np.ndarray], game_ids: np.ndarray,
                    diff_columns: list[str]) -> tuple[dict[int, Rejection], np.ndarray]:
    """Each invalid row's first failing check (identities, game_date, differentials,
    final_diff, in that order) by row index, and the mask of the rows that pass them all."""
    import numpy as np
    import pandas as pd

    checks = [(column, _reasons(texts[column], _id_reason)) for column in _IDENTITIES]
    checks.append(("game_date", _reasons(texts["game_date"], _date_reason)))
    checks.extend(_diff_reasons(texts, diff_columns))
    checks.append(("final_diff", _reasons(texts["final_diff"], _final_reason)))
    failures: dict[int, Rejection] = {}
    pending = np.ones(len(game_ids), dtype=bool)
    for column, reasons in checks:
        failed = pending & pd.notna(reasons)
        for index in np.flatnonzero(failed).tolist():
            failures[index] = Rejection(index + 2, game_ids[index], column, texts[column][index],
                                        reasons[index])
        pending &= ~failed
    return failures, pending


def _duplicates(game_ids: np.ndarray, rows: np.ndarray) -> dict[int, Rejection]:
    """Those of ``rows`` whose game id an earlier one of them already has."""
    import pandas as pd

    ids = pd.Series(game_ids[rows], index=rows, dtype=object)
    repeated = ids.duplicated()
    first = ids[~repeated]
    first_line = dict(zip(first.to_numpy(), (first.index + 2).tolist()))
    return {int(index): Rejection(int(index) + 2, game_id, "game_id", game_id,
                                  f"duplicate of row {first_line[game_id]}")
            for index, game_id in ids[repeated].items()}


def validate(frame: pd.DataFrame, *, require_future: bool = True) -> tuple[pd.DataFrame, list[Rejection]]:
    """Split a raw frame into typed valid games and rejections (row numbers are file lines).

    Cells are judged as their ``str``, once per distinct text and column; a row's rejection
    names its first failing cell (identities, game_date, d0.., final_diff); a valid row
    whose game id an earlier valid row has is a duplicate.
    """
    import numpy as np
    import pandas as pd

    diff_columns = DIFF_COLUMNS if require_future else PATTERN_COLUMNS
    texts = _cell_texts(frame, [*_IDENTITIES, "game_date", *diff_columns, "final_diff"])
    game_ids = np.array([text.strip() for text in texts["game_id"]], dtype=object)
    failures, passed = _first_failures(texts, game_ids, diff_columns)
    duplicates = _duplicates(game_ids, np.flatnonzero(passed))
    passed[list(duplicates)] = False
    failures.update(duplicates)
    rejections = [failures[index] for index in sorted(failures)]
    valid = frame.iloc[np.flatnonzero(passed)].copy()
    for column in ID_COLUMNS:
        valid[column] = valid[column].astype(str).str.strip()
    valid["game_date"] = valid["game_date"].str[:10]
    present = [c for c in DIFF_COLUMNS if c in valid.columns]
    for column in present:
        valid[column] = pd.to_numeric(valid[column], errors="coerce")
    valid[diff_columns] = valid[diff_columns].astype("int64")
    if "final_diff" in valid.columns:
        valid["final_diff"] = pd.to_numeric(valid["final_diff"].replace("", None), errors="coerce").astype("Int64")
    else:
        valid["final_diff"] = pd.array([None] * len(valid), dtype="Int64")
    return valid.reset_index(drop=True), rejections


def load_games(path: Path, *, require_future: bool = True, allow_empty: bool = False) -> pd.DataFrame:
    """Read and validate a games file; the first invalid row is a BadInput naming it.

    A file with a header and no rows is refused, naming it, unless ``allow_empty``: a command
    that needs games to compute anything (train, evaluate, replay) must not run on none. Only
    the commands that pass rows through one by one take it (``predict``: no games tonight, an
    empty forecasts file; ``data ingest`` reads with ``read_frame`` and reports 0 rows)."""
    frame = read_frame(path, require_future=require_future)
    if frame.empty and not allow_empty:
        raise BadInput(f"{path}: no games (the file holds a header and no rows)")
    valid, rejections = validate(frame, require_future=require_future)
    if rejections:
        raise BadInput(rejections[0].message(Path(path)))
    return valid


def write_games(frame: pd.DataFrame, path: Path) -> Path:
    """Write a frame atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    if file_format(path) == "csv":
        return write_atomic(path, lambda tmp: frame.to_csv(tmp, index=False))
    return write_atomic(path, lambda tmp: frame.to_parquet(tmp, index=False))
