"""Pre-game context for a batch of games to forecast: who plays whom, on which date, and the
finished results their team ratings are computed from (the store's plus the batch's own).

Only results dated before the batch's last date are read. Where the model set's ratings keep a
checkpoint (the state after its training games) and every game asked about comes after its
day, only the results after that day are read and replayed, once the store's results up to it
still add up to the checkpoint's totals (count, sum, sum of squares of the margins); else the
whole store is replayed. Both give the same ratings. A model set with another checkpoint than
the one a ``Matchups`` was built for (an A/B test's other arm) gets its own history.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from nbalife.errors import BadInput, quoted

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from sqlalchemy import Engine

    from nbalife.forecast.modelset import ModelSet

RATINGS, UNKNOWN_TEAM, NONE = "ratings", "unknown-team", "none"  # predictions.context values
_COLUMNS = ["game_id", "season", "game_date", "home", "away", "final_diff"]


@dataclass(frozen=True)
class Matchups:
    """The games asked about (one row per forecast, in order) and the finished results before
    them (``history``: the store's, plus the batch's own, which count for later dates only)."""

    games: pd.DataFrame
    history: pd.DataFrame
    checkpoint: dict | None = None  # history holds only the results after this one's day
    engine: Engine | None = None  # with ``own``: to rebuild it for another model set's ratings
    own: pd.DataFrame | None = None  # the whole batch (its results count for later dates)

    def subset(self, index: list[int]) -> Matchups:
        """The same context for the games at ``index`` (the batch's results still count)."""
        return replace(self, games=self.games.iloc[index].reset_index(drop=True))


@dataclass(frozen=True)
class GameContext:
    """Each game's pre-game edge for ``ModelSet.predict`` (None: pattern-only) and its label."""

    edge: np.ndarray | None
    labels: list[str]


def season_of(day: dt.date) -> str:
    """The NBA season label of a date: July onwards starts a season (``2023-10-24`` → ``2023-24``)."""
    first = day.year if day.month >= 7 else day.year - 1
    return f"{first}-{(first + 1) % 100:02d}"


def parse_matchup(matchup: str) -> tuple[str, str]:
    """``AWAY@HOME`` as (away, home); bad input names the value."""
    if "@" not in matchup:
        raise BadInput(f"--matchup {quoted(matchup)}: expected AWAY@HOME, e.g. BOS@LAL")
    away, _, home = (part.strip() for part in matchup.partition("@"))
    if not away or not home or "@" in home:
        raise BadInput(f"--matchup {quoted(matchup)}: a team code is empty (expected AWAY@HOME)")
    if away == home:
        raise BadInput(f"--matchup {quoted(matchup)}: {away} cannot play itself")
    return away, home


def parse_game_day(text: str) -> dt.date:
    """``--date`` as a date; anything but ``YYYY-MM-DD`` is bad input naming it."""
    from nbalife.interchange import parse_game_date

    day = parse_game_date(text) if len(text.strip()) == 10 else None
    if day is None:
        raise BadInput(f"--date {quoted(text)} is not a date (YYYY-MM-DD)")
    return day


def single_game(game_id: str, matchup: str | None, date: str | None) -> pd.DataFrame | None:
    """The one game of ``--game-id`` with ``--matchup`` and ``--date`` (both or neither)."""
    if matchup is None and date is None:
        return None
    if matchup is None or date is None:
        raise BadInput(f"{'--date' if matchup is None else '--matchup'} needs "
                       f"{'--matchup' if matchup is None else '--date'} (context needs both)")
    away, home = parse_matchup(matchup)
    day = parse_game_day(date)
    import pandas as pd

    return pd.DataFrame({"game_id": [game_id], "season": [season_of(day)],
                         "game_date": [day.isoformat()], "home": [home], "away": [away],
                         "final_diff": [float("nan")]})


def with_store(engine: Engine, games: pd.DataFrame, models: ModelSet | None = None) -> Matchups:
    """``games`` with the store's finished results and their own as history (from ``models``'
    ratings checkpoint where it applies)."""
    import pandas as pd

    from nbalife.store.engine import reachable
    from nbalife.store.games import read_results, result_totals

    own = games[_COLUMNS].astype({"final_diff": float}).reset_index(drop=True)
    dates = sorted({str(day) for day in own["game_date"]})
    first, last = (dt.date.fromisoformat(dates[0]), dt.date.fromisoformat(dates[-1])) if dates \
        else (None, None)
    point = getattr(models.ratings, "checkpoint_", None) if models and models.ratings else None
    day = None if point is None else dt.date.fromisoformat(point["day"])
    with reachable(engine), engine.connect() as conn:
        start = day is not None and first is not None and first > day and \
            list(result_totals(conn, until=day)) == point["totals"]
        stored = read_results(conn, after=day if start else None, before=last)
    stored = stored[~stored["game_id"].isin(own["game_id"])]
    return Matchups(own, pd.concat([stored, own], ignore_index=True), point if start else None,
                    engine, own)


def game_context(models: ModelSet, matchups: Matchups | None, n: int) -> GameContext:
    """Edges and labels of ``n`` games: "ratings", "unknown-team" (a team with no earlier game
    got the mean rating), or "none" (no matchup, or a pattern-only model set)."""
    if matchups is not None and matchups.checkpoint is not None and models.ratings is not None \
            and getattr(models.ratings, "checkpoint_", None) != matchups.checkpoint:
        # built from another model set's checkpoint (an A/B test's other arm): this set's own
        matchups = replace(with_store(matchups.engine, matchups.own, models), games=matchups.games)
    pregame = None if matchups is None else models.pregame(
        matchups.games, matchups.history, start=matchups.checkpoint is not None)
    if pregame is None or models.context is None:
        return GameContext(None, [NONE] * n)
    known = pregame.known_home & pregame.known_away
    return GameContext(pregame.edge, [RATINGS if k else UNKNOWN_TEAM for k in known])
