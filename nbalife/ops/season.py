"""A season in simulated time: each game forecast at its minute 18 and logged, its result
ingested, outcomes synced, and the scheduled jobs of ``ops.schedule.JOBS`` run at their cron
times with the simulated clock passed to every service as ``now``.

The simulated server keeps the league's time, ``ZONE`` (cron times are local to it; every ``now``
is UTC). A day: the early-morning jobs at their cron times (``conformal-check`` 02:00, Monday
``dejavu-update`` 03:00 and ``drift-check`` 03:30, the 1st's ``lstm-retrain`` 04:00) see the
results up to the evening before; the day's games are forecast at ``PREDICT_AT`` (one batch: each
game's minute-18 pattern) and their results stored and synced at ``RESULTS_AT`` (the
``outcomes`` job). To keep a season fast, jobs that run more often than daily are evaluated once
a day: ``abtest-advance`` at 01:00 (the first quarter hour after the default live-game freeze)
and the hourly ``metrics-check`` at 23:59 over its usual last ``monitoring.window_hours``.
``metrics-export``, ``verify`` and ``gc`` change no forecast and are not simulated.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from nbalife.errors import BadInput
from nbalife.ops.schedule import JOBS

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy import Engine

    from nbalife.config import Settings
    from nbalife.registry import Registry

DayProgress = Callable[[int, int], None]  # (days done, days in all)
ZONE = "America/New_York"
PREDICT_AT, RESULTS_AT = dt.time(20, 15), dt.time(20, 45)
ADVANCE_AT, METRICS_AT = dt.time(1, 0), dt.time(23, 59)
DAILY_JOBS = ("conformal-check", "dejavu-update", "drift-check", "lstm-retrain")
_LIMITS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))


def _values(text: str, low: int, high: int) -> set[int]:
    """The values one cron field (``*``, ``N``, ``A-B``, ``*/S``, ``A-B/S``, lists) allows."""
    allowed: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        try:
            step = int(step_text) if step_text else 1
            first, last = ((low, high) if base == "*" else
                           tuple(int(x) for x in base.split("-")) if "-" in base else
                           (int(base), high if step_text else int(base)))
        except ValueError:
            raise BadInput(f"cron field {text!r}: not a number, range or */step") from None
        if step < 1 or not low <= first <= last <= high:
            raise BadInput(f"cron field {text!r}: outside {low}-{high}")
        allowed.update(range(first, last + 1, step))
    return allowed


def fire_times(expression: str, day: dt.date, zone: str = ZONE) -> list[dt.datetime]:
    """The times (UTC) on ``day`` in ``zone`` at which the 5-field cron ``expression`` fires (cron's rule: when
    both day-of-month and day-of-week are restricted, either one matching is enough)."""
    fields = expression.split()
    if len(fields) != 5:
        raise BadInput(f"cron expression {expression!r}: expected 5 fields")
    minutes, hours, doms, months, dows = (_values(f, lo, hi) for f, (lo, hi) in zip(fields, _LIMITS))
    dows = {d % 7 for d in dows}
    dom_ok, dow_ok = day.day in doms, (day.weekday() + 1) % 7 in dows
    restricted = fields[2] != "*" and fields[4] != "*"
    if day.month not in months or not ((dom_ok or dow_ok) if restricted else (dom_ok and dow_ok)):
        return []
    return [local_at(day, dt.time(h, m), zone) for h in sorted(hours) for m in sorted(minutes)]


def local_at(day: dt.date, time_of_day: dt.time, zone: str = ZONE) -> dt.datetime:
    """``time_of_day`` on ``day`` in ``zone``, as an aware UTC datetime."""
    from zoneinfo import ZoneInfo

    return dt.datetime.combine(day, time_of_day, ZoneInfo(zone)).astimezone(dt.timezone.utc)


@dataclass(frozen=True)
class Action:
    """One thing a scheduled job did that changed or flagged something."""

    at: dt.datetime
    job: str
    outcome: str
    version: str | None
    detail: str


@dataclass(frozen=True)
class SeasonRun:
    """What the policy did and the forecasts that served each game (one row per game)."""

    actions: list[Action]
    served: pd.DataFrame  # game_id, game_date, forecast, lower, upper, version, arm
    job_seconds: dict[str, float]
    job_runs: dict[str, int]
    first_production: str
    last_production: str | None
    days: int


@dataclass
class _Clock:
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    runs: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    actions: list[Action] = field(default_factory=list)


def run_season(games: pd.DataFrame, *, engine: Engine, registry: Registry, settings: Settings, home: Path,
               abtest_mode: str = "split", progress: DayProgress | None = None, hook: Any = None) -> SeasonRun:
    """Walk every day from the first to the last game of ``games`` (oldest first, results
    included) against the store and registry of a home whose production is trained.

    A retrain that registers a candidate starts an A/B test of it (``abtest_mode``, B's first
    share the first of ``abtest.stages``) when none runs; ``abtest advance`` moves it on.
    """
    from nbalife.interchange import PATTERN_COLUMNS

    clock = _Clock()
    first_production = registry.current_version()
    if first_production is None:
        raise BadInput("the season needs a production version to start from")
    dates = sorted(set(games["game_date"]))
    first, last = dt.date.fromisoformat(dates[0]), dt.date.fromisoformat(dates[-1])
    by_day = {d: frame for d, frame in games.groupby("game_date", sort=True)}
    served: list[pd.DataFrame] = []
    cache: dict[str, object] = {}
    days = (last - first).days + 1
    for index in range(days):
        day = first + dt.timedelta(days=index)
        skip = hook.morning(day) if hook is not None else frozenset()
        advance_at = local_at(day, ADVANCE_AT)
        if "abtest-advance" not in skip:
            _timed(clock, "abtest-advance", lambda: _advance(engine, registry, settings, home, advance_at))
        for job in JOBS:
            if job.name in DAILY_JOBS and job.name not in skip:
                for when in fire_times(job.when, day):
                    _timed(clock, job.name, lambda j=job.name, w=when: _scheduled(
                        j, engine, registry, settings, home, w, abtest_mode))
        if hook is not None:
            _timed(clock, "guard-check", lambda: hook.after_jobs(day))
        todays = by_day.get(day.isoformat())
        if todays is not None:
            predicted, done = local_at(day, PREDICT_AT), local_at(day, RESULTS_AT)
            served.append(_timed(clock, "predict", lambda: _predict(
                engine, registry, todays, PATTERN_COLUMNS, predicted, cache)))
            if "ingest" in skip:
                hook.hold(todays)
            else:
                _timed(clock, "ingest", lambda: _store_results(engine, todays, done))
            if "outcomes" not in skip:
                _timed(clock, "outcomes", lambda: _sync(engine, done))
        metrics_at = local_at(day, METRICS_AT)
        if "metrics-check" not in skip:
            _timed(clock, "metrics-check", lambda: _metrics(engine, settings, metrics_at))
        if progress is not None:
            progress(index + 1, days)
    import pandas as pd

    return SeasonRun(clock.actions, pd.concat(served, ignore_index=True), dict(clock.seconds), dict(clock.runs),
                     first_production, registry.current_version(), days)


def _timed(clock: _Clock, job: str, call: Callable[[], object]) -> object:
    """Run one job: its wall-clock seconds and the actions it returns are kept."""
    started = time.perf_counter()
    result = call()
    clock.seconds[job] += time.perf_counter() - started
    clock.runs[job] += 1
    if isinstance(result, list) and result and isinstance(result[0], Action):
        clock.actions.extend(result)
    elif isinstance(result, Action):
        clock.actions.append(result)
    return result


def _predict(engine: Engine, registry: Registry, todays: pd.DataFrame, columns: list[str],
             at: dt.datetime, cache: dict) -> pd.DataFrame:
    """Forecast the day's games from d0..d18 as ``predict`` does (routed through a running A/B
    test) and keep the serving row of each game (arm A or B; a shadow forecast serves nothing).
    Production is loaded (verified) once per version."""
    import numpy as np
    import pandas as pd

    from nbalife.services.abtest import forecast_routed
    from nbalife.services.model_loading import load_model_set
    from nbalife.services.predict import forecast

    version = registry.current_version()
    loaded = cache.get(version) or cache.setdefault(version, load_model_set(registry))
    ids, patterns = list(todays["game_id"]), todays[columns].to_numpy(dtype=np.float32)
    result = forecast_routed(engine, registry, loaded, ids, patterns, now=at) or forecast(
        engine, loaded, ids, patterns, now=at)
    rows = [r for r in result.rows if r.arm in ("A", "B")]
    return pd.DataFrame({"game_id": [r.game_id for r in rows], "game_date": [todays["game_date"].iloc[0]] * len(rows),
                         "forecast": [r.forecast for r in rows], "lower": [r.lower for r in rows],
                         "upper": [r.upper for r in rows], "version": [r.version for r in rows],
                         "arm": [r.arm for r in rows]})


def _store_results(engine: Engine, todays: pd.DataFrame, at: dt.datetime) -> None:
    """The day's finished games into the store, as ``data ingest`` stores them."""
    from nbalife.store.engine import reachable
    from nbalife.store.events import record_event
    from nbalife.store.games import upsert_games

    with reachable(engine), engine.begin() as conn:
        counts = upsert_games(conn, todays, at)
        record_event(conn, "ingest", "ok", at=at, details={"file": "replay", "rows": len(todays),
                                                           "inserted": counts.inserted, "updated": counts.updated,
                                                           "rejected": 0})


def _sync(engine: Engine, at: dt.datetime) -> None:
    from nbalife.services.outcomes import sync

    sync(engine, now=at)


def _metrics(engine: Engine, settings: Settings, at: dt.datetime) -> Action | None:
    from nbalife.services.metrics import check

    result = check(engine, settings.monitoring, now=at)
    return Action(at, "metrics-check", "alert", None, result.message) if result.outcome == "alert" else None


def _advance(engine: Engine, registry: Registry, settings: Settings, home: Path, at: dt.datetime) -> Action | None:
    from nbalife.services.abtest import advance, status

    if status(engine, settings, now=at) is None:
        return None
    step = advance(engine, registry, settings, home, now=at)
    if step.action == "waiting":
        return None
    return Action(at, "abtest-advance", step.action, step.test.candidate, step.reason)


def _scheduled(job: str, engine: Engine, registry: Registry, settings: Settings, home: Path, at: dt.datetime,
               abtest_mode: str) -> list[Action]:
    """Run one early-morning job; the actions it took (none when it found nothing to do)."""
    from nbalife.services import conformal, dejavu, drift, lstm

    if job == "conformal-check":
        checked = conformal.check(engine, registry, settings, now=at)
        if checked.recalibration is None:
            return []
        r = checked.recalibration
        outcome = "applied" if r.applied else ("refused" if r.refused else "registered")
        return [Action(at, job, outcome, r.version, f"coverage {checked.coverage:.3f} over {checked.n} games: "
                       f"quantile {r.old_quantile:.2f} -> {r.new_quantile:.2f}" + (f" ({r.refused})" if r.refused
                                                                                   else ""))]
    if job == "dejavu-update":
        updated = dejavu.update(engine, registry, settings, now=at)
        if updated.version is None:
            return []
        outcome = "promoted" if updated.promoted else ("refused" if updated.refused else "registered")
        return [Action(at, job, outcome, updated.version, f"+{updated.added} games, -{updated.dropped}, "
                       f"{updated.size_after} patterns")]
    if job == "drift-check":
        report = drift.check(engine, registry, settings.drift, days=None, now=at)
        return [Action(at, job, "drift", report.version, report.message)] if report.outcome == "drift" else []
    retrained = lstm.retrain(engine, registry, settings, home=home, now=at)
    if retrained.outcome == "skipped":
        return []
    actions = [Action(at, job, retrained.outcome, retrained.version, retrained.message)]
    if retrained.version is not None:
        actions += _start_test(engine, registry, settings, home, retrained.version, abtest_mode, at)
    return actions


def _start_test(engine: Engine, registry: Registry, settings: Settings, home: Path, candidate: str, mode: str,
                at: dt.datetime) -> list[Action]:
    from nbalife.services.abtest import start, status

    if status(engine, settings, now=at) is not None:
        return []
    traffic = settings.abtest.stages[0] / 100
    test = start(engine, registry, settings, home, candidate=candidate, mode=mode, traffic=traffic,
                 min_improvement=None, now=at)
    return [Action(at, "abtest-start", "started", candidate, f"{test.test_id}: {mode}, B's share "
                   f"{test.traffic:.0%} against {test.champion}")]
