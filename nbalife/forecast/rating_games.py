"""Games as arrays for team ratings (``nbalife.forecast.ratings``): team indices, day numbers,
season ranks and results, checked, from a frame of games to ask about and a frame of history."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from nbalife.errors import BadInput
from nbalife.forecast.patterns import check_dates

if TYPE_CHECKING:
    import pandas as pd

_COLUMNS = ("game_id", "season", "game_date", "home", "away")


@dataclass(frozen=True)
class Games:
    """Games as arrays: team indices into ``teams``, day numbers, season ranks (labels in
    order: ``2021-22`` < ``2022-23``), results (NaN where a game has none)."""

    teams: np.ndarray
    home: np.ndarray
    away: np.ndarray
    day: np.ndarray
    season: np.ndarray
    final: np.ndarray
    start_season: int = -1  # the rank of the first extra season given to ``_combine``, if any


def frame_arrays(frame: pd.DataFrame, what: str) -> dict[str, np.ndarray]:
    missing = [c for c in _COLUMNS if c not in frame.columns]
    if missing:
        raise BadInput(f"{what}: missing column(s) {', '.join(missing)}")
    n = len(frame)
    final = np.full(n, np.nan)
    if "final_diff" in frame.columns:
        try:
            final = np.asarray(frame["final_diff"].to_numpy(dtype=np.float64, na_value=np.nan),
                               dtype=np.float64)
        except (TypeError, ValueError):
            raise BadInput(f"{what}: final_diff must be numbers") from None
    home = frame["home"].to_numpy(dtype=str)
    away = frame["away"].to_numpy(dtype=str)
    same = np.flatnonzero(home == away)
    if same.size:
        raise BadInput(f"{what}: game {frame['game_id'].iloc[same[0]]} has team "
                       f"{home[same[0]]!r} on both sides")
    return {"game_id": frame["game_id"].to_numpy(dtype=str),
            "season": frame["season"].to_numpy(dtype=str),
            "day": check_dates(frame["game_date"].to_numpy(dtype=str), n)
            .astype(np.int64),
            "home": home, "away": away, "final": final}


def combine(history: pd.DataFrame | None, games: pd.DataFrame, teams: tuple[str, ...] = (),
             seasons: tuple[str, ...] = ()) -> tuple[Games, int]:
    """Queries first (``games``), then history games not among them; returns the query count.
    ``teams`` and ``seasons`` (a checkpoint's) join the indices even without games."""
    parts = [frame_arrays(games, "games")]
    if history is not None:
        past = frame_arrays(history, "history")
        keep = ~np.isin(past["game_id"], parts[0]["game_id"])
        parts.append({key: value[keep] for key, value in past.items()})
    joined = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
    n = len(joined["home"])
    names, index = np.unique(np.concatenate([joined["home"], joined["away"], np.array(teams, str)]),
                             return_inverse=True)
    season = np.unique(np.concatenate([joined["season"], np.array(seasons, str)]),
                       return_inverse=True)[1]
    return Games(teams=names, home=index[:n], away=index[n:2 * n], day=joined["day"],
                  season=season[:n], final=joined["final"],
                  start_season=int(season[n]) if seasons else -1), len(parts[0]["home"])
