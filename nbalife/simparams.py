"""The simulator's settings: calibrated constants per era, and mid-season drift.

``SimulationParams`` holds the constants of ``nbalife.simulate``; ``ERAS`` names two calibrations
against real seasons (``era_params``): ``recent`` (2020-21 to 2022-23, the default) and ``2015``
(the 2015-16 sample). ``Drift`` is a change from a point of the season on (``parse_drift`` reads
it from the command line).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from nbalife.checks import is_number
from nbalife.errors import BadInput

_DRIFT_RANGES = {
    "at": (0.0, 1.0),
    "pace": (0.5, 2.0),
    "three_rate": (-0.3, 0.3),
    "variance": (0.1, 3.0),
    "home_advantage": (-15.0, 15.0),
}


def _check_range(what: str, name: str, value: object, low: float, high: float) -> None:
    if not is_number(value) or not low <= value <= high:
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
    """Calibrated model constants (the ``recent`` era); each names the real figure it comes from."""

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
    home_advantage: float = 2.7
    """Home edge, points per 48 at league pace, before lead reversion: it realises as about +0.9
    at the half and +2.0 at the end, home wins 55.7% (real 2020-23: +0.65 to +1.34, +0.94 to
    +2.50, 54.4 to 58.0%)."""
    team_sd: float = 5.5
    """SD of team net strength, points per 48. A least-squares fit of each real season's final
    margins gives 4.4, 4.3 and 3.5 (2020-21 to 2022-23) once its own noise is taken out, but
    the pull back toward level damps strength's effect on the simulated final margin (slope
    0.8 against the real 0.95): with 5.5, ``TeamRatings`` fitted on 2,307 simulated games
    explain 9.8% of the variance of the next 1,230 final margins (seeds 1-4), real ones 9.5%
    (2022-23 after 2020-22) and 14.2% (2021-22 after 2020-21)."""
    strength_persistence: float = 0.6
    """Correlation of a team's strength 365 days apart: strengths follow a mean-reverting random
    walk day by day, so they change within a season and a rating must keep learning. Real
    seasons' least-squares ratings correlate 0.59 (2020-21 with 2021-22) and 0.54 (2021-22 with
    2022-23)."""
    first_half_strength: float = 1.3
    """How much more the teams' strength difference counts per minute in the first half; the
    second half (and overtime) gets ``2 -`` this, so a game's expected margin is unchanged.
    Real 2021-23: the margin's slope on the pre-game edge, divided by the share of the game
    played, is 1.27 over minutes 0-18, 0.95 over minutes 18-24 and 0.70 in the second half."""
    form_sd: float = 1.0
    """SD of a game's own form term, points per 48 (with team_sd: final SD 14.8, real 13.7-15.3)."""
    lead_reversion: float = 0.0025
    """Points per possession the leader loses, and the trailer gains, per point of lead; with
    ``scoring_runs`` sets SD d24 about 11.6 (real 11.3-11.7) and SD d24-d18 6.1 (real 5.9-6.1)."""
    scoring_runs: float = 1.1
    """Multiplies the variance of the margin's possession noise within each minute (scoring
    runs), as ``Drift.variance`` does: real margins have swung more since 2015-16."""
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
            "strength_persistence": (0.0, 1.0), "scoring_runs": (0.1, 3.0),
            "first_half_strength": (0.0, 2.0),
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


ERAS = {
    "recent": SimulationParams(),
    "2015": SimulationParams(home_advantage=2.5, team_sd=4.0, form_sd=4.0, lead_reversion=0.0034,
                             scoring_runs=1.0, first_half_strength=1.0),
}
"""``2015``: the calibration against the 2015-16 sample (SD d24 10.2, SD d24-d18 5.6, final SD
13.0, home final +2.0); the rest, drifting team strengths included, as ``recent``."""


def era_params(era: str, **changes: float) -> SimulationParams:
    """The constants of a named era (``ERAS``), with ``changes`` applied."""
    if era not in ERAS:
        raise BadInput(f"era {era!r} is not known (known: {', '.join(ERAS)})")
    return replace(ERAS[era], **changes)
