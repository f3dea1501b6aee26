"""The interchange format for games: columns, reading, writing and validation.

A game is ``game_id, season, game_date, home, away, d0 … d24[, final_diff]`` where
``dm`` is the home-minus-away differential at the end of first-half minute ``m``.
Files are CSV or Parquet with the same columns; extra columns are carried along.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nbalife.errors import BadInput

if TYPE_CHECKING:
    import pandas as pd

MINUTES = 24
PATTERN_MINUTES = 18
DIFF_COLUMNS = [f"d{m}" for m in range(MINUTES + 1)]
PATTERN_COLUMNS = DIFF_COLUMNS[: PATTERN_MINUTES + 1]
FUTURE_COLUMNS = DIFF_COLUMNS[PATTERN_MINUTES + 1 :]
ID_COLUMNS = ["game_id", "season", "game_date", "home", "away"]
GAME_COLUMNS = ID_COLUMNS + DIFF_COLUMNS + ["final_diff"]
MAX_MINUTE_CHANGE = 15


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
            f"{path}: row {self.row} (game {self.game_id or '?'}): "
            f"column {self.column} = {self.value!r}: {self.reason}"
        )


def file_format(path: Path) -> str:
    """'csv' or 'parquet' from the file name; anything else is bad input."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in {".parquet", ".pq"}:
        return "parquet"
    raise BadInput(f"{path}: unknown file type {suffix!r} (use .csv or .parquet)")


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
    required = ID_COLUMNS + (DIFF_COLUMNS if require_future else PATTERN_COLUMNS)
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise BadInput(f"{path}: missing column(s) {', '.join(missing)}")
    return frame


def _check_row(row: dict, line: int, diff_columns: list[str]) -> Rejection | None:
    import datetime as dt
    import math

    game_id = str(row.get("game_id", "")).strip()

    def bad(column: str, reason: str) -> Rejection:
        return Rejection(line, game_id, column, str(row.get(column, "")), reason)

    for column in ("game_id", "season", "home", "away"):
        if not str(row.get(column, "")).strip() or str(row.get(column)) in {"nan", "None"}:
            return bad(column, "missing value")
    try:
        dt.date.fromisoformat(str(row["game_date"]).strip()[:10])
    except ValueError:
        return bad("game_date", "not a valid ISO date (YYYY-MM-DD)")
    previous = None
    for column in diff_columns:
        text = str(row.get(column, "")).strip()
        if text in {"", "nan", "NaN", "None", "<NA>"}:
            return bad(column, "missing value")
        try:
            value = float(text)
        except ValueError:
            return bad(column, "not a number")
        if not math.isfinite(value):
            return bad(column, "not a finite number")
        if value != int(value):
            return bad(column, "not a whole number of points")
        if column == "d0" and value != 0:
            return bad(column, "d0 must be 0 (the game starts level)")
        if previous is not None and abs(value - previous) > MAX_MINUTE_CHANGE:
            return bad(column, f"changes by {abs(value - previous):g} points in one minute "
                               f"(more than {MAX_MINUTE_CHANGE})")
        previous = value
    final = str(row.get("final_diff", "")).strip()
    if final not in {"", "nan", "NaN", "None", "<NA>"}:
        try:
            value = float(final)
        except ValueError:
            return bad("final_diff", "not a number")
        if not math.isfinite(value) or value != int(value):
            return bad("final_diff", "not a whole number of points")
    return None


def validate(frame: pd.DataFrame, *, require_future: bool = True) -> tuple[pd.DataFrame, list[Rejection]]:
    """Split a raw frame into typed valid games and rejections (row numbers are file lines)."""
    import pandas as pd

    diff_columns = DIFF_COLUMNS if require_future else PATTERN_COLUMNS
    rejections: list[Rejection] = []
    keep: list[int] = []
    seen: dict[str, int] = {}
    columns = list(frame.columns)
    records = (dict(zip(columns, values)) for values in frame.to_numpy(dtype=object))
    for index, row in enumerate(records):
        line = index + 2  # header is line 1
        rejection = _check_row(row, line, diff_columns)
        if rejection is None:
            game_id = str(row["game_id"]).strip()
            if game_id in seen:
                rejection = Rejection(line, game_id, "game_id", game_id,
                                      f"duplicate of row {seen[game_id]}")
            else:
                seen[game_id] = line
        if rejection is None:
            keep.append(index)
        else:
            rejections.append(rejection)
    valid = frame.iloc[keep].copy()
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


def load_games(path: Path, *, require_future: bool = True) -> pd.DataFrame:
    """Read and validate a games file; the first invalid row is a BadInput naming it."""
    frame = read_frame(path, require_future=require_future)
    valid, rejections = validate(frame, require_future=require_future)
    if rejections:
        raise BadInput(rejections[0].message(Path(path)))
    return valid


def write_games(frame: pd.DataFrame, path: Path) -> Path:
    """Write a frame atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    kind = file_format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        if kind == "csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
