"""The lifecycle demo: history, a trained production, a production stretch with drift played in
simulated time under the scheduled jobs (``services.season``), the A/B test of the retrained candidate
to a decision, and a rollback. Each step says in one line what it did; every service gets the
simulated clock as ``now``, so versions, events and triggers carry simulated times.

Simulated games are dated so that the stretch's last game day is the day before ``now`` (league
time) and the demo ends at ``now``: the home is then as current as a real one, and ``status``,
``metrics report`` or ``report`` run afterwards see the stretch in their recent windows. Real
seasons keep their dates; the demo ends the morning after their last game day."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from nbalife.config import Settings
from nbalife.errors import BadInput

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy import Engine

    from nbalife.forecast.lstm import EpochProgress
    from nbalife.services.season import Action, DayProgress, SeasonRun
    from nbalife.registry import Registry, VersionRow
    from nbalife.services.status import Status
    from nbalife.simparams import Drift

BUNDLED_DATA = Path(__file__).resolve().parents[2] / "data" / "nba"
REAL_HISTORY = ("nba_2020-21.csv", "nba_2021-22.csv")
REAL_SEASON = "nba_2022-23.csv"
DRIFT = "at=0.3,variance=2.0"  # scoring variance doubles 30% into the production stretch
OFFSEASON = dt.timedelta(days=120)  # between the simulated history and the stretch
QUIET = ("metrics-check",)  # summed up in one line, not listed action by action


@dataclass(frozen=True)
class Size:
    """How much the demo simulates and how big its LSTM is."""

    history_games: int
    season_games: int
    season_days: int | None  # real seasons: game days played (None: all)
    lstm_hidden: int
    lstm_epochs: int


QUICK = Size(history_games=500, season_games=320, season_days=40, lstm_hidden=8, lstm_epochs=3)
FULL = Size(history_games=2460, season_games=700, season_days=95, lstm_hidden=32, lstm_epochs=8)


@dataclass(frozen=True)
class Step:
    """One step of the demo: its name, what it did in one line, the notable things inside it (one
    line each), and its wall-clock seconds."""

    name: str
    description: str
    seconds: float
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class LifecycleResult:
    """The steps in order, the scheduled jobs' actions, and ``registry list`` and ``status`` at the
    end of the simulated time."""

    home: Path
    steps: list[Step]
    actions: list[Action]
    production: str | None
    versions: list[VersionRow]
    status: Status


def demo_policy(settings: Settings, size: Size) -> Settings:
    """The demo's policy on top of ``settings``: recalibrations and Dejavu updates applied as they
    are found, a retrain compared on 40 held-out games and registered when not worse, shadow A/B
    tests deciding on 40 games, no live-game freeze (the demo ends whenever it is run), a
    3-day metrics window (one night's games are fewer than ``monitoring.min_predictions``), and
    the demo's small LSTM."""
    r = dataclasses.replace
    return r(settings,
             lstm=r(settings.lstm, hidden_size=size.lstm_hidden, epochs=size.lstm_epochs, holdout_games=40,
                    min_improvement=0.0),
             conformal=r(settings.conformal, auto_apply=True, min_samples=30, window_days=7),
             dejavu=r(settings.dejavu, auto_promote=True),
             monitoring=r(settings.monitoring, window_hours=72),
             abtest=r(settings.abtest, min_improvement=0.01, min_games_per_stage=40, min_stage_hours=0.0),
             registry=r(settings.registry, freeze=None))


def run_lifecycle(home: Path, engine: Engine, settings: Settings, *, quick: bool, real: bool, seed: int,
                  now: dt.datetime, epochs: EpochProgress | None = None, days: DayProgress | None = None,
                  on_step: Callable[[Step], None] | None = None, data_dir: Path = BUNDLED_DATA) -> LifecycleResult:
    """Run the whole lifecycle in ``home`` (an empty home: the caller checks) and its store, a
    simulated one up to ``now``; ``on_step`` gets each step as it ends."""
    from nbalife.services.registry import list_versions, open_registry
    from nbalife.services.status import status

    size = QUICK if quick else FULL
    policy = demo_policy(settings, size)
    zone = policy.league.timezone  # league time: the stretch's last day, the mornings
    steps: list[Step] = []

    def step(name: str, call):  # noqa: ANN001, ANN202 - time one step and keep its line(s)
        started = time.perf_counter()
        value, line, *details = call()
        steps.append(Step(name, line, time.perf_counter() - started, tuple(details)))
        if on_step is not None:
            on_step(steps[-1])
        return value

    history, season = step("data", lambda: _real(data_dir, size) if real else _simulated(size, seed, now, zone))
    registry = open_registry(home, engine, policy)
    step("train", lambda: _train(home, engine, registry, policy, history, epochs))
    run = step("season", lambda: _season(home, engine, registry, policy, season, days))
    end = _morning(dt.date.fromisoformat(str(season["game_date"].iloc[-1])), 9, zone) if real else now
    second = dt.timedelta(seconds=1)
    step("abtest", lambda: _decide(home, engine, registry, policy, run.actions, end - 2 * second))
    step("rollback", lambda: _rollback(registry, end - second))
    return LifecycleResult(home, steps, run.actions, registry.current_version(), list_versions(registry, engine),
                           status(engine, registry, policy, now=end, home=home))


def _simulated(size: Size, seed: int, now: dt.datetime, zone: str) -> tuple[tuple[pd.DataFrame, pd.DataFrame], str]:
    """The stretch ends the day before ``now`` in league time (``zone``); the history ends ``OFFSEASON``
    before it starts, labelled a season earlier (game ids carry the label's year)."""
    from zoneinfo import ZoneInfo

    from nbalife.simulate import parse_drift

    drift = parse_drift(DRIFT)
    last = now.astimezone(ZoneInfo(zone)).date() - dt.timedelta(days=1)
    year = last.year if last.month >= 8 else last.year - 1  # the season label's first year
    season = _dated(size.season_games, seed + 1, last, drift, year)
    first = dt.date.fromisoformat(str(season["game_date"].iloc[0]))
    history = _dated(size.history_games, seed, first - OFFSEASON, None, year - 1)
    changed = season["game_date"].iloc[int(drift.at * len(season))]
    return (history, season), (f"simulated {len(history)} games of history ({_span(history)}) and a production "
                               f"stretch of {len(season)} games ({_span(season)}); from {changed} on, the scoring "
                               f"variance doubles ({DRIFT})")


def _dated(games: int, seed: int, last: dt.date, drift: Drift | None, year: int) -> pd.DataFrame:
    """``simulate_season`` labelled ``year``-``year + 1``, its dates moved so that the last game is
    on ``last`` (the simulated games do not depend on their dates)."""
    import pandas as pd

    from nbalife.simulate import simulate_season

    frame = simulate_season(games, season=f"{year}-{(year + 1) % 100:02d}", seed=seed, drift=drift)
    dates = pd.to_datetime(frame["game_date"])
    return frame.assign(game_date=(dates + (pd.Timestamp(last) - dates.iloc[-1])).dt.strftime("%Y-%m-%d"))


def _real(data_dir: Path, size: Size) -> tuple[tuple[pd.DataFrame, pd.DataFrame], str]:
    import pandas as pd

    from nbalife.services.data import read_games_file

    paths = [Path(data_dir) / name for name in (*REAL_HISTORY, REAL_SEASON)]
    for path in paths:
        if not path.is_file():
            raise BadInput(f"{path}: bundled real season missing (nbalife demo --real needs "
                           f"{', '.join((*REAL_HISTORY, REAL_SEASON))})")
    history = pd.concat([read_games_file(p) for p in paths[:-1]], ignore_index=True)
    season = read_games_file(paths[-1])
    played = sorted(season["game_date"].unique())[:size.season_days]
    season = season[season["game_date"].isin(played)].reset_index(drop=True)
    return (history, season), (f"real history: {len(history)} games of {', '.join(REAL_HISTORY)} "
                               f"({_span(history)}); production stretch: the first {len(played)} game days of "
                               f"{REAL_SEASON} ({len(season)} games, {_span(season)})")


def _train(home: Path, engine: Engine, registry: Registry, settings: Settings, history: pd.DataFrame,
           epochs: EpochProgress | None) -> tuple[str | None, str]:
    """``data ingest`` the history, then ``train --register --promote`` the morning after it."""
    from nbalife.interchange import write_games
    from nbalife.services.data import ingest
    from nbalife.services.train import train

    now = _morning(dt.date.fromisoformat(str(history["game_date"].iloc[-1])), 9, settings.league.timezone)
    ingest(engine, write_games(history, home / "data" / "history.csv"), now=now)
    trained = train(history, settings=settings, now=now, registry=registry, engine=engine, promote=True,
                    progress=epochs, description="nbalife demo: the first model")
    return trained.version, (f"trained {trained.version} on the history, registered and promoted it: MAE "
                             f"{trained.metrics['mae']:.2f}, coverage {trained.metrics['coverage']:.3f} on "
                             f"{trained.metrics['evaluated_games']} held-out games ({trained.seconds:.0f} s)")


def _season(home: Path, engine: Engine, registry: Registry, settings: Settings, season: pd.DataFrame,
            days: DayProgress | None) -> tuple[SeasonRun, str, ...]:
    """The production stretch under the scheduled jobs; one detail line per action (the hourly
    metrics check's alerts summed up in one)."""
    from nbalife.services.season import run_season

    run = run_season(season, engine=engine, registry=registry, settings=settings, home=home, abtest_mode="shadow",
                     progress=days)
    line = (f"played {run.days} simulated days: predicted each of {len(season)} games at minute 18 (served by "
            f"{run.served['version'].nunique()} versions in turn), synced its outcome, and ran the jobs at their cron "
            f"times; production went from {run.first_production} to {run.last_production}")
    details = [f"{a.at:%Y-%m-%d} {a.job}: {a.outcome}{'' if a.version is None else f' {a.version}'}: {a.detail}"
               for a in run.actions if a.job not in QUIET]
    alerts = [a for a in run.actions if a.job == "metrics-check"]
    if alerts:
        details.append(f"metrics-check alerted on {len(alerts)} of {run.days} days (last "
                       f"{alerts[-1].at:%Y-%m-%d}: {alerts[-1].detail})")
    return (run, line, *details)


def _decide(home: Path, engine: Engine, registry: Registry, settings: Settings, actions: list[Action],
            now: dt.datetime) -> tuple[None, str]:
    """The A/B test of the retrained candidate, to a decision: the season's own when it reached one;
    else ``abtest advance`` once more, and ``abtest stop`` with its reason when it still waits."""
    from nbalife.services import abtest

    decided = [a for a in actions if a.job == "abtest-advance" and a.outcome in ("promoted", "rolled_back")]
    started = [a for a in actions if a.job == "abtest-start"]
    if decided:
        last = decided[-1]
        return None, f"A/B test (shadow) of {last.version}: {last.outcome} on {last.at:%Y-%m-%d}: {last.detail}"
    running = abtest.status(engine, settings, now=now)
    if running is None:
        if started:
            return None, f"A/B test of {started[-1].version} ended in the stretch without a decision"
        retrains = [a for a in actions if a.job == "lstm-retrain"]
        return None, (f"no A/B test: no retrained candidate beat production on its held-out games ({len(retrains)} "
                      "rejected; see the lstm-retrain lines)" if retrains
                      else "no A/B test: no retrain compared a candidate in the stretch")
    step = abtest.advance(engine, registry, settings, home, now=now)
    test = f"A/B test (shadow) of {step.test.candidate} against {step.test.champion}"
    if step.action != "waiting":
        return None, f"{test}: {step.action}: {step.reason}"
    abtest.stop(engine, home, reason=f"nbalife demo: no decision by the end of the stretch ({step.reason})", now=now)
    return None, f"{test}: no decision by the end of the stretch, so stopped: {step.reason}"


def _rollback(registry: Registry, now: dt.datetime) -> tuple[None, str]:
    from nbalife.services.registry import rollback

    before = registry.current_version()
    switch = rollback(registry, None, now=now, reason="nbalife demo: a rollback, to show that it works")
    return None, f"registry rollback: production back from {before} to {switch.to_version} (the one before it)"


def _morning(day: dt.date, hour: int, zone: str) -> dt.datetime:
    """``hour`` o'clock league time (``zone``) on the morning after ``day``, in UTC."""
    from nbalife.ops.schedule import local_at

    return local_at(day + dt.timedelta(days=1), dt.time(hour), zone)


def _span(games: pd.DataFrame) -> str:
    return f"{games['game_date'].iloc[0]}..{games['game_date'].iloc[-1]}"
