"""``replay --fault KIND@DATE[:PARAM]``: faults injected into a replayed season, the guardrails
checked every simulated morning, and one row per fault of when and by what it was caught.

Kinds (``DATE`` a day of the replayed window):

- ``variance@D:F``: from D the last six minutes move ``sqrt(F)`` times as far (``d19..d24`` scaled
  about ``d18`` and rounded to whole points; ``final_diff`` shifted with ``d24``): the move's
  variance times F.
- ``bias@D:TEAM``: from D the feed gives that team's games with the home/away sign swapped
  (``d0..d24`` and ``final_diff`` negated).
- ``bad-model@D``: on D (04:30) a model trained on shuffled targets (the rows' ``d19..d24`` and
  ``final_diff`` permuted among the stored games) is registered on production and force-promoted.
- ``outcomes-stop@D:DAYS``: no results reach the store for DAYS days from D; the missing ones
  arrive together on the day after (a feed that comes back).
- ``job-stop@D:JOB``: that cron job stops running from D (its wrapper record stops; a job the
  season runs, such as ``outcomes`` or ``conformal-check``, really stops).
- ``stale-model@D``: the jobs that change the model (``conformal-check``, ``dejavu-update``,
  ``lstm-retrain``) stop from D.

Every replay runs ``guard check --apply`` twice each day, at ``GUARD_TIMES`` (the schedule's
hourly check, sampled: after the early-morning jobs, and once the night's predictions are past
``monitoring.outcome_lag_hours``), with the cron wrapper's records written as the schedule would
have left them. ``SeasonFaults.play``
is the season runner's ``day_step``: it plays each day (``services.season.play_day``) without the
jobs the faults stop, holds back the results of a stopped feed, and checks the guardrails once the
early-morning jobs ran. Times are league time (``league.timezone``).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbalife.config import Settings
from nbalife.errors import BadInput, quoted
from nbalife.ops.jobs import write_record
from nbalife.ops.schedule import JOBS, fire_times, local_at
from nbalife.services import guard
from nbalife.services.season import PREDICT_AT, RESULTS_AT, Season, play_day

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy import Engine

    from nbalife.registry import Registry

KINDS = ("variance", "bias", "bad-model", "outcomes-stop", "job-stop", "stale-model")
MODEL_JOBS = ("conformal-check", "dejavu-update", "lstm-retrain")
GUARD_TIMES = (dt.time(4, 30), dt.time(12, 30))
INJECT_AT = dt.time(4, 45)  # a bad model is promoted after the first guard check of its day
_SPEC = re.compile(r"([a-z-]+)@([0-9]{4}-[0-9]{2}-[0-9]{2})(?::(.+))?")
FUTURE = [f"d{i}" for i in range(19, 25)]
DIFFS = [f"d{i}" for i in range(25)]


@dataclass(frozen=True)
class Fault:
    """One parsed ``--fault`` spec."""

    text: str
    kind: str
    day: dt.date
    factor: float | None = None
    team: str | None = None
    days: int | None = None
    job: str | None = None


def parse_fault(text: str) -> Fault:
    """``KIND@YYYY-MM-DD[:PARAM]`` with the parameter its kind needs; BadInput naming the spec."""
    where = f"--fault {quoted(text)}"
    match = _SPEC.fullmatch(text.strip())
    if match is None:
        raise BadInput(f"{where}: expected KIND@YYYY-MM-DD[:PARAM], KIND one of {', '.join(KINDS)}")
    kind, day_text, param = match.groups()
    if kind not in KINDS:
        raise BadInput(f"{where}: unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    try:
        day = dt.date.fromisoformat(day_text)
    except ValueError:
        raise BadInput(f"{where}: {day_text!r} is not a date") from None
    needs = {"variance": "a factor, e.g. variance@D:1.3", "bias": "a team code, e.g. bias@D:BOS",
             "outcomes-stop": "a number of days, e.g. outcomes-stop@D:3", "job-stop": "a job, e.g. job-stop@D:outcomes"}
    if kind in needs and not param:
        raise BadInput(f"{where}: {kind} needs {needs[kind]}")
    if kind not in needs and param:
        raise BadInput(f"{where}: {kind} takes no parameter")
    if kind == "variance":
        try:
            factor = float(param)
        except ValueError:
            factor = math.nan
        if not math.isfinite(factor) or not 0 < factor <= 10:
            raise BadInput(f"{where}: variance factor {param!r} is not a number in (0, 10]")
        return Fault(text, kind, day, factor=factor)
    if kind == "outcomes-stop":
        if not param.isdigit() or not 1 <= int(param) <= 365:
            raise BadInput(f"{where}: days {param!r} is not a whole number in 1..365")
        return Fault(text, kind, day, days=int(param))
    if kind == "job-stop":
        names = [j.name for j in JOBS]
        if param not in names:
            raise BadInput(f"{where}: unknown job {param!r}; expected one of {', '.join(names)}")
        return Fault(text, kind, day, job=param)
    if kind == "bias":
        return Fault(text, kind, day, team=param)
    return Fault(text, kind, day)


def check_faults(texts: list[str] | tuple[str, ...], replayed: pd.DataFrame) -> list[Fault]:
    """Every spec parsed and checked against the replayed games: its date inside the window, its
    team one that plays in it. BadInput naming the first bad spec."""
    faults = [parse_fault(t) for t in texts]
    first, last = (dt.date.fromisoformat(replayed["game_date"].iloc[i]) for i in (0, -1))
    teams = set(replayed["home"]) | set(replayed["away"])
    for fault in faults:
        where = f"--fault {quoted(fault.text)}"
        if not first <= fault.day <= last:
            raise BadInput(f"{where}: {fault.day} is outside the replayed season {first}..{last}")
        if fault.team is not None and fault.team not in teams:
            raise BadInput(f"{where}: unknown team {fault.team!r} (not in the replayed games)")
    return faults


def perturb(games: pd.DataFrame, faults: list[Fault]) -> pd.DataFrame:
    """The games as the faulty feed gives them (variance and bias faults; others change none)."""
    import numpy as np

    games = games.copy()
    for fault in faults:
        after = games["game_date"] >= fault.day.isoformat()
        if fault.kind == "variance":
            d18 = games.loc[after, "d18"].to_numpy(dtype=float)
            scale = math.sqrt(fault.factor)
            before = games.loc[after, "d24"].to_numpy(dtype=float)
            for column in FUTURE:
                moved = d18 + scale * (games.loc[after, column].to_numpy(dtype=float) - d18)
                games.loc[after, column] = np.round(moved).astype("int64")
            shift = games.loc[after, "d24"].to_numpy(dtype=float) - before
            games.loc[after, "final_diff"] = (games.loc[after, "final_diff"].astype(float) + shift).round().astype(
                "Int64")
        elif fault.kind == "bias":
            theirs = after & ((games["home"] == fault.team) | (games["away"] == fault.team))
            games.loc[theirs, DIFFS] = -games.loc[theirs, DIFFS]
            games.loc[theirs, "final_diff"] = -games.loc[theirs, "final_diff"]
    return games


@lru_cache(maxsize=4096)
def _fires(expression: str, day: dt.date, zone: str) -> tuple[dt.datetime, ...]:
    return tuple(fire_times(expression, day, zone))


def last_fire(expression: str, before: dt.datetime, zone: str) -> dt.datetime | None:
    """The last time at or before ``before`` that the cron ``expression`` fires (62 days back at most)."""
    from zoneinfo import ZoneInfo

    day = before.astimezone(ZoneInfo(zone)).date()
    for back in range(63):
        times = [t for t in _fires(expression, day - dt.timedelta(days=back), zone) if t <= before]
        if times:
            return times[-1]
    return None


@dataclass(frozen=True)
class Check:
    """One simulated ``guard check`` of the replay."""

    at: dt.datetime
    firing: dict[str, dict[str, Any]]  # guardrail -> evidence
    action: str | None
    rolled_back: str | None


@dataclass
class SeasonFaults:
    """The season runner's hook: skips, injections, wrapper records and the daily guard check."""

    engine: Engine
    registry: Registry
    settings: Settings
    home: Path
    faults: list[Fault]
    seed: int = 0
    checks: list[Check] = field(default_factory=list)
    injected: dict[str, dt.datetime] = field(default_factory=dict)  # fault text -> when
    held: list[Any] = field(default_factory=list)  # results the stopped feed holds back

    @property
    def zone(self) -> str:
        return self.settings.league.timezone

    def _stop_start(self, job: str) -> dt.datetime | None:
        """When ``job`` stops running (the first stopping fault's day, 00:00), or None."""
        starts = [local_at(f.day, dt.time(0), self.zone) for f in self.faults
                  if (f.kind == "job-stop" and f.job == job) or (f.kind == "stale-model" and job in MODEL_JOBS)]
        return min(starts) if starts else None

    def _stopped(self, job: str, at: dt.datetime) -> bool:
        start = self._stop_start(job)
        return start is not None and at >= start

    def _feed_down(self, day: dt.date) -> bool:
        return any(f.kind == "outcomes-stop" and f.day <= day < f.day + dt.timedelta(days=f.days)
                   for f in self.faults)

    def play(self, season: Season, day: dt.date) -> None:
        """The season's ``day_step``: ``day`` played without the jobs the faults stop (and
        ``ingest``, the results feed, while it is down: its results are held back; a feed that
        comes back first delivers them), the guardrails checked after the early-morning jobs."""
        skip = {job.name for job in JOBS if self._stopped(job.name, local_at(day, dt.time(23, 59), self.zone))}
        if self._feed_down(day):
            skip.add("ingest")
            todays = season.by_day.get(day.isoformat())
            if todays is not None:
                self.held.append(todays)
        elif self.held:
            self._deliver(day)

        def after_jobs() -> None:
            season.timed("guard-check", lambda: self.after_jobs(season, day))

        play_day(season, day, skip=frozenset(skip), after_jobs=after_jobs)

    def _deliver(self, day: dt.date) -> None:
        import pandas as pd

        from nbalife.services.outcomes import sync
        from nbalife.store.engine import reachable
        from nbalife.store.events import record_event
        from nbalife.store.games import upsert_games

        at = local_at(day, dt.time(0, 5), self.zone)
        late = pd.concat(self.held, ignore_index=True)
        self.held = []
        with reachable(self.engine), self.engine.begin() as conn:
            counts = upsert_games(conn, late, at)
            record_event(conn, "ingest", "ok", at=at, details={"file": "replay: late results", "rows": len(late),
                                                               "inserted": counts.inserted, "updated": counts.updated,
                                                               "rejected": 0})
        if not self._stopped("outcomes", at):
            sync(self.engine, now=at, registry=self.registry)

    def after_jobs(self, season: Season, day: dt.date) -> None:
        """At each of ``GUARD_TIMES``: the wrapper records as the schedule left them and ``guard
        check --apply``; after the first, any model fault of the day."""
        for index, time_of_day in enumerate(GUARD_TIMES):
            at = local_at(day, time_of_day, self.zone)
            self._write_records(at)
            result = guard.check(self.engine, self.registry, self.settings, home=self.home, now=at, apply=True)
            self.checks.append(Check(at, {f.guardrail: f.evidence for f in result.firing}, result.action,
                                     None if result.rollback is None else result.rollback.from_version))
            season.note_production(at)
            if index == 0:
                for fault in self.faults:
                    if fault.kind == "bad-model" and fault.day == day:
                        self.injected[fault.text] = self._bad_model(local_at(day, INJECT_AT, self.zone))
                        season.note_production(self.injected[fault.text])

    def _write_records(self, at: dt.datetime) -> None:
        """Each job's wrapper record as of ``at``: its last scheduled run, ended at once with exit 0
        (a stopped job's last run before it stopped)."""
        for job in JOBS:
            stop = self._stop_start(job.name)
            last = last_fire(job.when, at if stop is None or stop > at else stop - dt.timedelta(seconds=1), self.zone)
            if last is not None:
                write_record(self.home, job.name, 0, last)

    def _bad_model(self, at: dt.datetime) -> dt.datetime:
        """Train on the stored games with shuffled targets, register on production, force-promote."""
        import numpy as np

        from nbalife.services.train import train
        from nbalife.store.engine import reachable
        from nbalife.store.games import read_games

        with reachable(self.engine), self.engine.connect() as conn:
            games = read_games(conn, until=at.date() - dt.timedelta(days=1))
        order = np.random.default_rng(self.seed).permutation(len(games))
        games[FUTURE] = games[FUTURE].to_numpy()[order]
        games["final_diff"] = games["final_diff"].to_numpy()[order]
        trained = train(games, settings=self.settings, now=at, registry=self.registry, engine=self.engine,
                        description="replay fault: trained on shuffled targets")
        self.registry.promote(trained.version, force=True, reason="replay fault: bad-model", at=at)
        return at


# ------------------------------------------------------------------ the rows


@dataclass(frozen=True)
class Damage:
    """The games between injection and recovery: the faulty run against the same games without the fault."""

    games: int
    mae: float | None
    coverage: float | None
    baseline_mae: float | None
    baseline_coverage: float | None


@dataclass(frozen=True)
class FaultRow:
    """One fault: when injected, when and by what caught, what was done, and what it cost."""

    fault: str
    kind: str
    injected_at: dt.datetime
    detected_at: dt.datetime | None
    detected_by: str | None
    games_to_detect: int | None
    days_to_detect: float | None
    action: str | None
    recovered_at: dt.datetime | None
    damage: Damage


@dataclass(frozen=True)
class FalseAlarm:
    """One guardrail alert episode (consecutive checks firing) in a replay without faults."""

    guardrail: str
    first_at: dt.datetime
    last_at: dt.datetime
    checks: int
    action: str | None
    detail: str


def injected_at(fault: Fault, hook: SeasonFaults, replayed: pd.DataFrame) -> dt.datetime:
    """When the fault first acts: the promotion, the first result held back, the first missed run,
    or the first game of D."""
    zone = hook.zone
    if fault.kind == "bad-model":
        return hook.injected.get(fault.text, local_at(fault.day, INJECT_AT, zone))
    if fault.kind == "outcomes-stop":
        first = next(d for d in replayed["game_date"] if d >= fault.day.isoformat())
        return local_at(dt.date.fromisoformat(first), RESULTS_AT, zone)
    if fault.kind in ("job-stop", "stale-model"):
        jobs = [fault.job] if fault.kind == "job-stop" else list(MODEL_JOBS)
        start = local_at(fault.day, dt.time(0), zone)
        firsts = []
        for job in (j for j in JOBS if j.name in jobs):
            for back in range(63):
                times = [t for t in _fires(job.when, fault.day + dt.timedelta(days=back), zone) if t >= start]
                if times:
                    firsts.append(times[0])
                    break
        return min(firsts)
    first = next(d for d in replayed["game_date"] if d >= fault.day.isoformat())
    return local_at(dt.date.fromisoformat(first), PREDICT_AT, zone)


def _caught(fault: Fault, check: Check) -> str | None:
    """The guardrail of ``check`` that caught ``fault``, if any."""
    firing = check.firing
    if fault.kind == "bad-model" and guard.WORSE in firing:
        return guard.WORSE
    if fault.kind == "outcomes-stop" and guard.STALE_RESULTS in firing:
        return guard.STALE_RESULTS
    if fault.kind in ("job-stop", "stale-model"):
        jobs = {fault.job} if fault.kind == "job-stop" else set(MODEL_JOBS)
        if jobs & set(firing.get(guard.STALE_JOBS, {}).get("stale", [])):
            return guard.STALE_JOBS
        if fault.job == "outcomes" and guard.STALE_RESULTS in firing:
            return guard.STALE_RESULTS
    if fault.kind == "bias" and fault.team in firing.get(guard.SWAP, {}).get("flagged", {}):
        return guard.SWAP
    return None


def fault_rows(faults: list[Fault], hook: SeasonFaults, actions: list[Any], replayed: pd.DataFrame,
               served: pd.DataFrame, baseline: pd.DataFrame | None) -> list[FaultRow]:
    """One row per fault (``served``: the faulty run's forecasts with its games' outcomes;
    ``baseline``: the same replay without faults, same columns)."""
    rows = []
    for fault in faults:
        start = injected_at(fault, hook, replayed)
        detected_at = detected_by = action = recovered = None
        for check in hook.checks:
            if check.at < start:
                continue
            by = _caught(fault, check)
            if by is not None:
                detected_at, detected_by = check.at, by
                action = "rollback" if check.rolled_back else "alert"
                recovered = check.at if check.rolled_back else None
                break
        if fault.kind == "variance":  # the season's own checks: a recalibration, a drift finding, a coverage alert
            later = [a for a in actions if a.at >= start and (
                a.job in ("conformal-check", "drift-check") or (a.job == "metrics-check" and "coverage" in a.detail))]
            if later:
                first = later[0]
                detected_at, detected_by = first.at, first.job
                action = "recalibration" if first.job == "conformal-check" and first.outcome == "applied" else "alert"
            applied = [a for a in actions if a.at >= start and a.job == "conformal-check" and a.outcome == "applied"]
            recovered = applied[0].at if applied else None
        if fault.kind == "outcomes-stop" and detected_at is not None:
            recovered = next((c.at for c in hook.checks if c.at > detected_at and guard.STALE_RESULTS not in
                              c.firing), None)
        rows.append(_row(fault, start, detected_at, detected_by, action, recovered, served, baseline, hook.zone))
    return rows


def _row(fault: Fault, start: dt.datetime, detected_at: dt.datetime | None, detected_by: str | None,
         action: str | None, recovered: dt.datetime | None, served: pd.DataFrame,
         baseline: pd.DataFrame | None, zone: str) -> FaultRow:
    import pandas as pd

    at = pd.to_datetime(served["game_date"]).map(lambda d: local_at(d.date(), PREDICT_AT, zone))
    mine = served[(at >= start) & ((at < recovered) if recovered is not None else True)]
    if fault.kind == "bias":
        mine = mine[(mine["home"] == fault.team) | (mine["away"] == fault.team)]
    games = None
    if detected_at is not None:
        before = mine[at.loc[mine.index] < detected_at]
        games = len(before)
    theirs = None if baseline is None else baseline[baseline["game_id"].isin(mine["game_id"])]
    damage = Damage(len(mine), *_figures(mine), *(_figures(theirs) if theirs is not None else (None, None)))
    days = None if detected_at is None else (detected_at - start).total_seconds() / 86400
    return FaultRow(fault.text, fault.kind, start, detected_at, detected_by, games, days, action, recovered, damage)


def _figures(frame: pd.DataFrame) -> tuple[float | None, float | None]:
    if frame is None or frame.empty:
        return None, None
    y = frame["d24"]
    return (float((y - frame["forecast"]).abs().mean()),
            float(((frame["lower"] <= y) & (y <= frame["upper"])).mean()))


def false_alarms(hook: SeasonFaults) -> list[FalseAlarm]:
    """Every guardrail alert episode and every action of a replay without faults (all false)."""
    alarms: list[FalseAlarm] = []
    open_: dict[str, list] = {}
    for check in hook.checks:
        for name in guard.GUARDRAILS:
            if name in check.firing:
                episode = open_.get(name)
                action = check.action if name == guard.WORSE and check.rolled_back else None
                if episode is None:
                    open_[name] = [check.at, check.at, 1, action, _said(check.firing[name])]
                else:
                    episode[1], episode[2] = check.at, episode[2] + 1
                    episode[3] = episode[3] or action
            elif name in open_:
                alarms.append(FalseAlarm(name, *open_.pop(name)))
    alarms.extend(FalseAlarm(name, *episode) for name, episode in open_.items())
    return sorted(alarms, key=lambda a: a.first_at)


def _said(evidence: dict[str, Any]) -> str:
    keys = ("against", "stale", "flagged", "games", "predictions")
    return ", ".join(f"{k} {evidence[k]}" for k in keys if k in evidence)[:200]


def served_with_outcomes(served: pd.DataFrame, games: pd.DataFrame) -> pd.DataFrame:
    """The runner's served rows with each game's teams and outcome (as the run's feed gave it)."""
    return served.merge(games[["game_id", "home", "away", "d18", "d24"]], on="game_id")


@dataclass(frozen=True)
class Baseline:
    """The same replay without faults: its served forecasts (with outcomes) and its false alarms."""

    served: pd.DataFrame
    false_alarms: list[FalseAlarm]


def fault_section(faults: list[Fault], hook: SeasonFaults, run: Any, replayed: pd.DataFrame,
                  baseline: Baseline | None) -> tuple[list[FaultRow], list[FalseAlarm] | None]:
    """The replay's ``faults`` rows (their damage against ``baseline``, the same window replayed
    without them), or without faults its ``false_alarms``."""
    if not faults:
        return [], false_alarms(hook)
    served = served_with_outcomes(run.served, perturb(replayed, faults))
    return fault_rows(faults, hook, run.actions, replayed, served, baseline.served), None
