"""Synthetic NBA seasons: a vectorised, possession-level game simulator with an analytic oracle.

The model, for one game (numpy runs every game at once; only minutes and overtime periods are
looped over):

- **Strength.** Each of the 30 teams has a net strength ~ N(0, ``team_sd``) points per 48
  minutes, which walks day by day (AR(1), correlation ``strength_persistence`` a year apart;
  centred each day); each game adds a form term ~ N(0, ``form_sd``) and the home advantage. The
  sum, ``edge``, splits evenly into the two offences' expected points per possession
  (``points_per_possession`` +/- ``edge / (2 * possessions_per_48)``); the two teams' strength
  difference counts ``first_half_strength`` times in each first-half minute and ``2 -`` that in
  the second half, as in real games.
- **Possessions.** Durations are ``min_possession_seconds`` plus a gamma variate, their mean set
  by the game's pace (``possessions_per_48`` per team, log-normal game noise); possessions
  alternate from a jump ball, and points land in the minute the possession ends. The 6 s floor
  keeps any team to 5 possessions, so 15 points, in a minute.
- **Outcomes.** A possession is a turnover, a trip of two free throws (1-point events), or a
  shot: a three with probability ``three_rate``, else a two, made (second chances included)
  with a probability shifted from its base so the possession's expected points hit the target.
  So every possession scores 0, 1, 2 or 3.
- **Lead reversion.** At each minute's start the leader's expected points per possession drop,
  and the trailer's rise, by ``lead_reversion`` per point of lead: the restoring force in real
  scores (Gabel & Redner, "Random walk picture of basketball scoring", JQAS 2012).
- **Overtime.** A game tied after 48 minutes plays 5-minute overtimes (jump ball each) until
  decided, so ``final_diff`` is never 0; ``d0..d24`` are regulation minutes.

**Oracle.** Given the game's true parameters the expected margin change in a minute is linear
in the lead: ``mu - kappa * lead`` with ``mu = r * edge / possessions_per_48`` (the first half's
edge) and ``kappa = 2 * r * lead_reversion`` (``r`` = the game's possessions per team per minute). So
``oracle_d24 = a**6 * d18 + mu * (1 + a + ... + a**5)`` with ``a = 1 - kappa``, exact up to the
minute-to-minute fluctuation of the possession count (the possession process is a stationary
renewal process by minute 18, whose expected count is ``r`` a minute).

**Drift** (``Drift``, for games at index ``>= at * n_games``, i.e. in date order):
``pace`` multiplies the game's possession rate (so the scoring rate, the noise and the
reversion per minute); ``three_rate`` is added to the share of shots that are threes, the
expected points per possession held fixed (so it only adds variance); ``home_advantage`` is
added to ``edge``; ``variance`` multiplies the variance of the possession noise of the margin
within each minute, without touching any expectation (so the oracle stays exact): each
possession's uniform draw is, with a probability solved from the minute's possession counts,
replaced by a draw shared across the minute, the away side's mirrored (``1 - w``, scoring runs)
when ``variance > 1`` and equal (traded baskets) when ``variance < 1``; the era's ``scoring_runs``
multiplies every game's ``variance``. Minutes with one possession keep their noise, and lead
reversion and the possession count add a little unscaled variance, so the variance of
``d24 - d18`` is multiplied by about 0.53, 1.45, 1.9 and 2.8 for ``variance`` 0.5, 1.5, 2 and 3.

**Eras** (``nbalife.simparams.ERAS``, ``data simulate --era``) over 10,000 games (seed 0), real in brackets:

| figure | ``recent`` (real 2020-21 .. 2022-23) | ``2015`` (real 2015-16 sample) |
| --- | --- | --- |
| mean d24 | +0.92 (+0.65 .. +1.34) | +0.81 (+1.49) |
| SD d24 | 11.64 (11.32 .. 11.70) | 10.40 (10.23) |
| SD d18 | 10.19 (10.13 .. 10.35) | 9.27 (9.18) |
| SD d24 - d18 | 6.08 (5.85 .. 6.12) | 5.70 (5.63) |
| persistence MAE | 4.84 (4.66 .. 4.88) | 4.54 (4.51) |
| oracle MAE | 4.78 | 4.49 |
| ``d18 * 24/18`` MAE | 5.68 (5.55 .. 5.77) | 5.39 (about 5.3) |
| SD final | 14.78 (13.66 .. 15.31) | 13.12 (12.96) |
| mean final, home wins | +1.99, 55.7% (+0.94 .. +2.50, 54.4 .. 58.0%) | +1.66, 55.6% (+2.03, 58.9%) |
| overtime, possessions / 48, points / possession | 2.9%, 98.8, 1.141 (overtime about 6%) | 3.1%, 98.8, 1.141 |
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, NamedTuple, overload

import numpy as np

from nbalife.checks import is_whole
from nbalife.errors import BadInput
from nbalife.interchange import DIFF_COLUMNS, GAME_COLUMNS, MINUTES, PATTERN_MINUTES
from nbalife.simparams import ERAS, Drift, SimulationParams, era_params, parse_drift

__all__ = ["ERAS", "TEAMS", "Drift", "SeasonStats", "SimulationParams", "era_params", "parse_drift",
           "simulate_season"]

if TYPE_CHECKING:
    import pandas as pd

TEAMS = np.array("ATL BOS BKN CHA CHI CLE DAL DEN DET GSW HOU IND LAC LAL MEM MIA MIL MIN NOP "
                 "NYK OKC ORL PHI PHX POR SAC SAS TOR UTA WAS".split())
REGULATION_MINUTES = 48
OVERTIME_MINUTES = 5
MAX_GAMES = 1_000_000
_BLOCK = 20_000  # games per block when drawing possession timelines (bounds memory)
_DAYS = 256  # days per block of the team-strength walk


@dataclass(frozen=True)
class SeasonStats:
    """Regulation totals of a simulated season."""

    possessions_per_48: float
    points_per_possession: float
    overtime_share: float


class _Games(NamedTuple):
    """Per-game true parameters (arrays over games)."""

    pace: np.ndarray        # possessions per team per 48 minutes
    half_edge: np.ndarray   # (games, 2 halves) home's extra points per possession (away: minus)
    three_rate: np.ndarray
    variance: np.ndarray
    antithetic_corr: np.ndarray  # corr of a possession's points under draws w and 1 - w

    def take(self, mask: np.ndarray) -> _Games:
        return _Games(*(field[mask] for field in self))


def _thresholds(target: np.ndarray, three_rate: np.ndarray, p: SimulationParams) -> np.ndarray:
    """Cumulative P(3), P(>=2), P(>=1) of a possession with expected points ``target``.

    ``target`` and ``three_rate`` broadcast together; the result has one more trailing axis.
    """
    shots = p.shot_rate
    ft2 = p.free_throw_trip_rate * p.free_throw_pct ** 2
    ft1 = p.free_throw_trip_rate * 2 * p.free_throw_pct * (1 - p.free_throw_pct)
    base = shots * (3 * three_rate * p.three_success + 2 * (1 - three_rate) * p.two_success) \
        + 2 * p.free_throw_trip_rate * p.free_throw_pct
    shift = (target - base) / (shots * (2 + three_rate))
    p3 = shots * three_rate * np.clip(p.three_success + shift, 0.0, 1.0)
    p2 = shots * (1 - three_rate) * np.clip(p.two_success + shift, 0.0, 1.0) + ft2
    return np.stack([p3, p3 + p2, p3 + p2 + ft1], axis=-1)


def _antithetic_corr(three_rate: np.ndarray, p: SimulationParams) -> np.ndarray:
    """corr(Q(w), Q(1 - w)) for the league-average possession, Q its quantile function."""
    cut = _thresholds(np.full_like(three_rate, p.points_per_possession), three_rate, p)
    edges = np.sort(np.concatenate([np.zeros((len(cut), 1)), cut, 1 - cut,
                                    np.ones((len(cut), 1))], axis=1), axis=1)
    width = np.diff(edges, axis=1)
    mid = (edges[:, 1:] + edges[:, :-1]) / 2

    def points(u: np.ndarray) -> np.ndarray:
        return (u[:, :, None] < cut[:, None, :]).sum(axis=2)

    mean = p.points_per_possession
    var = (width * points(mid) ** 2).sum(axis=1) - mean ** 2
    return ((width * points(mid) * points(1 - mid)).sum(axis=1) - mean ** 2) / var


def _possession_counts(rng: np.random.Generator, pace: np.ndarray, minutes: int,
                       p: SimulationParams) -> np.ndarray:
    """Possessions ended per minute, shape (games, minutes, 2: home, away)."""
    return np.concatenate([_count_block(rng, pace[i:i + _BLOCK], minutes, p)
                           for i in range(0, len(pace), _BLOCK)])


def _count_block(rng: np.random.Generator, pace: np.ndarray, minutes: int,
                 p: SimulationParams) -> np.ndarray:
    n = len(pace)
    period = 60.0 * minutes
    mean = 1440.0 / pace  # seconds per possession (both teams) at this pace
    scale = ((mean - p.min_possession_seconds) / p.possession_shape)[:, None]
    width = int(period / mean.min() * 1.2) + 20

    def durations() -> np.ndarray:
        return p.min_possession_seconds + rng.gamma(p.possession_shape, scale, (n, width))

    ends = np.cumsum(durations(), axis=1)
    while (ends[:, -1] < period).any():
        ends = np.concatenate([ends, ends[:, -1:] + np.cumsum(durations(), axis=1)], axis=1)
    team = (np.arange(ends.shape[1]) + rng.integers(0, 2, (n, 1))) % 2  # jump ball
    inside = ends < period
    slot = (np.arange(n)[:, None] * minutes + (ends // 60).astype(np.int64)) * 2 + team
    return np.bincount(slot[inside], minlength=n * minutes * 2).reshape(n, minutes, 2)


def _coupling(counts: np.ndarray, games: _Games) -> tuple[np.ndarray, np.ndarray]:
    """Per game: the chance a possession uses the minute's shared draw, and whether mirrored.

    With ``h``, ``a`` possessions and coupling chance ``c``, the margin's noise variance is
    ``(h + a) + c**2 * (h(h-1) + a(a-1) - 2ha*rho)`` possession variances (``rho`` = +1 equal
    draws, the antithetic correlation mirrored); solve for ``variance * (h + a)``.
    """
    h, a = counts[:, 0].astype(float), counts[:, 1].astype(float)
    mirrored = games.variance > 1.0
    rho = np.where(mirrored, games.antithetic_corr, 1.0)
    cross = h * (h - 1) + a * (a - 1) - 2 * h * a * rho
    wanted = (games.variance - 1.0) * (h + a)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(wanted * cross > 0, wanted / cross, 0.0)
    return np.sqrt(np.clip(share, 0.0, 1.0)), mirrored


def _play_minute(rng: np.random.Generator, lead: np.ndarray, counts: np.ndarray, games: _Games,
                 p: SimulationParams, half: int) -> np.ndarray:
    """Points scored in one minute of ``half`` (0: first, 1: second or overtime), shape
    (games, 2: home, away)."""
    n = len(lead)
    slots = max(int(counts.max()), 1)
    shift = games.half_edge[:, half] - p.lead_reversion * lead
    target = p.points_per_possession + np.stack([shift, -shift], axis=1)
    cut = _thresholds(target, games.three_rate[:, None], p)            # (n, 2, 3)
    chance, mirrored = _coupling(counts, games)
    shared = rng.random(n)
    shared = np.stack([shared, np.where(mirrored, 1.0 - shared, shared)], axis=1)
    draws = np.where(rng.random((n, 2, slots)) < chance[:, None, None],
                     shared[:, :, None], rng.random((n, 2, slots)))
    points = (draws[..., None] < cut[:, :, None, :]).sum(axis=3)       # (n, 2, slots)
    played = np.arange(slots) < counts[:, :, None]
    return (points * played).sum(axis=2)


def _oracle(d18: np.ndarray, games: _Games, p: SimulationParams) -> np.ndarray:
    """E[d24 | d18, true parameters]: six steps of ``lead -> lead + mu - kappa * lead``."""
    rate = games.pace / REGULATION_MINUTES
    mu = rate * 2 * games.half_edge[:, 0]
    keep = 1.0 - 2 * rate * p.lead_reversion
    steps = MINUTES - PATTERN_MINUTES
    return keep ** steps * d18 + mu * sum(keep ** j for j in range(steps))


def _strengths(rng: np.random.Generator, days: int, p: SimulationParams) -> np.ndarray:
    """Team strengths per day, ``(days, teams)``: a stationary AR(1) walk (SD ``team_sd``, a
    year's correlation ``strength_persistence``), centred each day; one matrix product a block."""
    keep = p.strength_persistence ** (1 / 365)
    walk = rng.normal(0.0, p.team_sd, (days, len(TEAMS)))
    walk[1:] *= np.sqrt(1 - keep ** 2)
    lag = np.subtract.outer(np.arange(_DAYS), np.arange(_DAYS))
    powers = np.where(lag >= 0, keep ** np.maximum(lag, 0), 0.0)  # keep ** (i - j), i >= j
    carried, last = keep ** np.arange(1, _DAYS + 1)[:, None], np.zeros(len(TEAMS))
    for start in range(0, days, _DAYS):
        m = min(_DAYS, days - start)
        walk[start:start + m] = powers[:m, :m] @ walk[start:start + m] + carried[:m] * last
        last = walk[start + m - 1]
    return walk - walk.mean(axis=1, keepdims=True)


def _check_inputs(n_games: int, season: str, seed: int, start_date: dt.date | None) -> int:
    if not is_whole(n_games) or not 1 <= n_games <= MAX_GAMES:
        raise BadInput(f"n_games={n_games!r} must be a whole number from 1 to {MAX_GAMES:,}")
    match = re.fullmatch(r"(\d{4})-(\d{2})", str(season))
    if not match or (int(match[1]) + 1) % 100 != int(match[2]):
        raise BadInput(f"season={season!r} is not a season label like 2023-24")
    if not is_whole(seed) or seed < 0:
        raise BadInput(f"seed={seed!r} must be a non-negative whole number")
    if start_date is not None and not isinstance(start_date, dt.date):
        raise BadInput(f"start_date={start_date!r} is not a date")
    return int(match[1])


@overload
def simulate_season(n_games: int, *, season: str = ..., seed: int = ...,
                    start_date: dt.date | None = ..., drift: Drift | None = ...,
                    params: SimulationParams | None = ..., era: str = ...,
                    return_stats: Literal[False] = ...) -> pd.DataFrame: ...


@overload
def simulate_season(n_games: int, *, season: str = ..., seed: int = ...,
                    start_date: dt.date | None = ..., drift: Drift | None = ...,
                    params: SimulationParams | None = ..., era: str = ...,
                    return_stats: Literal[True]) -> tuple[pd.DataFrame, SeasonStats]: ...


def simulate_season(n_games: int, *, season: str = "2023-24", seed: int = 0,
                    start_date: dt.date | None = None, drift: Drift | None = None,
                    params: SimulationParams | None = None, era: str = "recent",
                    return_stats: bool = False) -> pd.DataFrame | tuple[pd.DataFrame, SeasonStats]:
    """Simulate ``n_games`` games in date order: ``GAME_COLUMNS`` plus the float ``oracle_d24``.

    Games start on ``start_date`` (default October 24 of the season's first year), 1-14 a day;
    more games than a season holds simply run on past April. ``params`` default to the
    constants of ``era`` (``ERAS``). The same arguments give the same frame. ``return_stats``
    adds the season's ``SeasonStats``.
    """
    import pandas as pd

    first_year = _check_inputs(n_games, season, seed, start_date)
    n = int(n_games)
    drift = drift if drift is not None else Drift()
    p = params if params is not None else era_params(era)
    if not 0.0 <= p.three_rate + drift.three_rate <= 1.0:
        raise BadInput(f"drift: three_rate={drift.three_rate:g} takes the three-point share "
                       f"{p.three_rate + drift.three_rate:g} outside [0, 1]")
    rng = np.random.default_rng(seed)

    drifted = np.arange(n) >= drift.at * n
    per_day = rng.integers(1, p.max_games_per_day + 1, n)
    day = np.repeat(np.arange(n), per_day)[:n]
    strength = _strengths(rng, int(day[-1]) + 1, p)
    home = rng.integers(0, len(TEAMS), n)
    away = (home + rng.integers(1, len(TEAMS), n)) % len(TEAMS)
    gap = strength[day, home] - strength[day, away]
    edge = (gap + rng.normal(0.0, p.form_sd, n)
            + p.home_advantage + np.where(drifted, drift.home_advantage, 0.0))
    tilt = (p.first_half_strength - 1.0) * gap  # strength moves toward the first half
    pace_noise = np.clip(rng.normal(0.0, p.pace_sd, n), -3 * p.pace_sd, 3 * p.pace_sd)
    three_rate = p.three_rate + np.where(drifted, drift.three_rate, 0.0)
    games = _Games(
        pace=p.possessions_per_48 * np.where(drifted, drift.pace, 1.0) * np.exp(pace_noise),
        half_edge=np.stack([edge + tilt, edge - tilt], axis=1) / (2 * p.possessions_per_48),
        three_rate=three_rate,
        variance=p.scoring_runs * np.where(drifted, drift.variance, 1.0),
        antithetic_corr=_antithetic_corr(three_rate, p),
    )
    if (1440.0 / games.pace).min() <= p.min_possession_seconds:
        raise BadInput(f"drift: pace={drift.pace:g} leaves possessions shorter than "
                       f"min_possession_seconds={p.min_possession_seconds:g}")

    counts = _possession_counts(rng, games.pace, REGULATION_MINUTES, p)
    lead = np.zeros((n, REGULATION_MINUTES + 1), dtype=np.int64)
    points = 0
    for minute in range(REGULATION_MINUTES):
        scored = _play_minute(rng, lead[:, minute], counts[:, minute], games, p,
                              half=int(minute >= MINUTES))
        points += int(scored.sum())
        lead[:, minute + 1] = lead[:, minute] + scored[:, 0] - scored[:, 1]
    final = lead[:, -1].copy()
    tied = final == 0
    overtime_share = float(tied.mean())
    while tied.any():
        level = games.take(tied)
        extra = _possession_counts(rng, level.pace, OVERTIME_MINUTES, p)
        margin = np.zeros(int(tied.sum()), dtype=np.int64)
        for minute in range(OVERTIME_MINUTES):
            scored = _play_minute(rng, margin, extra[:, minute], level, p, half=1)
            margin += scored[:, 0] - scored[:, 1]
        final[tied] = margin
        tied[tied] = margin == 0

    start = start_date if start_date is not None else dt.date(first_year, 10, 24)
    if np.datetime64(start, "D") + day[-1] > np.datetime64("9999-12-31"):
        raise BadInput(f"{n} games from {start} run past 9999-12-31")
    dates = np.datetime_as_string(np.datetime64(start, "D") + day, unit="D")
    index = np.char.zfill(np.arange(n).astype(str), 6)
    frame = pd.DataFrame({
        "game_id": np.char.add(f"SIM{first_year}", index),
        "season": season,
        "game_date": dates,
        "home": TEAMS[home],
        "away": TEAMS[away],
        **{column: lead[:, m] for m, column in enumerate(DIFF_COLUMNS)},
        "final_diff": final,
        "oracle_d24": _oracle(lead[:, PATTERN_MINUTES].astype(float), games, p),
    })[[*GAME_COLUMNS, "oracle_d24"]]
    if not return_stats:
        return frame
    possessions = int(counts.sum())
    return frame, SeasonStats(
        possessions_per_48=possessions / (2 * n),
        points_per_possession=points / possessions,
        overtime_share=overtime_share,
    )
