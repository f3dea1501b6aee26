"""``nbalife guard check``: the guardrails that catch what a season throws at production, and act.

Each guardrail is one rule over what is already recorded (the prediction log, the games, the
registry, the cron wrapper's records); its state is ``ok``, ``firing`` or ``idle`` (nothing to
judge yet). A check records one ``guard_check`` lifecycle event with every guardrail's state and
evidence; a firing guardrail makes the command exit 1 (a finding, which notifies).

- ``worse-production``: production's absolute errors on the games it served since it became
  production, paired game by game with the previous production's (scored now, from the
  registry) and with persistence's (``d18``). Each comparison is an always-valid mSPRT
  (``abtest.sequential``) on ``|e_prod| - |e_other| - guard.margin`` over the games in order: it
  fires when the running always-valid p-value that production is worse by more than the margin
  falls below ``guard.alpha / 2`` (two comparisons). Checking every night does not inflate the
  false-alarm rate. With ``--apply`` and ``guard.action: rollback`` production goes back to the
  previous one through the registry (an ordinary rollback whose reason is the evidence).
- ``missing-predictions``: stored (played) games of the last ``monitoring.missing_days`` days,
  since production started, that no version serving in that time predicted.
- ``stale-results``: predictions unresolved ``monitoring.outcome_lag_hours`` after they were made.
- ``stale-jobs``: a scheduled job whose last completed run (the cron wrapper's record,
  ``ops.jobs``) is older than twice the longest gap between two of its scheduled runs. Jobs
  without any record are listed, not judged (a fresh installation).
- ``feed-swap``: a team whose last ``guard.swap_games`` results look home/away-swapped against
  its earlier ones (see ``swap_scores``).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from nbalife.config import Settings
from nbalife.errors import BadInput
from nbalife.ops.jobs import STALE_AFTER_PERIODS, JobRun, job_periods, last_runs
from nbalife.ops.jobs import stale_jobs as jobs_gone_stale
from nbalife.registry import Registry, Switch
from nbalife.store.engine import reachable
from nbalife.store.events import list_events, production_switches, record_event
from nbalife.store.predictions import SERVING_ARMS, games_without_prediction, unresolved_older_than

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

EVENT_KIND = "guard_check"
WORSE, MISSING, STALE_RESULTS, STALE_JOBS, SWAP = (
    "worse-production", "missing-predictions", "stale-results", "stale-jobs", "feed-swap")
GUARDRAILS = (WORSE, MISSING, STALE_RESULTS, STALE_JOBS, SWAP)
RULES = {
    WORSE: "production's paired MAE on the games since its promotion is worse than the previous production's "
           "or persistence's by more than guard.margin (always-valid mSPRT p < guard.alpha / 2)",
    MISSING: "a stored game of the last monitoring.missing_days days has no prediction of a serving version",
    STALE_RESULTS: "a prediction is unresolved monitoring.outcome_lag_hours after it was made",
    STALE_JOBS: "a scheduled job's last success is older than twice its period",
    SWAP: "a team's last guard.swap_games results are more likely home/away-swapped than as given, "
          "by a log-likelihood ratio above guard.swap_threshold",
}
SERVING_ARM = "A"  # production's own forecasts (in a split test B serves some games, not production)
SWAP_LOOKBACK_DAYS = 400
SWAP_LEVEL_SD = 4.0  # points of final margin a team's form may move within a season


@dataclass(frozen=True)
class Finding:
    """One guardrail's state at a check, the rule, what it found and its evidence."""

    guardrail: str
    state: str  # "ok", "firing" or "idle"
    rule: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GuardResult:
    """``guard check``: every guardrail's finding and what was done about them."""

    now: dt.datetime
    findings: list[Finding]
    action: str | None  # "rollback" (done), "alert", or None when nothing fired
    rollback: Switch | None
    outcome: str  # "ok" or "alert"
    message: str

    @property
    def firing(self) -> list[Finding]:
        return [f for f in self.findings if f.state == "firing"]


def check(engine: Engine, registry: Registry, settings: Settings, *, home: Path, now: dt.datetime,
          apply: bool = False, only: list[str] | None = None,
          runs: dict[str, JobRun] | None = None, prometheus: Path | None = None) -> GuardResult:
    """Run the guardrails (``only``: those named), record one ``guard_check`` event, and with
    ``apply`` act on a worse production as ``guard.action`` says. ``runs``: the cron wrapper's
    records, default read from ``home`` (``ops.jobs.last_runs``). ``prometheus``: also write the
    guardrails' series to that textfile."""
    if prometheus is not None:
        from nbalife.services.export import check_prom_path

        prometheus = check_prom_path(prometheus, create=True)  # as `metrics export`: a fresh home's folder is made
    names = list(GUARDRAILS) if not only else list(dict.fromkeys(only))
    for name in names:
        if name not in GUARDRAILS:
            raise BadInput(f"--only {name!r}: expected one of {', '.join(GUARDRAILS)}")
    rules = {WORSE: lambda: worse_production(engine, registry, settings, now=now),
            MISSING: lambda: missing_predictions(engine, settings, now=now),
            STALE_RESULTS: lambda: stale_results(engine, settings, now=now),
            STALE_JOBS: lambda: stale_jobs(last_runs(home) if runs is None else runs, now=now),
            SWAP: lambda: feed_swap(engine, settings, now=now)}
    findings = [rules[name]() for name in names]
    firing = [f for f in findings if f.state == "firing"]
    switch, action = None, None
    worse = next((f for f in firing if f.guardrail == WORSE), None)
    if firing:
        action = "alert"
    if worse is not None and apply and settings.guard.action == "rollback" and worse.evidence.get("previous"):
        from nbalife.services.registry import rollback

        # an ordinary rollback (to a version that served), its reason the evidence; the
        # guard_check event below keeps every figure
        switch = rollback(registry, worse.evidence["previous"], now=now, reason=f"guard: {worse.message}")
        action = "rollback"
    message = "; ".join(f"{f.guardrail}: {f.message}" for f in firing) or "every guardrail ok"
    if switch is not None:
        message = f"rolled back {switch.from_version} -> {switch.to_version}; {message}"
    outcome = "alert" if firing else "ok"
    with reachable(engine), engine.begin() as conn:
        record_event(conn, EVENT_KIND, action or outcome, at=now,
                     version=switch.to_version if switch else registry.current_version(),
                     details={"applied": apply, "action": action, "guardrails": {
                         f.guardrail: {"state": f.state, "message": f.message, "evidence": f.evidence}
                         for f in findings}})
    if prometheus is not None:
        from nbalife.ops.guard_series import write_guard_textfile

        write_guard_textfile(prometheus, findings, now.timestamp())
    return GuardResult(now, findings, action, switch, outcome, message)


# ------------------------------------------------------------------ production worse


def _served_since(engine: Engine, version: str) -> dt.datetime | None:
    with reachable(engine), engine.connect() as conn:
        switches = production_switches(conn)
    return next((e.at for e in reversed(switches) if e.version == version), None)


def worse_production(engine: Engine, registry: Registry, settings: Settings, *, now: dt.datetime) -> Finding:
    """Production against the previous production and persistence on the games since its promotion."""
    import numpy as np

    from nbalife.store.predictions import latest_resolved

    guard = settings.guard
    production = registry.current_version()
    if production is None:
        return Finding(WORSE, "idle", RULES[WORSE], "no production version")
    since = _served_since(engine, production)
    if since is None:
        return Finding(WORSE, "idle", RULES[WORSE], f"no promotion of {production} recorded")
    with reachable(engine), engine.connect() as conn:
        rows = [r for r in latest_resolved(conn, since=since, until=now, version=production, arm=SERVING_ARM)
                if r.d18 is not None]
    previous = registry.previous_version()
    evidence: dict[str, Any] = {"production": production, "since": since.isoformat(), "games": len(rows),
                                "previous": previous}
    if len(rows) < guard.min_games:
        return Finding(WORSE, "idle", RULES[WORSE], f"{len(rows)} resolved games of {production} since "
                       f"{since:%Y-%m-%d %H:%M} (judged from {guard.min_games})", evidence)
    actual = np.array([r.actual for r in rows])
    mine = np.abs(actual - np.array([r.forecast for r in rows]))
    others = {"persistence": np.abs(actual - np.array([r.d18 for r in rows]))}
    if previous is not None:
        others["previous"] = np.abs(actual - _score_previous(engine, registry, previous, rows))
    worst = None
    for name, theirs in others.items():
        test = paired_worse(mine - theirs - guard.margin, tau=guard.tau, min_games=guard.min_games)
        evidence[f"vs_{name}"] = {"mae": float(theirs.mean()), "p_worse": test.p_value, "excess": test.mean,
                                  "n": test.n}
        if test.p_value < guard.alpha / len(others) and (worst is None or test.p_value < worst[1]):
            worst = (name, test.p_value)
    evidence["mae"] = float(mine.mean())
    said = (f"{production} MAE {mine.mean():.3f} on {len(rows)} games since {since:%Y-%m-%d}: "
            + ", ".join(f"{name} {evidence['vs_' + name]['mae']:.3f} (p {evidence['vs_' + name]['p_worse']:.2g})"
                        for name in others))
    if worst is None:
        return Finding(WORSE, "ok", RULES[WORSE], said, evidence)
    against = f"previous production {previous}" if worst[0] == "previous" else "persistence"
    return Finding(WORSE, "firing", RULES[WORSE], f"worse than {against} by more than {guard.margin:g}: {said}",
                   {**evidence, "against": worst[0]})


@dataclass(frozen=True)
class PairedTest:
    """The always-valid p-value that the paired differences' mean is above 0, and that mean."""

    n: int
    mean: float
    p_value: float


def paired_worse(excess: np.ndarray, *, tau: float, min_games: int) -> PairedTest:
    """mSPRT over the looks after each game (from ``min_games`` on) of the hypothesis that the
    mean of ``excess`` (production's absolute error minus the other's, minus the margin) is 0,
    against it being positive; the running minimum p-value is always valid (``directional_p_paths``)."""
    import numpy as np

    from nbalife.abtest.sequential import directional_p_paths

    excess = np.asarray(excess, dtype=float)
    n = np.arange(1, len(excess) + 1)
    mean = np.cumsum(excess) / n
    square = np.cumsum(excess**2) / n
    variance = np.where(n > 1, (square - mean**2) * n / np.maximum(n - 1, 1), np.nan) / n
    variance[: max(min_games, 2) - 1] = np.nan
    # directional paths take an improvement (positive: better); production worse is negative
    _, worse = directional_p_paths(-mean, variance, tau)
    return PairedTest(len(excess), float(mean[-1]) if len(excess) else math.nan,
                      float(worse[-1]) if len(excess) else 1.0)


def _score_previous(engine: Engine, registry: Registry, previous: str, rows: list) -> np.ndarray:
    """The previous production's forecasts of ``rows``' games, as production serves a game
    (``services.forecasting``: each with its teams' strength from the store before its date)."""
    import numpy as np

    from nbalife.interchange import PATTERN_COLUMNS
    from nbalife.services.forecasting import forecast_games
    from nbalife.services.matchups import with_store
    from nbalife.services.model_loading import load_model_set
    from nbalife.store.games import read_games

    ids = [r.game_id for r in rows]
    with reachable(engine), engine.connect() as conn:
        games = read_games(conn, game_ids=ids)
    games = games.set_index("game_id").loc[ids].reset_index()
    loaded = load_model_set(registry, previous)
    patterns = games[PATTERN_COLUMNS].to_numpy(dtype=np.float32)
    forecasts, _ = forecast_games(loaded.models, patterns, with_store(engine, games, loaded.models))
    return np.asarray(forecasts.forecast, dtype=float)


# ------------------------------------------------------------------ missing predictions, stale results


def missing_predictions(engine: Engine, settings: Settings, *, now: dt.datetime) -> Finding:
    """Stored games of the window no version serving in it predicted."""
    zone = settings.league.timezone
    with reachable(engine), engine.connect() as conn:
        switches = production_switches(conn)
        if not switches:
            return Finding(MISSING, "idle", RULES[MISSING], "no production has served yet")
        start = now - dt.timedelta(days=settings.monitoring.missing_days)
        started = max(start, switches[0].at)
        serving = {e.version for e in switches if e.at >= started} | {
            next((e.version for e in reversed(switches) if e.at < started), switches[0].version)}
        versions = sorted(v for v in serving if v)
        missing = games_without_prediction(conn, since=_league_day(started, zone), until=_league_day(now, zone),
                                           versions=tuple(versions))
    evidence = {"since": started.isoformat(), "versions": versions, "games": len(missing), "first": missing[:5]}
    if not missing:
        return Finding(MISSING, "ok", RULES[MISSING], f"every stored game since {started:%Y-%m-%d} was predicted",
                       evidence)
    return Finding(MISSING, "firing", RULES[MISSING], f"{len(missing)} played games without a prediction of "
                   f"{', '.join(versions)}, first {missing[0]}", evidence)


def _league_day(moment: dt.datetime, zone: str) -> dt.date:
    """The league's calendar day (``league.timezone``) of ``moment``."""
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo(zone)).date()


def stale_results(engine: Engine, settings: Settings, *, now: dt.datetime) -> Finding:
    """Served predictions still without their outcome ``monitoring.outcome_lag_hours`` after they
    were made (those of the last ``outcome_lag_hours + 24 * missing_days`` hours, as ``metrics
    check`` counts them)."""
    monitoring = settings.monitoring
    lag = monitoring.outcome_lag_hours
    since = now - dt.timedelta(hours=lag + 24 * monitoring.missing_days)
    with reachable(engine), engine.connect() as conn:
        games = unresolved_older_than(conn, now - dt.timedelta(hours=lag), since=since, arms=SERVING_ARMS)
    evidence = {"lag_hours": lag, "since": since.isoformat(), "games": len(games), "first": games[:5]}
    if not games:
        return Finding(STALE_RESULTS, "ok", RULES[STALE_RESULTS], f"no served prediction older than {lag:g} h "
                       "unresolved", evidence)
    return Finding(STALE_RESULTS, "firing", RULES[STALE_RESULTS], f"{len(games)} games' predictions unresolved "
                   f"after {lag:g} h, first {games[0]}", evidence)


# ------------------------------------------------------------------ stale jobs


def stale_jobs(runs: dict[str, JobRun], *, now: dt.datetime) -> Finding:
    """Jobs whose last completed run is older than twice their period (``ops.jobs``); jobs the
    wrapper never recorded are listed, not judged (a fresh installation)."""
    periods = job_periods()
    stale = jobs_gone_stale(runs, now)
    unknown = [name for name in periods if name not in runs]
    ages = {}
    for name, run in runs.items():
        if name not in periods:
            continue
        ages[name] = {"last_success": None if run.last_success is None else run.last_success.isoformat(),
                      "age_hours": None if run.last_success is None
                      else round((now - run.last_success).total_seconds() / 3600, 2),
                      "limit_hours": round(STALE_AFTER_PERIODS * periods[name].total_seconds() / 3600, 2)}
    evidence = {"stale": stale, "no_record": unknown, "jobs": ages}
    if not ages:
        return Finding(STALE_JOBS, "idle", RULES[STALE_JOBS], "no cron record of any job (not installed?)", evidence)
    if not stale:
        return Finding(STALE_JOBS, "ok", RULES[STALE_JOBS], f"{len(ages)} jobs ran within twice their period"
                       + (f"; no record of {', '.join(unknown)}" if unknown else ""), evidence)

    def said(name: str) -> str:
        age = ages[name]["age_hours"]
        last = "never completed" if age is None else f"last success {age:g} h ago"
        return f"{name} ({last}, limit {ages[name]['limit_hours']:g} h)"

    return Finding(STALE_JOBS, "firing", RULES[STALE_JOBS], f"stale: {', '.join(said(n) for n in stale)}", evidence)


# ------------------------------------------------------------------ feed swap


@dataclass(frozen=True)
class SwapScore:
    """One team's evidence that its last games are home/away-swapped."""

    team: str
    games: int
    llr: float  # log-likelihood ratio, swapped against as given
    last_date: str


def swap_scores(results: pd.DataFrame, *, recent: int, history: int) -> list[SwapScore]:
    """Per team with at least ``history`` earlier results: the log-likelihood ratio that its last
    ``recent`` results (final margin, else the halftime one) are sign-swapped.

    Each team's strength is its mean home-adjusted margin (its own point of view) over its
    earlier results; the league's home advantage and the residual variance come from every
    result but the tested ones. A game of team T against O, with T's sign ``s`` (+1 home), is
    expected at ``e = s (r_T - r_O) + h`` (home minus away). Under "as given" the margin ``y`` is
    ``e + noise``; under "swapped" it is ``-e + noise``; with normal noise of variance ``σ²`` the
    ratio is ``Σ -2 y e / σ²``. A team whose expected margins are near 0 (an average team) cannot
    be told apart: the ratio grows with ``e²``.
    """
    import numpy as np

    frame = results.sort_values(["game_date", "game_id"], kind="stable").reset_index(drop=True)
    margin = frame["final_diff"].astype(float).to_numpy()
    if "d24" in frame:
        margin = np.where(np.isfinite(margin), margin, frame["d24"].astype(float).to_numpy())
    homes, aways = frame["home"].to_numpy(dtype=str), frame["away"].to_numpy(dtype=str)
    scores = []
    for team in sorted(set(homes) | set(aways)):
        mine = np.flatnonzero((homes == team) | (aways == team))
        if len(mine) < recent + history:
            continue
        tested = mine[-recent:]
        rest = np.ones(len(frame), dtype=bool)
        rest[tested] = False
        h = float(margin[rest].mean())
        strength = _strengths(homes, aways, margin, rest, h)
        residual = margin[rest] - (np.array([strength.get(t, 0.0) for t in homes[rest]])
                                   - np.array([strength.get(t, 0.0) for t in aways[rest]]) + h)
        variance = float(residual.var()) or 1.0
        sign = np.where(homes[tested] == team, 1.0, -1.0)
        opponent = np.where(homes[tested] == team, aways[tested], homes[tested])
        z = sign * margin[tested]  # the team's own point of view
        x = sign * h - np.array([strength.get(o, 0.0) for o in opponent])
        llr = _swap_llr(z, x, strength[team], variance)
        scores.append(SwapScore(team, len(tested), llr, str(frame["game_date"].iloc[tested[-1]])))
    return scores


def _swap_llr(z: np.ndarray, x: np.ndarray, level: float, variance: float) -> float:
    """Log-likelihood ratio of "swapped" (``z = -(a + x)``) against "as given" (``z = a + x``).

    Two parts. The pattern: with the team's level ``a`` free, a swapped feed makes the team do
    better against stronger opponents and worse at home, ``-2 Σ (z - z̄)(x - x̄) / σ²``, which
    no change of form produces. The level: its mean should stay near ``level`` (its history), as
    given ``mean(z - x) ~ N(level, V)``, swapped ``mean(z + x) ~ N(-level, V)``, with ``V = σ²/n +
    SWAP_LEVEL_SD²`` allowing a team's form to move by about that much in a season.
    """
    import numpy as np

    n = len(z)
    pattern = float(-2.0 * ((z - z.mean()) * (x - x.mean())).sum() / variance)
    spread = variance / n + SWAP_LEVEL_SD**2
    given, swapped = float(np.mean(z - x)), float(np.mean(-z - x))
    return pattern + ((given - level) ** 2 - (swapped - level) ** 2) / (2 * spread)


def _strengths(homes: np.ndarray, aways: np.ndarray, margin: np.ndarray, rows: np.ndarray, h: float
               ) -> dict[str, float]:
    import numpy as np

    found = {}
    for team in set(homes[rows]) | set(aways[rows]):
        theirs = np.flatnonzero(rows & ((homes == team) | (aways == team)))
        found[team] = float((np.where(homes[theirs] == team, 1.0, -1.0) * (margin[theirs] - h)).mean())
    return found


def feed_swap(engine: Engine, settings: Settings, *, now: dt.datetime) -> Finding:
    """Teams whose recent results look home/away-swapped (``swap_scores`` above ``guard.swap_threshold``)."""
    from nbalife.store.games import read_games

    guard = settings.guard
    with reachable(engine), engine.connect() as conn:
        today = _league_day(now, settings.league.timezone)
        results = read_games(conn, since=today - dt.timedelta(days=SWAP_LOOKBACK_DAYS), until=today)
    scores = swap_scores(results, recent=guard.swap_games, history=guard.swap_history_games)
    flagged = sorted((s for s in scores if s.llr > guard.swap_threshold), key=lambda s: -s.llr)
    evidence = {"teams": len(scores), "flagged": {s.team: round(s.llr, 2) for s in flagged},
                "max": None if not scores else max(scores, key=lambda s: s.llr).team}
    if not scores:
        return Finding(SWAP, "idle", RULES[SWAP], f"no team has {guard.swap_games + guard.swap_history_games} "
                       "stored results yet", evidence)
    if not flagged:
        top = max(scores, key=lambda s: s.llr)
        return Finding(SWAP, "ok", RULES[SWAP], f"{len(scores)} teams judged; highest {top.team} at "
                       f"{top.llr:.2f} (limit {guard.swap_threshold:g})", evidence)
    said = ", ".join(f"{s.team} (log-LR {s.llr:.1f} over its last {s.games} games)" for s in flagged)
    return Finding(SWAP, "firing", RULES[SWAP], f"home/away signs look swapped for {said}", evidence)


# ------------------------------------------------------------------ status


@dataclass(frozen=True)
class GuardrailState:
    """One guardrail as the last ``guard check`` left it."""

    guardrail: str
    state: str
    message: str
    at: dt.datetime | None


def guardrail_states(engine: Engine) -> list[GuardrailState]:
    """Each guardrail's state at the last ``guard check`` that judged it ("never checked" otherwise)."""
    with reachable(engine), engine.connect() as conn:
        events = list_events(conn, kind=EVENT_KIND, limit=50)
    found: dict[str, GuardrailState] = {}
    for event in events:  # newest first
        for name, body in event.details.get("guardrails", {}).items():
            found.setdefault(name, GuardrailState(name, body.get("state", "?"), body.get("message", ""), event.at))
    return [found.get(name, GuardrailState(name, "never checked", "", None)) for name in GUARDRAILS]
