"""A/B tests with gradual rollout: start, status, advance, stop, history. Which arm forecasts a
game is ``services.forecasting.route``, beside the forecasts it routes.

Split mode: B serves a share of games (by a hash of test id and game id) that climbs the
configured stages; the step past the last stage is the promotion. Shadow mode: A serves every
game and B is logged beside it as arm ``shadow``; one stage, then promotion. At any stage a
significantly worse B ends the test (rolled back: all traffic is A's again).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from nbalife.abtest.analysis import Analysis, ArmGames, analyse_shadow, analyse_split
from nbalife.abtest.decision import PROMOTE, ROLLBACK, Rule
from nbalife.config import Settings
from nbalife.errors import BadInput
from nbalife.locks import run_lock
from nbalife.store import abtests
from nbalife.store.abtests import AbTest
from nbalife.store.engine import reachable
from nbalife.store.events import record_event
from nbalife.store.predictions import ResolvedPrediction, latest_resolved

if TYPE_CHECKING:
    import numpy as np

    from nbalife.registry import Pending, Registry
    from nbalife.services.registry import CarriedOut

MODES = ("split", "shadow")
LOCK = "abtest"
ADVANCE = "abtest_advance"  # the kind of a deferred advance in the registry's pending list


@dataclass(frozen=True)
class Stage:
    """Where the test stands in its current stage against the stage's minimums."""

    index: int
    stages: int
    share: float
    next_share: float | None  # None: the next step is the promotion
    games: int
    hours: float
    min_games: int
    min_hours: float
    ready: bool  # both minimums met

    def waiting_for(self) -> str:
        return (f"stage {self.index + 1}/{self.stages} has {self.games}/{self.min_games} resolved games "
                f"and {self.hours:.1f}/{self.min_hours:g} hours")


@dataclass(frozen=True)
class Report:
    """``abtest status``: the running test, its stage and its statistics."""

    test: AbTest
    stage: Stage
    analysis: Analysis


@dataclass(frozen=True)
class Advance:
    """What ``abtest advance`` did: ``waiting``, ``advanced``, ``promoted``, ``rolled_back``,
    ``deferred`` (the live-game freeze: recorded as ``pending``, carried out after it, and
    ``reason`` says until when), or ``idle`` (no test running, with ``if_running``). ``carried``
    lists what the freeze had deferred and this call carried out first."""

    action: str
    reason: str
    test: AbTest | None
    report: Report | None
    pending: Pending | None = None
    carried: tuple[CarriedOut, ...] = ()


def rollout_shares(mode: str, traffic: float, stages: tuple[int, ...]) -> tuple[float, ...]:
    """B's serving share per stage: ``traffic``, then the configured stages above it (below 100%:
    reaching 100% is the promotion). Shadow mode has one stage where B serves nothing."""
    if mode == "shadow":
        return (0.0,)
    return (traffic, *(s / 100 for s in stages if traffic < s / 100 < 1))


def start(engine: Engine, registry: Registry, settings: Settings, home: Path, *, candidate: str, mode: str,
          traffic: float, min_improvement: float | None, now: dt.datetime) -> AbTest:
    """Start a test of ``candidate`` (B) against production (A)."""
    if mode not in MODES:
        raise BadInput(f"--mode {mode!r}: expected one of {', '.join(MODES)}")
    if not 0 < traffic <= 1:
        raise BadInput(f"--traffic {traffic:g}: must be in (0, 1]")
    min_improvement = settings.abtest.min_improvement if min_improvement is None else min_improvement
    if not 0 < min_improvement < 100:
        raise BadInput(f"--min-improvement {min_improvement:g}: must be in (0, 100) points")
    champion = registry.current_version()
    if champion is None:
        raise BadInput("no production version to test against (promote one first)")
    verified = registry.verify(candidate)  # BadInput when it is not registered
    if not verified.ok:
        problem = verified.problems[0]
        raise BadInput(f"--candidate {candidate}: failed verification: {problem.name}: {problem.describe()}")
    if candidate == champion:
        raise BadInput(f"--candidate {candidate}: is production already")
    shares = rollout_shares(mode, traffic, settings.abtest.stages)
    test_id = f"ab-{now.astimezone(dt.timezone.utc):%Y%m%dT%H%M%SZ}-{candidate}"
    with run_lock(LOCK, home=home, engine=engine), reachable(engine), engine.begin() as conn:
        test = abtests.insert_test(conn, test_id=test_id, champion=champion, candidate=candidate, mode=mode,
                                   shares=shares, min_improvement=min_improvement, now=now)
        record_event(conn, "abtest_start", "ok", at=now, version=candidate,
                     details={"test": test_id, "champion": champion, "mode": mode, "shares": list(shares),
                              "min_improvement": min_improvement})
    return test


def _running(engine: Engine) -> AbTest | None:
    with reachable(engine), engine.connect() as conn:
        return abtests.running_test(conn)


def _arm(rows: list[ResolvedPrediction]) -> ArmGames:
    import numpy as np

    actual = np.array([r.actual for r in rows], dtype=float)
    lower, upper = np.array([r.lower for r in rows], float), np.array([r.upper for r in rows], float)
    d18 = np.array([np.nan if r.d18 is None else r.d18 for r in rows], dtype=float)
    persistence = np.abs(actual - d18)
    known = np.isfinite(persistence)
    # A game whose d18 is unknown gets the mean persistence error: no adjustment for it.
    persistence[~known] = persistence[known].mean() if known.any() else 0.0
    return ArmGames(np.abs(np.array([r.error for r in rows], float)), (lower <= actual) & (actual <= upper),
                    upper - lower, persistence)


@dataclass(frozen=True)
class ResolvedGames:
    """A test's resolved games (the latest row per game and arm), in the order they resolved:
    shadow mode pairs A and B game by game; split mode interleaves them as ``is_b`` says."""

    a: list[ResolvedPrediction]
    b: list[ResolvedPrediction]
    is_b: np.ndarray | None  # split mode only
    counted: list[ResolvedPrediction]  # the games that count towards the stage minimums


def resolved_games(engine: Engine, test: AbTest) -> ResolvedGames:
    """The resolved games of ``test`` that its statistics use."""
    import numpy as np

    with reachable(engine), engine.connect() as conn:
        rows = latest_resolved(conn, since=test.started_at, until=test.ended_at)
    b_arm = "shadow" if test.mode == "shadow" else "B"
    a = [r for r in rows if r.arm == "A" and r.version == test.champion]
    b = [r for r in rows if r.arm == b_arm and r.version == test.candidate]
    if test.mode == "shadow":
        by_game = {r.game_id: r for r in b}
        a = [r for r in a if r.game_id in by_game]
        return ResolvedGames(a, [by_game[r.game_id] for r in a], None, a)
    ordered = [r for r in rows if (r.arm, r.version) in {("A", test.champion), ("B", test.candidate)}]
    return ResolvedGames(a, b, np.array([r.arm == "B" for r in ordered], dtype=bool), ordered)


def report(engine: Engine, settings: Settings, test: AbTest, *, now: dt.datetime) -> Report:
    """The statistics of ``test`` over its resolved games (the latest row per game and arm)."""
    games = resolved_games(engine, test)
    rule = Rule(settings.abtest.p_value, test.min_improvement, settings.abtest.min_coverage)
    if games.is_b is None:
        analysis = analyse_shadow(_arm(games.a), _arm(games.b), rule)
    else:
        analysis = analyse_split(_arm(games.a), _arm(games.b), games.is_b, rule)
    in_stage = sum(r.created_at >= test.stage_started_at for r in games.counted)
    last = test.stage + 1 >= len(test.shares)
    hours = (now - test.stage_started_at).total_seconds() / 3600
    minimums = settings.abtest.min_games_per_stage, settings.abtest.min_stage_hours
    stage = Stage(test.stage, len(test.shares), test.traffic, None if last else test.shares[test.stage + 1],
                  in_stage, hours, *minimums, in_stage >= minimums[0] and hours >= minimums[1])
    return Report(test, stage, analysis)


@dataclass(frozen=True)
class SequentialPath:
    """The sequential test after every resolved game of a test (game 1 first): the improvement
    estimate MAE(A) - MAE(B) and the always-valid p-values that B is better and that B is worse."""

    estimate: list[float]
    p_better: list[float]
    p_worse: list[float]
    tau: float


def sequential_path(engine: Engine, test: AbTest) -> SequentialPath:
    """The path of ``test``'s sequential test over its games; its last look is ``report``'s."""
    from nbalife.abtest.analysis import sequential_looks

    games = resolved_games(engine, test)
    estimate, better, worse = sequential_looks(_arm(games.a), _arm(games.b), games.is_b, test.min_improvement)
    return SequentialPath(estimate.tolist(), better.tolist(), worse.tolist(), test.min_improvement)


def status(engine: Engine, settings: Settings, *, now: dt.datetime) -> Report | None:
    """The running test's report, or None when no test runs."""
    test = _running(engine)
    return None if test is None else report(engine, settings, test, now=now)


def _require_running(engine: Engine, command: str) -> AbTest:
    test = _running(engine)
    if test is None:
        raise BadInput(f"abtest {command}: no A/B test is running (start one with `nbalife abtest start`)")
    return test


def _end(engine: Engine, test: AbTest, status: str, reason: str, kind: str, outcome: str, *,
         now: dt.datetime, details: dict | None = None) -> AbTest:
    """End ``test`` and record its event in one transaction."""
    with reachable(engine), engine.begin() as conn:
        if not abtests.end_test(conn, test, status, reason, now=now):
            raise BadInput(f"A/B test {test.test_id} has already ended")
        record_event(conn, kind, outcome, at=now, version=test.candidate,
                     details={"test": test.test_id, "status": status, "reason": reason, **(details or {})})
        return abtests.find_test(conn, test.id)


def advance(engine: Engine, registry: Registry, settings: Settings, home: Path, *, now: dt.datetime,
            if_running: bool = False, force: bool = False) -> Advance:
    """One rollout step (cron): roll back a significantly worse B; else, once the stage has its
    minimum games and hours, move to the next stage, or promote B when the rule says so.

    No running test is bad input, unless ``if_running`` (the cron line): then nothing to do.
    Inside the live-game freeze only a rollback happens; a step that would move on is recorded
    as pending in the registry (once per test) unless ``force``. Once no freeze is on, what the
    freeze deferred (advances and promotions) is carried out first, re-gated."""
    carried = carry_out_deferred(engine, registry, settings, now=now)
    return replace(_advance(engine, registry, settings, home, now=now, if_running=if_running, force=force),
                   carried=tuple(carried))


def carry_out_deferred(engine: Engine, registry: Registry, settings: Settings, *,
                       now: dt.datetime) -> list[CarriedOut]:
    """Every promotion and A/B advance the freeze deferred, oldest first, once no freeze is on
    (``services.registry.carry_out_pending`` with this service's rollout step for the advances)."""
    from nbalife.services.registry import carry_out_pending

    return carry_out_pending(registry, engine, settings, now=now,
                             advance=lambda entry: carry_out(engine, registry, settings, entry, now=now))


def carry_out(engine: Engine, registry: Registry, settings: Settings, entry: Pending, *,
              now: dt.datetime) -> tuple[bool, str]:
    """Carry out the advance ``entry`` the freeze deferred: the rollout step is judged again on
    today's evidence (it may wait, move on, promote or roll back). Returns (whether B still stands,
    what happened); the entry is closed either way, ``refused`` when its test no longer runs."""
    running = _running(engine)
    if running is None or running.candidate != entry.version:
        why = f"the A/B test of {entry.version} is no longer running"
        _settle(registry, entry, "refused", why, now)
        return False, why
    step = _advance(engine, registry, settings, registry.home, now=now, if_running=True, force=entry.force)
    outcome = f"{step.action}: {step.reason}"
    _settle(registry, entry, "done" if step.action != "rolled_back" else "refused", outcome, now)
    return step.action != "rolled_back", outcome


def _settle(registry: Registry, entry: Pending, state: str, outcome: str, now: dt.datetime) -> None:
    try:
        registry.settle(entry.id, state, outcome, at=now, kind=ADVANCE)
    except BadInput:
        pass  # settled meanwhile: by another host, or by the promotion the step made


def _defer(registry: Registry, settings: Settings, test: AbTest, would: str, *, now: dt.datetime) -> Pending:
    """The pending advance of ``test``: the one already waiting, else a new one until the freeze ends."""
    from nbalife.services.registry import freeze_end

    waiting = next((p for p in registry.pending() if p.action == ADVANCE and p.version == test.candidate), None)
    if waiting is not None:
        return waiting
    return registry.defer(test.candidate, not_before=freeze_end(settings, now), at=now, action=ADVANCE,
                          reason=f"A/B test {test.test_id}: {would}")


def _advance(engine: Engine, registry: Registry, settings: Settings, home: Path, *, now: dt.datetime,
             if_running: bool, force: bool) -> Advance:
    from nbalife.services.registry import active_freeze, deferred_line, freeze_zone, promote

    with run_lock(LOCK, home=home, engine=engine):
        if if_running and _running(engine) is None:
            return Advance("idle", "no A/B test is running", None, None)
        test = _require_running(engine, "advance")
        if registry.current_version() == test.candidate:  # an earlier advance promoted, then stopped
            reason = "B is production already (a previous advance promoted it)"
            return Advance("promoted", reason, _end(engine, test, "promoted", reason, "abtest_advance", "ok",
                                                    now=now), None)
        current = report(engine, settings, test, now=now)
        decision = current.analysis.decision
        summary = {"stage": test.stage, "share": test.traffic, "decision": decision.action}
        if decision.action == ROLLBACK:
            ended = _end(engine, test, "rolled_back", decision.reason, "abtest_rollback", "failed", now=now,
                         details=summary)
            return Advance("rolled_back", decision.reason, ended, current)
        if not current.stage.ready or (current.stage.next_share is None and decision.action != PROMOTE):
            reason = (current.stage.waiting_for() if not current.stage.ready
                      else f"stays at the last stage: {decision.reason}")
            with reachable(engine), engine.begin() as conn:
                record_event(conn, "abtest_advance", "waiting", at=now, version=test.candidate,
                             details={"test": test.test_id, "reason": reason, **summary})
            return Advance("waiting", reason, test, current)
        frozen = None if force else active_freeze(settings, now)
        if frozen:
            would = (f"promote {test.candidate}" if current.stage.next_share is None
                     else f"B's share {test.traffic:.0%} -> {current.stage.next_share:.0%}")
            entry = _defer(registry, settings, test, would, now=now)
            return Advance("deferred", deferred_line(entry, freeze_zone(settings)), test, current, entry)
        if current.stage.next_share is None:
            promote(registry, engine, settings, test.candidate, now=now, force=True, override_freeze=True,
                    reason=f"A/B test {test.test_id}: {decision.reason}")
            ended = _end(engine, test, "promoted", decision.reason, "abtest_advance", "promoted", now=now,
                         details=summary)
            return Advance("promoted", decision.reason, ended, current)
        reason = f"B's share {test.traffic:.0%} -> {current.stage.next_share:.0%} ({decision.reason})"
        with reachable(engine), engine.begin() as conn:
            if not abtests.move_stage(conn, test, test.stage + 1, now=now):
                raise BadInput(f"A/B test {test.test_id} changed during advance; run it again")
            record_event(conn, "abtest_advance", "ok", at=now, version=test.candidate,
                         details={"test": test.test_id, "reason": reason, "to_stage": test.stage + 1, **summary})
            moved = abtests.running_test(conn)
        return Advance("advanced", reason, moved, current)


def stop(engine: Engine, home: Path, *, reason: str, now: dt.datetime) -> AbTest:
    """End the running test without promoting: all traffic goes back to A."""
    with run_lock(LOCK, home=home, engine=engine):
        test = _require_running(engine, "stop")
        return _end(engine, test, "stopped", reason or "stopped by the operator", "abtest_stop", "ok", now=now)


def history(engine: Engine) -> list[AbTest]:
    """Every test, newest first."""
    with reachable(engine), engine.connect() as conn:
        return abtests.list_tests(conn)
