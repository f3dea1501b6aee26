"""Synthetic NBA seasons: a vectorised, possession-level game simulator with an analytic oracle.

The model, for one game (numpy runs every game at once; only minutes and overtime periods are
looped over):

- **Strength.** Each of the 30 teams has a net strength ~ N(0, ``team_sd``) points per 48
  minutes (centred); each game adds a form term ~ N(0, ``form_sd``) and the home advantage. The
  sum, ``edge``, splits evenly into the two offences' expected points per possession
  (``points_per_possession`` +/- ``edge / (2 * possessions_per_48)``).
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
  scores (Gabel & Redner, "Random walk picture of basketball scoring", JQAS 2012). Without it
  the same possessions give a halftime SD of 12.1 and a final SD of 17.5 (real 10.2 and 13.0).
- **Overtime.** A game tied after 48 minutes plays 5-minute overtimes (jump ball each) until
  decided, so ``final_diff`` is never 0; ``d0..d24`` are regulation minutes.

**Oracle.** Given the game's true parameters the expected margin change in a minute is linear
in the lead: ``mu - kappa * lead`` with ``mu = r * edge / possessions_per_48`` and
``kappa = 2 * r * lead_reversion`` (``r`` = the game's possessions per team per minute). So
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
when ``variance > 1`` and equal (traded baskets) when ``variance < 1``. Minutes that cannot
carry the change (one possession) keep their noise, and lead reversion and the possession
count add a little unscaled variance, so the variance of ``d24 - d18`` is multiplied by about 0.53,
1.45, 1.9 and 2.8 for ``variance`` 0.5, 1.5, 2 and 3 (1.5 widens its SD by about 20%).

Measured over 10,000 games (seed 0), the real 2015-16 sample (319 games) in brackets: mean d24
+1.31 (+1.49), SD d24 10.39 (10.23), SD d18 9.24 (9.18), SD d24-d18 5.68 (5.63), persistence
MAE 4.53 (4.50), oracle MAE 4.47, linear extrapolation MAE 5.35 (5.41), final SD 12.97 (12.98),
home final mean +2.16 (+2.03), overtime 3.1% (about 6%), 98.9 possessions per team per 48,
1.140 points per possession. 10,000 games take 0.5 s on 2 cores (1 s with the pandas import).
"""

from __future__ import annotations

import datetime as dt
import numbers
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, NamedTuple, overload

import numpy as np

from nbalife.errors import BadInput
from nbalife.interchange import DIFF_COLUMNS, GAME_COLUMNS, MINUTES, PATTERN_MINUTES

if TYPE_CHECKING:
    import pandas as pd

TEAMS = np.array("ATL BOS BKN CHA CHI CLE DAL DEN DET GSW HOU IND LAC LAL MEM MIA MIL MIN NOP "
                 "NYK OKC ORL PHI PHX POR SAC SAS TOR UTA WAS".split())
REGULATION_MINUTES = 48
OVERTIME_MINUTES = 5
MAX_GAMES = 1_000_000
_BLOCK = 20_000  # games per block when drawing possession timelines (bounds memory)

_DRIFT_RANGES = {
    "at": (0.0, 1.0),
    "pace": (0.5, 2.0),
    "three_rate": (-0.3, 0.3),
    "variance": (0.1, 3.0),
    "home_advantage": (-15.0, 15.0),
}


def _check_range(what: str, name: str, value: object, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not low <= value <= high:
        raise BadInput(f"{what}: {name}={value!r} is out of range [{low:g}, {high:g}]")


@dataclass(frozen=True)
class Drift:
    """A mid-season change; neutral by default. See the module docstring for how each knob enters."""

    at: float = 0.5
    pace: float = 1.0
    three_rate: float = 0.0
    variance: float = 1.0
    home_advantage: float = 0.0

    def __post_init__(self) -> None:
        for name, (low, high) in _DRIFT_RANGES.items():
            _check_range("drift", name, getattr(self, name), low, high)


def parse_drift(text: str) -> Drift:
    """Parse ``"at=0.5,pace=1.1,variance=1.3"``; keys left out keep their neutral value."""
    values: dict[str, float] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        key, sep, raw = (s.strip() for s in item.partition("="))
        if not sep:
            raise BadInput(f"drift: {item!r} is not key=value")
        if key not in _DRIFT_RANGES:
            raise BadInput(f"drift: unknown key {key!r} (known: {', '.join(_DRIFT_RANGES)})")
        if key in values:
            raise BadInput(f"drift: {key} is given twice")
        try:
            values[key] = float(raw)
        except ValueError:
            raise BadInput(f"drift: {key}={raw!r} is not a number") from None
    return Drift(**values)


@dataclass(frozen=True)
class SimulationParams:
    """Calibrated model constants; each default names the real figure it comes from."""

    possessions_per_48: float = 99.0
    """Possessions per team per 48 minutes: league pace 2023-24 was 98.5 (basketball-reference)."""
    pace_sd: float = 0.04
    """Log-SD of a game's pace around the league's (real games: about +/-4 possessions)."""
    points_per_possession: float = 1.14
    """League offensive rating 2021-24: 112-115 points per 100 possessions."""
    three_rate: float = 0.39
    """Share of shots that are threes: 3PA/FGA 2023-24 was 0.39."""
    three_success: float = 0.45
    """A three-point possession's scoring chance: 3P% 0.366 plus offensive-rebound second chances.
    The two-point chance is derived from the others so a possession averages
    ``points_per_possession`` (0.61 with these defaults: 2P% 0.545 plus second chances)."""
    turnover_rate: float = 0.125
    """Possessions ending in a turnover: TOV% 2023-24 was about 12.5."""
    free_throw_trip_rate: float = 0.10
    """Possessions ending in two free throws without a made field goal."""
    free_throw_pct: float = 0.78
    """FT% 2023-24 was 0.784."""
    home_advantage: float = 2.5
    """Home edge, points per 48 at league pace, before lead reversion: it realises as about +1.3
    at the half and +2.2 at the end (2015-16 sample: +1.5 and +2.0)."""
    team_sd: float = 4.0
    """SD of team net strength, points per 48 (net ratings span about +/-10 per 100)."""
    form_sd: float = 4.0
    """SD of a game's own form term, points per 48 (with team_sd: final SD 13, real 13.0)."""
    lead_reversion: float = 0.0034
    """Points per possession the leader loses, and the trailer gains, per point of lead; sets
    SD d24 about 10 (real 10.2) while SD d24-d18 stays 5.6 (real 5.6)."""
    min_possession_seconds: float = 6.0
    """Floor of a possession's duration; 6 s or more keeps a minute's change within 15 points."""
    possession_shape: float = 2.0
    """Gamma shape of the duration above the floor (possession SD about 6 s)."""
    max_games_per_day: int = 14
    """Games a day are uniform on 1..max: 7.5 a day on average (1,230 games in about 165 days)."""

    def __post_init__(self) -> None:
        checks = {
            "possessions_per_48": (50.0, 150.0), "pace_sd": (0.0, 0.2),
            "points_per_possession": (0.5, 1.6), "three_rate": (0.0, 0.9),
            "three_success": (0.0, 1.0), "turnover_rate": (0.0, 0.5),
            "free_throw_trip_rate": (0.0, 0.5), "free_throw_pct": (0.0, 1.0),
            "home_advantage": (-15.0, 15.0), "team_sd": (0.0, 15.0), "form_sd": (0.0, 15.0),
            "lead_reversion": (0.0, 0.02), "min_possession_seconds": (6.0, 20.0),
            "possession_shape": (0.5, 50.0), "max_games_per_day": (1, 15),
        }
        for name, (low, high) in checks.items():
            _check_range("simulation params", name, getattr(self, name), low, high)
        if not isinstance(self.max_games_per_day, int):
            raise BadInput(f"simulation params: max_games_per_day={self.max_games_per_day!r} "
                           "is not a whole number")
        if not 0.0 < self.two_success < 1.0:
            raise BadInput(f"simulation params: two-point success {self.two_success:.3f} derived from "
                           "points_per_possession and the shot mix is not in (0, 1)")

    @property
    def shot_rate(self) -> float:
        """Share of possessions ending in a shot."""
        return 1.0 - self.turnover_rate - self.free_throw_trip_rate

    @property
    def two_success(self) -> float:
        """A two-point possession's scoring chance that makes the league average come out."""
        from_shots = (self.points_per_possession
                      - 2 * self.free_throw_trip_rate * self.free_throw_pct) / self.shot_rate
        return (from_shots - 3 * self.three_rate * self.three_success) / (2 * (1 - self.three_rate))


@dataclass(frozen=True)
class SeasonStats:
    """Regulation totals of a simulated season."""

    possessions_per_48: float
    points_per_possession: float
    overtime_share: float


class _Games(NamedTuple):
    """Per-game true parameters (arrays over games)."""

    pace: np.ndarray        # possessions per team per 48 minutes
    half_edge: np.ndarray   # home's extra expected points per possession (away: minus this)
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
                 p: SimulationParams) -> np.ndarray:
    """Points scored in one minute, shape (games, 2: home, away)."""
    n = len(lead)
    slots = max(int(counts.max()), 1)
    shift = games.half_edge - p.lead_reversion * lead
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
    mu = rate * 2 * games.half_edge
    keep = 1.0 - 2 * rate * p.lead_reversion
    steps = MINUTES - PATTERN_MINUTES
    return keep ** steps * d18 + mu * sum(keep ** j for j in range(steps))


def _check_inputs(n_games: int, season: str, seed: int, start_date: dt.date | None) -> int:
    if isinstance(n_games, bool) or not isinstance(n_games, (int, np.integer)) \
            or not 1 <= n_games <= MAX_GAMES:
        raise BadInput(f"n_games={n_games!r} must be a whole number from 1 to {MAX_GAMES:,}")
    match = re.fullmatch(r"(\d{4})-(\d{2})", str(season))
    if not match or (int(match[1]) + 1) % 100 != int(match[2]):
        raise BadInput(f"season={season!r} is not a season label like 2023-24")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise BadInput(f"seed={seed!r} must be a non-negative whole number")
    if start_date is not None and not isinstance(start_date, dt.date):
        raise BadInput(f"start_date={start_date!r} is not a date")
    return int(match[1])


@overload
def simulate_season(n_games: int, *, season: str = ..., seed: int = ...,
                    start_date: dt.date | None = ..., drift: Drift | None = ...,
                    params: SimulationParams | None = ...,
                    return_stats: Literal[False] = ...) -> pd.DataFrame: ...


@overload
def simulate_season(n_games: int, *, season: str = ..., seed: int = ...,
                    start_date: dt.date | None = ..., drift: Drift | None = ...,
                    params: SimulationParams | None = ...,
                    return_stats: Literal[True]) -> tuple[pd.DataFrame, SeasonStats]: ...


def simulate_season(n_games: int, *, season: str = "2023-24", seed: int = 0,
                    start_date: dt.date | None = None, drift: Drift | None = None,
                    params: SimulationParams | None = None,
                    return_stats: bool = False) -> pd.DataFrame | tuple[pd.DataFrame, SeasonStats]:
    """Simulate ``n_games`` games in date order: ``GAME_COLUMNS`` plus the float ``oracle_d24``.

    Games start on ``start_date`` (default October 24 of the season's first year), 1-14 a day;
    more games than a season holds simply run on past April. The same arguments give the same
    frame. ``return_stats`` adds the season's ``SeasonStats``.
    """
    import pandas as pd

    first_year = _check_inputs(n_games, season, seed, start_date)
    n = int(n_games)
    drift = drift if drift is not None else Drift()
    p = params if params is not None else SimulationParams()
    if not 0.0 <= p.three_rate + drift.three_rate <= 1.0:
        raise BadInput(f"drift: three_rate={drift.three_rate:g} takes the three-point share "
                       f"{p.three_rate + drift.three_rate:g} outside [0, 1]")
    rng = np.random.default_rng(seed)

    drifted = np.arange(n) >= drift.at * n
    strength = rng.normal(0.0, p.team_sd, len(TEAMS))
    strength -= strength.mean()
    home = rng.integers(0, len(TEAMS), n)
    away = (home + rng.integers(1, len(TEAMS), n)) % len(TEAMS)
    edge = (strength[home] - strength[away] + rng.normal(0.0, p.form_sd, n)
            + p.home_advantage + np.where(drifted, drift.home_advantage, 0.0))
    pace_noise = np.clip(rng.normal(0.0, p.pace_sd, n), -3 * p.pace_sd, 3 * p.pace_sd)
    three_rate = p.three_rate + np.where(drifted, drift.three_rate, 0.0)
    games = _Games(
        pace=p.possessions_per_48 * np.where(drifted, drift.pace, 1.0) * np.exp(pace_noise),
        half_edge=edge / (2 * p.possessions_per_48),
        three_rate=three_rate,
        variance=np.where(drifted, drift.variance, 1.0),
        antithetic_corr=_antithetic_corr(three_rate, p),
    )
    if (1440.0 / games.pace).min() <= p.min_possession_seconds:
        raise BadInput(f"drift: pace={drift.pace:g} leaves possessions shorter than "
                       f"min_possession_seconds={p.min_possession_seconds:g}")

    counts = _possession_counts(rng, games.pace, REGULATION_MINUTES, p)
    lead = np.zeros((n, REGULATION_MINUTES + 1), dtype=np.int64)
    points = 0
    for minute in range(REGULATION_MINUTES):
        scored = _play_minute(rng, lead[:, minute], counts[:, minute], games, p)
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
            scored = _play_minute(rng, margin, extra[:, minute], level, p)
            margin += scored[:, 0] - scored[:, 1]
        final[tied] = margin
        tied[tied] = margin == 0

    per_day = rng.integers(1, p.max_games_per_day + 1, n)
    day = np.repeat(np.arange(n), per_day)[:n]
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
