"""Team strength as of a date: Elo-style ratings on final margins, leakage-safe.

Each team has a rating (points per game against an average team) and the league has a home
advantage ``h``. Before a game, the expected final margin (home minus away) is its ``edge``,
``r_home - r_away + h``. After each date, every game finished that date moves its two teams by
``update_rate * (final_diff - edge)`` (home up, away down: the ratings keep mean 0) and ``h`` by
``home_rate`` times the same error. All games of a date read the ratings of the evening before,
so no game ever sees its own result, or that of a game played the same day. When a game of a
later season (by its ``season`` label) comes, the ratings shrink toward the mean, ``r *=
carry_over``; a game of that new season asked about before any of its results sees the shrunk
ratings too. A team with no finished game before the date has the mean rating, 0, and is flagged
unknown.

``fit`` picks ``update_rate``, ``carry_over`` and ``home_rate`` from a small grid by the mean
squared error of the pre-game edge against the final margin on the training games (games with
an unknown team left out), starting ``h`` at the training games' mean final margin
(``home_prior_``). Tried against it on the real seasons (splits of benchmarks/bench_context.py):
exponentially weighted Massey least squares with a ridge prior, whose ratings gave the context
component -0.061 (2022-23) and +0.002 (2021-22) against persistence where these gave -0.069 and
+0.011: no better overall, at about 5 times the time per parameter point.

The pass loops over dates only (about 165 a season); every grid point runs in the same pass as a
row of a ``(grid, teams)`` matrix.

A checkpoint (``checkpoint``, saved with the parameters) keeps the state after a history's
results but those of its last day (which a cut may have left incomplete), e.g. the training
games, with the count, sum and sum of squares of the margins it
applied. ``pregame(..., start=True)`` starts from it and applies only later results, so one
game asked about after training reads and replays only the games since (services.matchups
checks first that the store's results up to the checkpoint's day still add up to the same
totals, else replays the whole store): the same numbers as a full pass, at a fraction of the
reads and days.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from nbalife.checks import is_number
from nbalife.errors import BadInput
from nbalife.forecast.artifacts import JsonModel, check_format, field, require_fitted
from nbalife.forecast.patterns import check_dates
from nbalife.forecast.rating_games import Games, combine

if TYPE_CHECKING:
    import pandas as pd

FORMAT = "nbalife.ratings"
JSON_FILE = "ratings.json"
UPDATE_RATES = (0.01, 0.02, 0.03, 0.04, 0.06)
CARRY_OVERS = (0.2, 0.35, 0.5, 0.7, 0.9)
HOME_RATES = (0.0, 0.0005, 0.002)


@dataclass(frozen=True)
class Pregame:
    """Per game, as of the evening before its date: both ratings, the home advantage, and
    whether each team had a finished game before (``False``: it got the mean rating, 0)."""

    home_rating: np.ndarray
    away_rating: np.ndarray
    home_adv: np.ndarray
    known_home: np.ndarray
    known_away: np.ndarray

    def __len__(self) -> int:
        return len(self.home_rating)

    @property
    def edge(self) -> np.ndarray:
        """Expected final margin, home minus away: ``home_rating - away_rating + home_adv``."""
        return self.home_rating - self.away_rating + self.home_adv


@dataclass(frozen=True)
class _Start:
    """A single-grid state to start a pass from: ratings and known flags per team index, the
    home advantage, and the rank of the newest season applied."""

    rating: np.ndarray
    known: np.ndarray
    home_adv: float
    season: int


@dataclass(frozen=True)
class _Grid:
    update_rate: np.ndarray
    carry_over: np.ndarray
    home_rate: np.ndarray
    home_prior: float


@dataclass(frozen=True)
class _History:
    """The state after each day of results (row 0: before any): ``(days + 1, ...)`` arrays."""

    days: np.ndarray      # the result days, sorted
    rating: np.ndarray    # (days + 1, grid, teams)
    home_adv: np.ndarray  # (days + 1, grid)
    known: np.ndarray     # (days + 1, teams)
    season: np.ndarray    # (days + 1,) rank of the newest season applied; -1 before any


def _run(games: Games, grid: _Grid, keep: bool, start: _Start | None = None
         ) -> tuple[np.ndarray, int, _History | None]:
    """Apply the results day by day (from ``start``, else from the mean). Returns, per grid
    point, the sum of squared pre-game errors of the results whose two teams had played before
    and their count (without ``keep``), or (``keep``) the state after every day."""
    g, t = len(grid.update_rate), len(games.teams)
    done = np.flatnonzero(np.isfinite(games.final))
    done = done[np.argsort(games.day[done], kind="stable")]
    days, starts = np.unique(games.day[done], return_index=True)
    bounds = np.append(starts, len(done))
    newest = np.maximum.reduceat(games.season[done], starts) if len(done) else starts
    home, away, final = games.home[done], games.away[done], games.final[done]
    rating, home_adv = np.zeros((g, t)), np.full(g, grid.home_prior)
    known, season = np.zeros(t, dtype=bool), -1
    if start is not None:
        rating[:], home_adv[:] = start.rating, start.home_adv
        known, season = start.known.copy(), start.season
    offsets = (np.arange(g) * t)[:, None]
    sse, count = np.zeros(g), 0
    history = None
    if keep:
        history = _History(days, np.zeros((len(days) + 1, g, t)),
                           np.full((len(days) + 1, g), grid.home_prior),
                           np.zeros((len(days) + 1, t), dtype=bool),
                           np.full(len(days) + 1, -1))
        history.rating[0], history.home_adv[0] = rating, home_adv
        history.known[0], history.season[0] = known, season
    for j in range(len(days)):
        if newest[j] > season:
            if season >= 0:
                rating *= grid.carry_over[:, None]
            season = newest[j]
        h, a = home[bounds[j]:bounds[j + 1]], away[bounds[j]:bounds[j + 1]]
        error = final[bounds[j]:bounds[j + 1]] - (rating[:, h] - rating[:, a] + home_adv[:, None])
        if history is None:  # the fit's score
            scored = known[h] & known[a]
            sse += (error[:, scored] ** 2).sum(axis=1)
            count += int(scored.sum())
        step = grid.update_rate[:, None] * error
        slots = np.concatenate([h, a]) + offsets  # (grid, 2 * games) flat positions
        rating += np.bincount(slots.ravel(), np.concatenate([step, -step], axis=1).ravel(),
                              g * t).reshape(g, t)
        home_adv += grid.home_rate * error.sum(axis=1)
        known[h] = known[a] = True
        if history is not None:
            history.rating[j + 1], history.home_adv[j + 1] = rating, home_adv
            history.known[j + 1], history.season[j + 1] = known, season
    return sse, count, history


class TeamRatings(JsonModel):
    """Elo-style team ratings on final margins (see the module docstring).

    The parameters are the grids ``fit`` searches; ``fit`` sets ``update_rate_``,
    ``carry_over_``, ``home_rate_``, ``home_prior_`` and ``fit_mse_`` (the training error of
    the chosen point). ``pregame`` gives each game's ratings as of its date.
    """

    JSON_FILE = JSON_FILE
    FORMAT = FORMAT

    def __init__(self, update_rates: tuple[float, ...] = UPDATE_RATES,
                 carry_overs: tuple[float, ...] = CARRY_OVERS,
                 home_rates: tuple[float, ...] = HOME_RATES) -> None:
        self.update_rates = update_rates
        self.carry_overs = carry_overs
        self.home_rates = home_rates

    def get_params(self) -> dict[str, Any]:
        return {"update_rates": list(self.update_rates), "carry_overs": list(self.carry_overs),
                "home_rates": list(self.home_rates)}

    def _grid(self) -> list[tuple[float, float, float]]:
        ranges = {"update_rates": (0.0, 0.5), "carry_overs": (0.0, 1.0), "home_rates": (0.0, 0.05)}
        for name, (low, high) in ranges.items():
            values = list(getattr(self, name))
            if not values or not all(is_number(v) and low <= v <= high for v in values):
                raise BadInput(f"TeamRatings: {name}={values!r} must be numbers in "
                               f"[{low:g}, {high:g}], at least one")
        return list(itertools.product(self.update_rates, self.carry_overs, self.home_rates))

    def fit(self, history: pd.DataFrame) -> TeamRatings:
        """Choose the parameters on finished games (``final_diff``) of ``history``."""
        points = self._grid()
        games, _ = combine(None, history)
        finished = np.flatnonzero(np.isfinite(games.final))
        if finished.size == 0:
            raise BadInput("TeamRatings.fit: no finished games (final_diff) to fit on")
        prior = float(games.final[finished].mean())
        grid = _Grid(*(np.array(column, dtype=np.float64) for column in zip(*points)),
                     home_prior=prior)
        sse, count, _ = _run(games, grid, keep=False)
        if count == 0:
            raise BadInput("TeamRatings.fit: no finished game has two teams with earlier games")
        mse = sse / count
        best = int(np.argmin(mse))
        self.update_rate_, self.carry_over_, self.home_rate_ = (float(v) for v in points[best])
        self.home_prior_ = prior
        self.fit_mse_ = float(mse[best])
        self.n_games_ = int(finished.size)
        return self

    def _single(self) -> _Grid:
        return _Grid(np.array([self.update_rate_]), np.array([self.carry_over_]),
                     np.array([self.home_rate_]), self.home_prior_)

    def checkpoint(self, history: pd.DataFrame) -> TeamRatings:
        """Keep as ``checkpoint_`` the state after every result day of ``history`` but the last
        (a history cut within a day would leave later results of that day out): that day, the
        newest season, the home advantage, each team's rating, and the count, sum and sum of
        squares of the margins applied, to check a store against. None with one result day."""
        require_fitted(self, "update_rate_")
        games, _ = combine(None, history)
        state = cast(_History, _run(games, self._single(), keep=True)[2])
        if len(state.days) < 2:
            self.checkpoint_ = None
            return self
        last = len(state.days) - 1  # the state after the day before the last result day
        day = state.days[-2]
        final = games.final[np.isfinite(games.final) & (games.day <= day)]
        seasons = np.unique(history["season"].to_numpy(dtype=str))
        seen = state.known[last]
        self.checkpoint_ = {
            "day": str(day.astype("datetime64[D]")), "season": str(seasons[state.season[last]]),
            "home_adv": float(state.home_adv[last, 0]),
            "ratings": dict(zip(games.teams[seen].tolist(), state.rating[last, 0, seen].tolist())),
            "totals": [int(final.size), float(final.sum()), float((final ** 2).sum())]}
        return self

    def pregame(self, games: pd.DataFrame, history: pd.DataFrame | None = None,
                start: bool = False) -> Pregame:
        """Each game's ratings from the finished games strictly before its date: those of
        ``history`` (e.g. the store) and of ``games`` itself (a file's own earlier games).

        A game in both counts once (its row in ``games``). Games without ``final_diff`` only ask.
        With ``start``, the pass begins at ``checkpoint_``: ``history`` and ``games`` then hold
        only results after its day (earlier ones are skipped), and every game asked about must
        come after that day.
        """
        require_fitted(self, "update_rate_")
        begin = None
        if start:
            require_fitted(self, "checkpoint_")
            point = self.checkpoint_
            if point is None:
                raise BadInput("ratings checkpoint: none kept (one result day)")
            teams = tuple(point["ratings"])
            after = np.datetime64(point["day"], "D")
            if (check_dates(games["game_date"].to_numpy(dtype=str), len(games))
                    <= after).any():
                raise BadInput(f"ratings checkpoint: a game asked about is on or before its "
                               f"day {point['day']}")
            if history is not None:
                history = history[check_dates(history["game_date"].to_numpy(dtype=str),
                                              len(history)) > after]
            combined, n = combine(history, games, teams, (point["season"],))
            index = np.searchsorted(combined.teams, teams)
            rating, known = np.zeros(len(combined.teams)), np.zeros(len(combined.teams), bool)
            rating[index], known[index] = list(point["ratings"].values()), True
            begin = _Start(rating, known, float(point["home_adv"]), combined.start_season)
        else:
            combined, n = combine(history, games)
        state = cast(_History, _run(combined, self._single(), keep=True, start=begin)[2])
        day, season = combined.day[:n], combined.season[:n]
        before = np.searchsorted(state.days, day, side="left")  # result days strictly before
        applied = state.season[before]
        shrink = np.where((season > applied) & (applied >= 0), self.carry_over_, 1.0)
        home, away = combined.home[:n], combined.away[:n]
        return Pregame(home_rating=state.rating[before, 0, home] * shrink,
                       away_rating=state.rating[before, 0, away] * shrink,
                       home_adv=state.home_adv[before, 0],
                       known_home=state.known[before, home], known_away=state.known[before, away])

    def to_dict(self) -> dict[str, Any]:
        require_fitted(self, "update_rate_")
        return {"format": FORMAT, "params": self.get_params(),
                "update_rate": self.update_rate_, "carry_over": self.carry_over_,
                "home_rate": self.home_rate_, "home_prior": self.home_prior_,
                "fit_mse": self.fit_mse_, "n_games": self.n_games_,
                **({"checkpoint": self.checkpoint_} if getattr(self, "checkpoint_", None) else {})}

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: Path | str = "ratings") -> TeamRatings:
        """Rebuild a fitted instance from ``to_dict``; bad content is BadInput naming ``source``."""
        path = Path(source)
        check_format(data, FORMAT, path)
        params = field(data, "params", path)
        raw = [field(data, key, path) for key in
               ("update_rate", "carry_over", "home_rate", "home_prior", "fit_mse", "n_games")]
        try:
            model = cls(**{key: tuple(value) for key, value in params.items()})
            model._grid()
            values, n_games = [float(value) for value in raw[:-1]], int(raw[-1])
        except (TypeError, ValueError, AttributeError, BadInput) as exc:
            raise BadInput(f"{path}: corrupt model file ({exc})") from None
        if not all(np.isfinite(values)) or not 0 <= values[0] <= 0.5 \
                or not 0 <= values[1] <= 1 or not 0 <= values[2] <= 0.05:
            raise BadInput(f"{path}: corrupt model file (parameter out of range)")
        (model.update_rate_, model.carry_over_, model.home_rate_, model.home_prior_,
         model.fit_mse_) = values
        model.n_games_ = n_games
        if "checkpoint" in data:
            model.checkpoint_ = _checked_checkpoint(data["checkpoint"], path)
        return model


def _checked_checkpoint(point: Any, path: Path) -> dict[str, Any]:
    """A saved ``checkpoint_`` with its types checked; anything else is BadInput naming ``path``."""
    try:
        ratings = {str(team): float(value) for team, value in point["ratings"].items()}
        count, total, squares = point["totals"]
        checked = {"day": str(np.datetime64(point["day"], "D")), "season": str(point["season"]),
                   "home_adv": float(point["home_adv"]), "ratings": ratings,
                   "totals": [int(count), float(total), float(squares)]}
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise BadInput(f"{path}: corrupt model file (checkpoint: {exc!r})") from None
    if not np.isfinite([checked["home_adv"], *ratings.values(), total, squares]).all():
        raise BadInput(f"{path}: corrupt model file (checkpoint: a value is not finite)")
    return checked
