"""The season runner: a season in simulated time, each game forecast at its minute 18 and
logged, its result ingested, outcomes synced, and the scheduled jobs of ``ops.schedule.JOBS`` run
at their cron times with the simulated clock passed to every service as ``now``. It drives the
services, so it sits above them, beside ``replay`` and the demo that run it.

The simulated server keeps the league's time, ``league.timezone`` (cron times are local to it;
every ``now`` is UTC). A day (``play_day``): the early-morning jobs at their cron times (``conformal-check`` 02:00, Monday
``dejavu-update`` 03:00 and ``drift-check`` 03:30, the 1st's ``lstm-retrain`` 04:00) see the
results up to the evening before; the day's games are forecast at ``PREDICT_AT`` (one batch: each
game's minute-18 pattern) and their results stored and synced at ``RESULTS_AT`` (the
``outcomes`` job). To keep a season fast, jobs that run more often than daily are evaluated once
a day: ``abtest-advance`` at 01:00 (the first quarter hour after the default live-game freeze)
and the hourly ``metrics-check`` at 23:59 over its usual last ``monitoring.window_hours``.
``metrics-export``, ``verify`` and ``gc`` change no forecast and are not simulated. The day's
forecasts go through ``services.forecasting`` as ``predict``'s do, each game with its teams'
strength as of its date, so a replay measures what production serves.

pandas and numpy are imported inside the functions that use them (here and across nbalife): that
only defers a heavy library until a command needs it, so ``nbalife --help`` starts fast.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from nbalife.errors import BadInput
from nbalife.interchange import PATTERN_COLUMNS
from nbalife.ops.schedule import JOBS, fire_times, local_at
from nbalife.services import abtest, conformal, dejavu, drift, lstm, metrics, outcomes
from nbalife.services.forecasting import forecast, forecast_routed
from nbalife.services.matchups import with_store
from nbalife.services.model_loading import LoadedModelSet, load_model_set
from nbalife.store.engine import reachable
from nbalife.store.events import record_event
from nbalife.store.games import upsert_games

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy import Engine

    from nbalife.config import Settings
    from nbalife.registry import Registry

DayProgress = Callable[[int, int], None]  # (days done, days in all)
PREDICT_AT, RESULTS_AT = dt.time(20, 15), dt.time(20, 45)
ADVANCE_AT, METRICS_AT = dt.time(1, 0), dt.time(23, 59)
DAILY_JOBS = ("conformal-check", "dejavu-update", "drift-check", "lstm-retrain")




@dataclass(frozen=True)
class Action:
    """One thing a scheduled job did that changed or flagged something; ``causes`` names what an
    alert was about (one per breached level)."""

    at: dt.datetime
    job: str
    outcome: str
    version: str | None
    detail: str
    causes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SeasonRun:
    """What the policy did and the forecasts that served each game (one row per game), and each
    change of production (when, to which version); times are aware, in league time."""

    actions: list[Action]
    served: pd.DataFrame  # game_id, game_date, forecast, lower, upper, version, arm
    job_seconds: dict[str, float]
    job_runs: dict[str, int]
    first_production: str
    last_production: str | None
    days: int
    productions: list[tuple[dt.datetime, str]] = field(default_factory=list)


@dataclass
class Season:
    """The state a season carries from day to day: where it runs, its games by date, and what it
    has done so far (actions, served forecasts, time per job, production's changes)."""

    engine: Engine
    registry: Registry
    settings: Settings
    home: Path
    abtest_mode: str
    by_day: dict[str, pd.DataFrame]
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    runs: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    actions: list[Action] = field(default_factory=list)
    served: list[pd.DataFrame] = field(default_factory=list)
    loaded: dict[str, LoadedModelSet] = field(default_factory=dict)
    productions: list[tuple[dt.datetime, str]] = field(default_factory=list)

    @property
    def zone(self) -> str:
        """The league's time zone (``league.timezone``): cron times and game days are local to it."""
        return self.settings.league.timezone

    def timed(self, job: str, call: Callable[[], object]) -> object:
        """Run one job: its wall-clock seconds and the actions it returns are kept, and a change
        of production it made is noted at the time of its last action (else the job's run)."""
        started = time.perf_counter()
        result = call()
        self.seconds[job] += time.perf_counter() - started
        self.runs[job] += 1
        found = result if isinstance(result, list) else [result] if isinstance(result, Action) else []
        self.actions.extend(a for a in found if isinstance(a, Action))
        return result

    def note_production(self, at: dt.datetime) -> None:
        """Record production's version at ``at`` when it differs from the last one recorded."""
        current = self.registry.current_version()
        if current is not None and (not self.productions or self.productions[-1][1] != current):
            self.productions.append((at, current))


def run_season(games: pd.DataFrame, *, engine: Engine, registry: Registry, settings: Settings, home: Path,
               abtest_mode: str = "split", progress: DayProgress | None = None,
               day_step: Callable[[Season, dt.date], None] | None = None) -> SeasonRun:
    """Walk every day from the first to the last game of ``games`` (oldest first, results
    included) against the store and registry of a home whose production is trained.

    A retrain that registers a candidate starts an A/B test of it (``abtest_mode``, B's first
    share the first of ``abtest.stages``) when none runs; ``abtest advance`` moves it on.
    ``day_step`` plays one day (default ``play_day``): a caller may wrap it to act around a day.
    """
    import pandas as pd

    first_production = registry.current_version()
    if first_production is None:
        raise BadInput("the season needs a production version to start from")
    dates = sorted(set(games["game_date"]))
    first, last = dt.date.fromisoformat(dates[0]), dt.date.fromisoformat(dates[-1])
    season = Season(engine, registry, settings, home, abtest_mode,
                    {d: frame for d, frame in games.groupby("game_date", sort=True)})
    season.note_production(local_at(first, dt.time(0), season.zone))
    days = (last - first).days + 1
    step = day_step or play_day
    for index in range(days):
        step(season, first + dt.timedelta(days=index))
        if progress is not None:
            progress(index + 1, days)
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(season.zone)  # times as the operator reads them: league time (the same instants)
    actions = [dataclasses.replace(a, at=a.at.astimezone(zone)) for a in season.actions]
    productions = [(at.astimezone(zone), version) for at, version in season.productions]
    return SeasonRun(actions, pd.concat(season.served, ignore_index=True), dict(season.seconds),
                     dict(season.runs), first_production, registry.current_version(), days, productions)


def play_day(season: Season, day: dt.date, *, skip: frozenset[str] = frozenset(),
             after_jobs: Callable[[], object] | None = None) -> None:
    """One day of the season: the A/B step at ``ADVANCE_AT``, the early-morning jobs at their cron
    times, the day's games forecast at ``PREDICT_AT`` and their results stored and synced at
    ``RESULTS_AT``, and the metrics check at ``METRICS_AT``.

    A ``day_step`` that wraps it may ``skip`` jobs by name (``ingest``: the day's results do not
    reach the store) and run ``after_jobs`` once the early-morning jobs are done."""
    s, zone = season, season.zone
    advance_at = local_at(day, ADVANCE_AT, zone)
    if "abtest-advance" not in skip:
        s.timed("abtest-advance", lambda: _advance(s, advance_at))
        s.note_production(advance_at)
    for job in JOBS:
        if job.name in DAILY_JOBS and job.name not in skip:
            for when in fire_times(job.when, day, zone):
                s.timed(job.name, lambda j=job.name, w=when: _scheduled(s, j, w))
                s.note_production(when)
    if after_jobs is not None:
        after_jobs()
    todays = s.by_day.get(day.isoformat())
    if todays is not None:
        predicted, done = local_at(day, PREDICT_AT, zone), local_at(day, RESULTS_AT, zone)
        s.served.append(s.timed("predict", lambda: _predict(s, todays, predicted)))
        if "ingest" not in skip:
            s.timed("ingest", lambda: _store_results(s.engine, todays, done))
        if "outcomes" not in skip:
            s.timed("outcomes", lambda: outcomes.sync(s.engine, now=done, registry=s.registry))
    if "metrics-check" not in skip:
        metrics_at = local_at(day, METRICS_AT, zone)
        s.timed("metrics-check", lambda: _metrics(s, metrics_at))


def _predict(season: Season, todays: pd.DataFrame, at: dt.datetime) -> pd.DataFrame:
    """Forecast the day's games as ``predict --input`` does (each with its teams' strength as of
    the day, routed through a running A/B test) and keep the serving row of each game (arm A or
    B; a shadow forecast serves nothing). Each version is loaded (verified) once."""
    import numpy as np
    import pandas as pd

    s = season
    version = s.registry.current_version()
    loaded = s.loaded.get(version) or s.loaded.setdefault(version, load_model_set(s.registry))
    ids, patterns = list(todays["game_id"]), todays[PATTERN_COLUMNS].to_numpy(dtype=np.float32)
    matchups = with_store(s.engine, todays, loaded.models)
    result = forecast_routed(s.engine, s.registry, loaded, ids, patterns, now=at, matchups=matchups,
                             loaded=s.loaded) or forecast(s.engine, loaded, ids, patterns, now=at, matchups=matchups)
    rows = [r for r in result.rows if r.arm in ("A", "B")]
    return pd.DataFrame({"game_id": [r.game_id for r in rows], "game_date": [todays["game_date"].iloc[0]] * len(rows),
                         "forecast": [r.forecast for r in rows], "lower": [r.lower for r in rows],
                         "upper": [r.upper for r in rows], "version": [r.version for r in rows],
                         "arm": [r.arm for r in rows], "context": [r.context for r in rows]})


def _store_results(engine: Engine, todays: pd.DataFrame, at: dt.datetime) -> None:
    """The day's finished games into the store, as ``data ingest`` stores them."""
    with reachable(engine), engine.begin() as conn:
        counts = upsert_games(conn, todays, at)
        record_event(conn, "ingest", "ok", at=at, details={"file": "replay", "rows": len(todays),
                                                           "inserted": counts.inserted, "updated": counts.updated,
                                                           "rejected": 0})


def _metrics(season: Season, at: dt.datetime) -> Action | None:
    result = metrics.check(season.engine, season.settings.monitoring, now=at, zone=season.zone,
                           repeat_hours=season.settings.notify.repeat_hours)
    if result.outcome != "alert":
        return None
    causes = tuple(dict.fromkeys(metrics.alert_cause(b) for b in result.breaches)) or ("alert",)
    return Action(at, "metrics-check", "alert", None, result.message, causes)


def _advance(season: Season, at: dt.datetime) -> Action | None:
    s = season
    if abtest.status(s.engine, s.settings, now=at) is None:
        return None
    step = abtest.advance(s.engine, s.registry, s.settings, s.home, now=at)
    if step.action == "waiting":
        return None
    return Action(at, "abtest-advance", step.action, step.test.candidate, step.reason)


def _scheduled(season: Season, job: str, at: dt.datetime) -> list[Action]:
    """Run one early-morning job; the actions it took (none when it found nothing to do)."""
    s = season
    if job == "conformal-check":
        checked = conformal.check(s.engine, s.registry, s.settings, now=at)
        if checked.recalibration is None:
            return []
        r = checked.recalibration
        outcome = "applied" if r.applied else ("refused" if r.refused else "registered")
        return [Action(at, job, outcome, r.version, f"coverage {checked.coverage:.3f} over {checked.n} games: "
                       f"quantile {r.old_quantile:.2f} -> {r.new_quantile:.2f}" + (f" ({r.refused})" if r.refused
                                                                                   else ""), ("coverage",))]
    if job == "dejavu-update":
        updated = dejavu.update(s.engine, s.registry, s.settings, now=at)
        if updated.version is None:
            return []
        outcome = "promoted" if updated.promoted else ("refused" if updated.refused else "registered")
        return [Action(at, job, outcome, updated.version, f"+{updated.added} games, -{updated.dropped}, "
                       f"{updated.size_after} patterns")]
    if job == "drift-check":
        report = drift.check(s.engine, s.registry, s.settings.drift, days=None, now=at)
        return [Action(at, job, "drift", report.version, report.message, ("input drift",))] \
            if report.outcome == "drift" else []
    retrained = lstm.retrain(s.engine, s.registry, s.settings, home=s.home, now=at)
    if retrained.outcome == "skipped":
        return []
    actions = [Action(at, job, retrained.outcome, retrained.version, retrained.message)]
    if retrained.version is not None:
        actions += _start_test(s, retrained.version, at)
    return actions


def _start_test(season: Season, candidate: str, at: dt.datetime) -> list[Action]:
    s = season
    if abtest.status(s.engine, s.settings, now=at) is not None:
        return []
    traffic = s.settings.abtest.stages[0] / 100
    test = abtest.start(s.engine, s.registry, s.settings, s.home, candidate=candidate, mode=s.abtest_mode,
                        traffic=traffic, min_improvement=None, now=at)
    return [Action(at, "abtest-start", "started", candidate, f"{test.test_id}: {s.abtest_mode}, B's share "
                   f"{test.traffic:.0%} against {test.champion}")]
