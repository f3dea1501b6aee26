"""The lifecycle demo: history, a trained production, a production stretch with drift played in
simulated time under the scheduled jobs, an A/B test of the retrained candidate to a decision,
and a rollback. Each step says in one line what it did."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nbalife.config import Settings
from nbalife.errors import BadInput

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy import Engine

    from nbalife.forecast.lstm import EpochProgress
    from nbalife.ops.season import Action, DayProgress
    from nbalife.registry import Registry

BUNDLED_DATA = Path(__file__).resolve().parents[2] / "data" / "nba"
REAL_HISTORY = ("nba_2020-21.csv", "nba_2021-22.csv")
REAL_SEASON = "nba_2022-23.csv"
DRIFT = "at=0.3,variance=2.0"  # scoring variance doubles 30% into the production stretch


@dataclass(frozen=True)
class Size:
    """How much the demo simulates and how big its LSTM is."""

    history_games: int
    season_games: int
    season_days: int | None  # real seasons: game days played (None: all)
    lstm_hidden: int
    lstm_epochs: int


QUICK = Size(history_games=900, season_games=320, season_days=40, lstm_hidden=8, lstm_epochs=3)
FULL = Size(history_games=2460, season_games=700, season_days=95, lstm_hidden=32, lstm_epochs=8)


@dataclass(frozen=True)
class Step:
    """One step of the demo: its name, what it did in one line, and its wall-clock seconds."""

    name: str
    description: str
    seconds: float


@dataclass(frozen=True)
class LifecycleResult:
    """The demo's steps in order, the jobs' actions in simulated time, and production at the end."""

    home: Path
    steps: list[Step]
    actions: list[Action]
    production: str | None


def demo_policy(settings: Settings, size: Size) -> Settings:
    """The demo's policy: applied recalibrations and Dejavu updates, small retrain hold-outs (a
    weekly Dejavu update moves production's training window on, so a retrain on the 1st can
    hold out only the games since the last Monday), quick shadow A/B tests, the demo's LSTM."""
    r = dataclasses.replace
    return r(settings,
             lstm=r(settings.lstm, hidden_size=size.lstm_hidden, epochs=size.lstm_epochs, holdout_games=20,
                    min_new_games=50, min_improvement=0.0),
             conformal=r(settings.conformal, auto_apply=True, min_samples=30, window_days=7),
             dejavu=r(settings.dejavu, auto_promote=True),
             abtest=r(settings.abtest, min_improvement=0.01, min_games_per_stage=40, min_stage_hours=0.0),
             registry=r(settings.registry, freeze=None))


def run_lifecycle(home: Path, engine: Engine, settings: Settings, *, quick: bool, real: bool, seed: int,
                  epochs: EpochProgress | None = None, days: DayProgress | None = None,
                  data_dir: Path = BUNDLED_DATA) -> LifecycleResult:
    """Run the whole lifecycle in ``home`` (an empty home: the caller checks) and its store."""
    from nbalife.services.registry import open_registry

    size = QUICK if quick else FULL
    policy = demo_policy(settings, size)
    steps: list[Step] = []

    def step(name: str, call):  # noqa: ANN001, ANN202 - time one step and keep its line
        started = time.perf_counter()
        value, line = call()
        steps.append(Step(name, line, time.perf_counter() - started))
        return value

    history, season = step("data", lambda: _real(data_dir, size) if real else _simulated(home, size, seed))
    registry = open_registry(home, engine, policy)
    step("train", lambda: _train(home, engine, registry, policy, history, epochs))
    run = step("season", lambda: _season(home, engine, registry, policy, season, days))
    step("abtest", lambda: _decide(home, engine, registry, policy, season, run.actions))
    step("rollback", lambda: _rollback(registry))
    return LifecycleResult(home, steps, run.actions, registry.current_version())


def _simulated(home: Path, size: Size, seed: int) -> tuple[tuple[pd.DataFrame, pd.DataFrame], str]:
    from nbalife.simulate import parse_drift, simulate_season

    history = simulate_season(size.history_games, season="2022-23", seed=seed)
    season = simulate_season(size.season_games, season="2023-24", seed=seed + 1, drift=parse_drift(DRIFT))
    return (history, season), (f"simulated {len(history)} games of history ({history['game_date'].iloc[0]}.."
                               f"{history['game_date'].iloc[-1]}) and a production stretch of {len(season)} games "
                               f"with drift {DRIFT}")


def _real(data_dir: Path, size: Size) -> tuple[tuple[pd.DataFrame, pd.DataFrame], str]:
    import pandas as pd

    from nbalife.services.data import read_games_file

    paths = [Path(data_dir) / name for name in (*REAL_HISTORY, REAL_SEASON)]
    for path in paths:
        if not path.is_file():
            raise BadInput(f"{path}: bundled real season missing (the demo --real needs it)")
    history = pd.concat([read_games_file(p) for p in paths[:-1]], ignore_index=True)
    season = read_games_file(paths[-1])
    played = sorted(season["game_date"].unique())[:size.season_days]
    season = season[season["game_date"].isin(played)].reset_index(drop=True)
    return (history, season), (f"real history: {len(history)} games of {', '.join(REAL_HISTORY)}; production "
                               f"stretch: the first {len(played)} game days of {REAL_SEASON} ({len(season)} games)")


def _train(home: Path, engine: Engine, registry: Registry, settings: Settings, history: pd.DataFrame,
           epochs: EpochProgress | None) -> tuple[str | None, str]:
    """``data ingest`` the history, then ``train --register --promote``."""
    from nbalife.interchange import write_games
    from nbalife.services.data import ingest
    from nbalife.services.train import train

    now = _clock(history["game_date"].iloc[-1], 1)
    ingest(engine, write_games(history, home / "data" / "history.csv"), now=now)
    trained = train(history, settings=settings, now=now, registry=registry, engine=engine, promote=True,
                    progress=epochs, description="nbalife demo: the first model")
    return trained.version, (f"trained, registered and promoted {trained.version}: MAE {trained.metrics['mae']:.2f}, "
                             f"coverage {trained.metrics['coverage']:.3f} on {trained.metrics['evaluated_games']} "
                             f"held-out games ({trained.seconds:.0f} s)")


def _season(home: Path, engine: Engine, registry: Registry, settings: Settings, season: pd.DataFrame,
            days: DayProgress | None) -> tuple[object, str]:
    from collections import Counter

    from nbalife.ops.season import run_season

    run = run_season(season, engine=engine, registry=registry, settings=settings, home=home, abtest_mode="shadow",
                     progress=days)
    counts = Counter(f"{a.job} {a.outcome}" for a in run.actions)
    shown = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "no action"
    return run, (f"played {len(season)} games over {run.days} simulated days (each predicted at minute 18, "
                 f"outcomes synced; hourly, daily, weekly and monthly jobs at their cron times): {shown}")


def _decide(home: Path, engine: Engine, registry: Registry, settings: Settings, season: pd.DataFrame,
            actions: list[Action]) -> tuple[None, str]:
    """The A/B test of the retrained candidate, to a decision: the season's own when it reached one;
    else ``abtest advance`` once more, and ``abtest stop`` when it still waits."""
    from nbalife.services import abtest

    decided = [a for a in actions if a.job == "abtest-advance" and a.outcome in ("promoted", "rolled_back")]
    started = [a for a in actions if a.job == "abtest-start"]
    if decided:
        last = decided[-1]
        return None, f"A/B test (shadow) of {last.version}: {last.outcome} on {last.at:%Y-%m-%d}: {last.detail}"
    now = _clock(season["game_date"].iloc[-1], 2)
    if abtest.status(engine, settings, now=now) is None:
        if started:
            return None, f"A/B test of {started[-1].version} ended in the season without a decision"
        return None, ("no A/B test: no retrain beat production on its held-out games "
                      f"({sum(a.job == 'lstm-retrain' for a in actions)} retrain(s) ran)")
    step = abtest.advance(engine, registry, settings, home, now=now)
    if step.action != "waiting":
        return None, f"A/B test (shadow) of {step.test.candidate}: {step.action}: {step.reason}"
    stopped = abtest.stop(engine, home, reason=f"demo: no decision at the end of the stretch ({step.reason})",
                          now=now)
    return None, f"A/B test (shadow) of {stopped.candidate}: no significant difference, stopped: {step.reason}"


def _rollback(registry: Registry) -> tuple[None, str]:
    from nbalife.services.registry import rollback

    before = registry.current_version()
    switch = rollback(registry, None, reason="nbalife demo: a rollback, to show that it works")
    return None, f"rolled production back from {before} to {switch.to_version}"


def _clock(day: str, hour: int) -> dt.datetime:
    """``hour`` UTC on the day after ``day``."""
    return dt.datetime.combine(dt.date.fromisoformat(day) + dt.timedelta(days=1), dt.time(hour), dt.timezone.utc)
